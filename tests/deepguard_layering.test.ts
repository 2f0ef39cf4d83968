/**
 * Inference does not depend on training: the module graph (`deno info --json`) of everything that
 * only generates, scores or serves — lib/deepguard, lib/pipeline, lib/serve, and the generate /
 * eval / score / serve tasks — holds no module of lib/train. And the judges (lib/eval) load
 * neither the model, the libtorch bindings nor an npm package: scoring runs as another user
 * (rootless mode) with an empty Deno cache, and type-checking an npm import would need the network.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** The .ts files under `dir` (relative to the repository root), subfolders included. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir, root))) {
    if (e.isDirectory) out.push(...await tsFiles(`${dir}/${e.name}`));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

async function entries(): Promise<string[]> {
  const libs = await Promise.all(["lib/deepguard", "lib/pipeline", "lib/serve"].map(tsFiles));
  const tasks = ["generate", "eval", "score", "serve"].map((t) => `tasks/${t}.ts`);
  return [...libs.flat(), ...tasks].sort();
}

/** Every module reachable from `entry`: local ones relative to the repository root, then others. */
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
    .map((s) => s.startsWith(root.href) ? s.slice(root.href.length) : s);
}

/** Modules of `mods` that a judge must not load. */
const heavy = (mods: string[]) => mods.filter((m) => /^(lib\/(model|ffi)\/|npm:)/.test(m));

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

Deno.test("layering: the judges (lib/eval) load no model, no libtorch binding, no npm package", async () => {
  const files = await tsFiles("lib/eval");
  assert.ok(files.includes("lib/eval/score.ts") && files.includes("lib/eval/c/mod.ts"));
  for (const f of files) assert.deepEqual(heavy(await graph(f)), [], `${f} loads them`);
});

Deno.test("layering: the judge check sees the model and npm (the test can fail)", async () => {
  const mods = heavy(await graph("lib/pipeline/samples.ts"));
  assert.ok(mods.some((m) => m.startsWith("lib/model/")), mods.join());
  assert.ok(mods.some((m) => m.startsWith("npm:")), mods.join());
});
