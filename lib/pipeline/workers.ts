/**
 * Sampling on several devices at once: one worker process per device (its own libtorch and
 * model), each sampling a contiguous slice of the scenarios into its own cache under
 * OUT/workers/I/, merged afterwards into OUT/completions.jsonl in the canonical order. Processes
 * rather than Deno Workers: libtorch's random generator is one per process, and each call is
 * seeded, so separate processes cannot disturb each other's draws. A killed run resumes each
 * worker from its own cache; a slice already complete in OUT/completions.jsonl starts no worker.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { PROJECT_ROOT } from "../util/paths.ts";
import { formatSeconds } from "../util/progress.ts";
import type { EvalOptions } from "./evaluate.ts";
import { readCompletionCache } from "./samples.ts";
import { mergeCompletionCaches, shardSlice } from "./shards.ts";

const WORKER = new URL("./eval_worker.ts", import.meta.url).href;
/** A checkout's import map and lock file (an https import carries its own). */
const CONFIG = WORKER.startsWith("file:") ? ["--config", `${PROJECT_ROOT}/deno.json`] : [];

/**
 * Runs one worker on `opts` and waits for it. Its stderr (progress lines: a pipe gets one every
 * few seconds; errors) is passed on line by line behind `prefix`, so the workers' output stays
 * readable together. Returns whether it succeeded.
 */
async function runWorker(opts: EvalOptions, prefix: string): Promise<boolean> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...CONFIG, WORKER],
    stdin: "piped",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  await ReadableStream.from([new TextEncoder().encode(JSON.stringify(opts))]).pipeTo(child.stdin);
  let rest = "";
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split(/\r?\n|\r/);
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) console.error(prefix + line);
  }
  if (rest.trim()) console.error(prefix + rest);
  return (await child.status).success;
}

/** A worker process failed; its partial samples stay in its directory for a resumed run. */
export class WorkerError extends Error {
  override name = "WorkerError";
}

/**
 * Runs one sampling worker per device on slice I of N (I = the device's position), waits for all,
 * and merges their caches (after what `cache` already held) into `cache` in the order of
 * `scenarioIds`. Throws a {@link WorkerError} naming every worker that failed.
 */
export async function sampleOnWorkers(
  opts: EvalOptions,
  devices: readonly Device[],
  scenarioIds: readonly string[],
  cache: string,
): Promise<void> {
  const log = opts.progress === false ? () => {} : (s: string) => console.error(s);
  log(`eval: sampling on ${devices.length} workers (${devices.join(", ")})`);
  const dirs = devices.map((_, i) => `${opts.out}/workers/${i}`);
  const started = performance.now();
  const done = new Set(readCompletionCache(cache).map((r) => `${r.scenario}\u0000${r.call}`));
  const calls = Math.ceil(opts.sampling.samples / opts.sampling.perCall);
  const complete = (index: number) =>
    shardSlice(scenarioIds, { index, count: devices.length }).every((id) =>
      [...Array(calls).keys()].every((c) => done.has(`${id}\u0000${c}`))
    );
  const failed = await Promise.all(devices.map(async (device, index) => {
    if (complete(index)) return null; // resumed: this slice is already merged
    const worker: EvalOptions = {
      ...opts,
      device,
      devices: undefined,
      shard: { index, count: devices.length },
      out: dirs[index],
    };
    const ok = await runWorker(worker, `[worker ${index} ${device}] `);
    const took = formatSeconds((performance.now() - started) / 1000);
    log(`eval: worker ${index} (${device}) ${ok ? "done" : "failed"} after ${took}`);
    return ok ? null : `worker ${index} (${device})`;
  }));
  const bad = failed.filter((f) => f !== null);
  if (bad.length) {
    throw new WorkerError(
      `sampling failed on ${bad.join(", ")}; the samples done so far are kept under ` +
        `${opts.out}/workers/ and re-running the same command resumes`,
    );
  }
  const files = [cache, ...dirs.map((d) => `${d}/completions.jsonl`)];
  const n = mergeCompletionCaches(files, scenarioIds, cache);
  log(`eval: merged ${n} completions from ${devices.length} workers into ${cache}`);
}
