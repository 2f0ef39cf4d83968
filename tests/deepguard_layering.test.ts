/**
 * Inference does not depend on training: the module graph (`deno info --json`) of everything that
 * only generates, scores or serves — lib/deepguard, lib/pipeline, lib/serve, and the generate /
 * eval / score / serve tasks — holds no module of lib/train.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function entries(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of ["lib/deepguard", "lib/pipeline", "lib/serve"]) {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
    }
  }
  for (const t of ["generate", "eval", "score", "serve"]) out.push(`tasks/${t}.ts`);
  return out.sort();
}

/** Every local module reachable from `entry` (relative to the repository root). */
async function graph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules
    .map((m) => m.specifier)
    .filter((s) => s.startsWith(root.href))
    .map((s) => s.slice(root.href.length));
}

Deno.test("layering: nothing that only generates, scores or serves imports lib/train", async () => {
  const files = await entries();
  for (const f of ["lib/deepguard/mod.ts", "lib/pipeline/generator.ts", "lib/serve/mod.ts"]) {
    assert.ok(files.includes(f), `${f} is checked`);
  }
  for (const f of files) {
    const mods = await graph(f);
    assert.ok(mods.includes(f), `${f} is in its own graph`);
    const train = mods.filter((m) => m.startsWith("lib/train/"));
    assert.deepEqual(train, [], `${f} reaches lib/train`);
  }
});

Deno.test("layering: the check sees an import of lib/train (the test can fail)", async () => {
  const mods = await graph("lib/train/mod.ts");
  assert.ok(mods.some((m) => m.startsWith("lib/train/")));
  assert.ok(mods.includes("lib/deepguard/mod.ts"), "training is a client of lib/deepguard");
});
