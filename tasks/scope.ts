/**
 * The scoping flags `eval` and `score` share (scenario file, CWEs, languages, id prefixes), the
 * mapping of their input errors to usage errors, and the rates `--dry-run` turns into time
 * estimates (this checkout's bench/results, when the benchmarks were run).
 * @module
 */
import { CompletionsError } from "../lib/eval/completions.ts";
import { JudgeError } from "../lib/eval/judges.ts";
import { ScenarioError } from "../lib/eval/scenarios.ts";
import { UsageError } from "../lib/util/cli.ts";
import { PROJECT_ROOT } from "../lib/util/paths.ts";
import { loadConfig, type ModelConfig } from "../lib/model/config.ts";
import type { Device } from "../ffi/mod.ts";

/** `--scenarios`, `--cwe`, `--language`, `--scenario-ids`. */
export const SCOPE_FLAGS = {
  scenarios: {
    type: "path",
    kind: "any",
    help:
      "scenarios.jsonl or an upstream sec_eval folder\n(default ../shared/data/sec_eval/scenarios.jsonl)",
  },
  cwe: { type: "list", arg: "LIST", help: "only these CWEs, e.g. cwe-078,89" },
  language: { type: "list", choices: ["py", "c"], arg: "py,c", help: "only these languages" },
  "scenario-ids": {
    type: "list",
    arg: "LIST",
    help: "only these scenario ids or id prefixes (cwe-078 = every cwe-078 scenario)",
  },
} as const;

/**
 * Runs `f`, turning the user's input errors (bad scenario set, completions file, judge list,
 * selection) into a {@link UsageError} (exit 2, no stack trace).
 */
export async function asUsageError<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (
      e instanceof CompletionsError || e instanceof ScenarioError || e instanceof JudgeError ||
      e instanceof RangeError || e instanceof Deno.errors.NotFound
    ) {
      throw new UsageError(e.message);
    }
    throw e;
  }
}

/** Samples per second of the last `bench:score` on this checkout, if it was run. */
export async function scoreRateEstimate(): Promise<number | undefined> {
  try {
    const r = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/bench/results/score.json`));
    return typeof r.samples_per_s === "number" && r.samples_per_s > 0 ? r.samples_per_s : undefined;
  } catch {
    return undefined;
  }
}

/** Weights a decode step reads: decoder layers and the output head (embeddings are a lookup). */
function decodeParams(c: ModelConfig): number {
  const h = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  const layer = h * q + 2 * h * kv + q * h + 3 * h * c.intermediateSize;
  return c.numLayers * layer + c.vocabSize * h;
}

/**
 * Generated tokens per second for `model` on the CPU, from the last `bench:generate` (random
 * Qwen2.5-Coder-0.5B-shaped checkpoint, the batch closest to `perCall`), scaled by the weights a
 * decode step reads (CPU decoding is bound by memory traffic). Undefined off the CPU, for another
 * dtype, for models under half the benchmark's size, or without a benchmark result.
 */
export async function sampleRateEstimate(
  model: string,
  device: Device,
  dtype: string,
  perCall: number,
): Promise<{ rate: number; source: string } | undefined> {
  if (device !== "cpu") return undefined;
  try {
    const bench = JSON.parse(
      await Deno.readTextFile(`${PROJECT_ROOT}/bench/results/generate.json`),
    ) as {
      shape: string;
      device: string;
      dtype: string;
      runs: { batch: number; deno_tok_s: number }[];
    };
    if (bench.device !== "cpu" || bench.dtype !== dtype || !bench.runs?.length) return undefined;
    const row = bench.runs.reduce((a, b) =>
      Math.abs(b.batch - perCall) < Math.abs(a.batch - perCall) ? b : a
    );
    // Qwen2.5-Coder-0.5B: the shape bench:generate measures.
    const ref = decodeParams({
      hiddenSize: 896,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 4864,
      numLayers: 24,
      vocabSize: 151936,
    } as ModelConfig);
    const params = decodeParams(await loadConfig(model));
    // Far below the benchmark's size, per-step overheads dominate and the scaling says nothing.
    if (params < ref / 2) return undefined;
    return {
      rate: row.deno_tok_s * ref / params,
      source: `bench:generate ${row.deno_tok_s} tok/s on the ${bench.shape} shape at batch ` +
        `${row.batch}, scaled by weights read per token: rough`,
    };
  } catch {
    return undefined;
  }
}
