/**
 * Splitting an evaluation by scenario and putting the pieces back together. Every generate call
 * of a scenario is seeded by (scenario, call index) alone (lib/pipeline/samples.ts), so a scenario
 * samples the same completions whichever process runs it; splitting the scenario list into
 * contiguous slices and writing the pieces back in the canonical order (scenario order, then call
 * order) reproduces a single-process run's completions.jsonl byte for byte.
 * @module
 */
import { readCompletionCache } from "./samples.ts";

/** Slice `index` (0-based) of `count` of the scenario list. */
export interface Shard {
  /** Which slice, 0 ≤ index < count. */
  index: number;
  /** How many slices. */
  count: number;
}

/** Parses `I/N` (0 ≤ I < N); a RangeError names what was expected. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new RangeError(`--shard "${text}": expected I/N with 0 ≤ I < N, e.g. 0/4`);
  }
  return { index, count };
}

/** `I/N`, as {@link parseShard} reads it. */
export function shardName(s: Shard): string {
  return `${s.index}/${s.count}`;
}

/**
 * The shard's contiguous slice of `items` (sizes differ by at most one); the slices of 0…N-1
 * concatenated are `items` again.
 */
export function shardSlice<T>(items: readonly T[], s: Shard): T[] {
  const at = (i: number) => Math.floor((i * items.length) / s.count);
  return items.slice(at(s.index), at(s.index + 1));
}

/**
 * Merges completion caches into `out` in the canonical order of `scenarioIds` (scenario, then
 * call, records of a call in their written order). A call found in several files is taken from
 * the first that has it; records of other scenarios are an error. Written to a temp file and
 * renamed, so a killed merge leaves the previous `out` intact. Returns the records written.
 */
export function mergeCompletionCaches(
  files: readonly string[],
  scenarioIds: readonly string[],
  out: string,
): number {
  const order = new Map(scenarioIds.map((id, i) => [id, i]));
  const calls = new Map<string, { scenario: string; call: number; lines: string[] }>();
  for (const file of files) {
    const seen = new Set<string>();
    for (const r of readCompletionCache(file)) {
      if (!order.has(r.scenario)) {
        throw new RangeError(`${file}: scenario "${r.scenario}" is not part of this run`);
      }
      const key = `${r.scenario}\u0000${r.call}`;
      if (calls.has(key) && !seen.has(key)) continue; // an earlier file has this call
      seen.add(key);
      const entry = calls.get(key) ?? { scenario: r.scenario, call: r.call, lines: [] };
      entry.lines.push(JSON.stringify(r) + "\n");
      calls.set(key, entry);
    }
  }
  const sorted = [...calls.values()].sort((a, b) =>
    order.get(a.scenario)! - order.get(b.scenario)! || a.call - b.call
  );
  const tmp = `${out}.merging`;
  Deno.writeTextFileSync(tmp, sorted.map((c) => c.lines.join("")).join(""));
  Deno.renameSync(tmp, out);
  return sorted.reduce((n, c) => n + c.lines.length, 0);
}
