/**
 * Temp dirs of the evaluation: removed when the process exits, kept while their
 * owner runs, swept after their owner was killed (kill -9).
 */
import { assert, assertEquals } from "./eval_assert.ts";
import { evalTempDir, sweepStaleTempDirs } from "../lib/eval/tmp.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Run a child deno that creates a tracked temp dir, prints it, then exits or waits. */
function child(wait: boolean): Deno.ChildProcess {
  const code = `import { evalTempDir } from "${new URL("../lib/eval/tmp.ts", import.meta.url)}";
const d = await evalTempDir("dg-score-");
console.log(d);
${wait ? "await new Promise((r) => setTimeout(r, 60_000));" : ""}`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(p: Deno.ChildProcess): Promise<string> {
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return text.trim();
}

Deno.test("eval temp dirs: removed on exit, kept while the owner lives, swept after kill -9", async () => {
  // Normal exit: gone.
  const a = child(false);
  const dirA = await firstLine(a);
  await a.status;
  assert(dirA.includes("/dg-score-"), dirA);
  assertEquals(await exists(dirA), false, "removed on exit");

  // Killed with SIGKILL: left behind, then swept by the next run; a live owner's dir is kept.
  const b = child(true);
  const dirB = await firstLine(b);
  const mine = await evalTempDir("dg-score-");
  assertEquals(await exists(dirB), true);
  assertEquals(sweepStaleTempDirs().includes(dirB), false, "owner alive: kept");
  b.kill("SIGKILL");
  await b.status;
  await b.stdout.cancel().catch(() => {});
  assertEquals(await exists(dirB), true, "a killed run leaves its dir");
  const swept = sweepStaleTempDirs();
  assert(swept.includes(dirB), `swept: ${swept}`);
  assertEquals(await exists(dirB), false);
  assertEquals(await exists(mine), true, "this process's dir is kept");
  await Deno.remove(mine, { recursive: true });
});
