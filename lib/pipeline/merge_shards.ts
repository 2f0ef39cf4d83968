/**
 * Joining the run directories of `eval --shard I/N` (cluster jobs) into one run directory, as if
 * one job had run every scenario: run.json without the shard, completions.jsonl in the canonical
 * order, results.jsonl renumbered to the merged file's lines, and summary.json / summary.md /
 * report.html recomputed by the scoring pipeline (which finds every sample already scored).
 * Shards of different settings, a missing or repeated shard, or an unfinished shard are refused
 * before anything is written.
 * @module
 */
import type { RunMeta } from "../eval/run_meta.ts";
import type { Summary } from "../eval/metrics.ts";
import type { SampleResult } from "../eval/results.ts";
import { loadScenarios } from "../eval/scenarios.ts";
import { scoreCompletions } from "../eval/score.ts";
import { readCompletionCache } from "./samples.ts";
import { mergeCompletionCaches, parseShard, type Shard } from "./shards.ts";

/** Shard directories that cannot be merged (settings differ, a shard missing or unfinished). */
export class ShardMergeError extends Error {
  override name = "ShardMergeError";
}

interface ShardRun {
  dir: string;
  shard: Shard;
  run: Record<string, unknown>;
  meta: RunMeta | undefined;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new ShardMergeError(`${path} is missing: ${what}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ShardMergeError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** The settings shards must share: run.json without what differs by shard. */
function sharedSettings(run: Record<string, unknown>): string {
  const { shard: _s, scenarioIds: _i, device: _d, ...rest } = run;
  return JSON.stringify(rest);
}

async function readShard(dir: string): Promise<ShardRun> {
  const run = await readJson(`${dir}/run.json`, "not a run directory of `eval --shard I/N`");
  if (typeof run.shard !== "string") {
    throw new ShardMergeError(`${dir}/run.json has no "shard": not made by \`eval --shard I/N\``);
  }
  const summary = await readJson(`${dir}/summary.json`, "the shard has not finished scoring");
  const samples = readCompletionCache(`${dir}/completions.jsonl`).length;
  const meta = summary.meta as RunMeta | undefined;
  if (meta && meta.samples !== samples) {
    throw new ShardMergeError(
      `${dir}: summary.json counts ${meta.samples} samples but completions.jsonl holds ${samples}`,
    );
  }
  return { dir, shard: parseShard(run.shard), run, meta };
}

/** Checks that `shards` are slices 0…N-1 of one run, each once; returns them in slice order. */
function orderShards(shards: ShardRun[]): ShardRun[] {
  const first = shards[0];
  for (const s of shards) {
    if (sharedSettings(s.run) !== sharedSettings(first.run)) {
      throw new ShardMergeError(
        `${s.dir}/run.json and ${first.dir}/run.json differ in more than shard, scenarios and ` +
          "device: these are shards of different runs",
      );
    }
    if (s.shard.count !== first.shard.count) {
      throw new ShardMergeError(
        `${s.dir} is shard ${s.run.shard} but ${first.dir} is shard ${first.run.shard}`,
      );
    }
  }
  const byIndex = new Map<number, ShardRun>();
  for (const s of shards) {
    const other = byIndex.get(s.shard.index);
    if (other) throw new ShardMergeError(`${s.dir} and ${other.dir} are both shard ${s.run.shard}`);
    byIndex.set(s.shard.index, s);
  }
  const missing = [...Array(first.shard.count).keys()].filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new ShardMergeError(
      `shards ${missing.map((i) => `${i}/${first.shard.count}`).join(", ")} missing`,
    );
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);
}

/** Merges the shard directories `dirs` into `out` (see the module docs); returns the summary. */
export async function mergeShardRuns(out: string, dirs: readonly string[]): Promise<Summary> {
  if (!dirs.length) throw new ShardMergeError("no shard directories given");
  const shards = orderShards(await Promise.all(dirs.map(readShard)));
  const ids = shards.flatMap((s) => s.run.scenarioIds as string[]);
  const { shard: _shard, ...settings } = shards[0].run;
  const devices = [...new Set(shards.map((s) => String(s.run.device)))].join(",");
  const run: Record<string, unknown> = { ...settings, scenarioIds: ids, device: devices };
  const runText = JSON.stringify(run, null, 2) + "\n";
  const previous = await Deno.readTextFile(`${out}/run.json`).catch(() => null);
  if (previous !== null && previous !== runText) {
    throw new ShardMergeError(`${out} holds another run (see its run.json); use a fresh OUT`);
  }
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/run.json`, runText);
  const completions = `${out}/completions.jsonl`;
  mergeCompletionCaches(shards.map((s) => `${s.dir}/completions.jsonl`), ids, completions);
  // results.jsonl's `line` is the completion's line: shift each shard's by the lines before it.
  const results: string[] = [];
  let offset = 0;
  for (const s of shards) {
    const text = await Deno.readTextFile(`${s.dir}/results.jsonl`);
    for (const line of text.split("\n").filter((l) => l.trim())) {
      const r = JSON.parse(line) as SampleResult;
      results.push(JSON.stringify({ ...r, line: r.line + offset }) + "\n");
    }
    offset += readCompletionCache(`${s.dir}/completions.jsonl`).length;
  }
  await Deno.writeTextFile(`${out}/results.jsonl`, results.join(""));
  const startedAt = shards.map((s) => s.meta?.startedAt).filter((t) => t !== undefined).sort()[0];
  const { summary } = await scoreCompletions({
    outDir: out,
    completions,
    scenarios: (await loadScenarios((run.scenarios as string | null) ?? undefined))
      .filter((s) => ids.includes(s.id))
      .sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)),
    judges: run.judges as string,
    progress: false,
    run: shards[0].meta?.generation
      ? {
        startedAt: startedAt ? new Date(startedAt) : new Date(),
        generation: { ...shards[0].meta.generation, device: devices },
      }
      : undefined,
  });
  return summary;
}
