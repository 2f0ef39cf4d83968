/**
 * The random Qwen2.5-Coder-0.5B-shaped fp32 checkpoint shared by the throughput benchmarks
 * (`bench:generate`, `bench:train`): built once by tools/make_bench_model.py and cached under
 * `$TMPDIR/dg_bench/`.
 *
 * @module
 */

import type { Device } from "../ffi/mod.ts";
import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";
import { VENV_PY } from "../lib/util/python.ts";
import { runWithTimeout } from "../lib/util/spawn.ts";

/** Shapes tools/make_bench_model.py can build (`--shape`). */
export const BENCH_SHAPES = [
  "qwen2.5-coder-0.5b",
  "qwen2.5-coder-1.5b",
  "qwen2.5-coder-7b",
] as const;

/** A benchmark checkpoint shape. */
export type BenchShape = typeof BENCH_SHAPES[number];

/** The default benchmark shape (the CPU benchmarks). */
export const BENCH_SHAPE: BenchShape = "qwen2.5-coder-0.5b";

/**
 * Build (once) and return the benchmark checkpoint directory of `shape`, its weights saved in
 * `dtype` (`dir` overrides the cache path).
 */
export async function ensureBenchModel(
  dir?: string,
  shape: BenchShape = BENCH_SHAPE,
  dtype: "f32" | "bf16" = "f32",
): Promise<string> {
  const name = dtype === "f32" ? shape : `${shape}-${dtype}`;
  const target = dir ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/dg_bench/${name}`;
  try {
    await Deno.stat(`${target}/config.json`);
    await Deno.stat(`${target}/model.safetensors`);
    return target;
  } catch { /* build it */ }
  const work = `${target}.${Deno.pid}`;
  console.error(`building ${name} random checkpoint in ${target} (once) ...`);
  const r = await runWithTimeout(
    VENV_PY,
    [`${ROOT}/tools/make_bench_model.py`, "--out", work, "--shape", shape, "--dtype", dtype],
    { stdout: "inherit", stderr: "inherit" },
  );
  if (!r.success) throw new Error("tools/make_bench_model.py failed");
  await Deno.rename(work, target);
  return target;
}

/** The flags every benchmark on a model takes: `--device`, `--dtype`, `--shape`, `--model`. */
export const BENCH_MODEL_FLAGS = {
  device: { type: "device", help: "cpu, cuda or cuda:N, both sides" },
  dtype: {
    type: "choice",
    choices: ["f32", "bf16"],
    default: "f32",
    help: "weight/activation dtype, both sides",
  },
  shape: {
    type: "choice",
    choices: BENCH_SHAPES,
    default: BENCH_SHAPE,
    help: "random checkpoint shape when no --model (built once, weights saved in --dtype)",
  },
  model: {
    type: "path",
    kind: "dir",
    help: "checkpoint to use (default: the cached random checkpoint of --shape)",
  },
} as const;

/** A benchmark's model settings, from {@link BENCH_MODEL_FLAGS}. */
export interface BenchModel {
  /** Checkpoint directory (`--model`, else the cached random checkpoint of `shape`). */
  dir: string;
  /** What the report calls the model: `--model` or the shape name. */
  name: string;
  device: Device;
  dtype: "f32" | "bf16";
}

/** Reads the parsed {@link BENCH_MODEL_FLAGS} and builds the random checkpoint if needed. */
export async function benchModelFromFlags(
  v: { device: Device; dtype: "f32" | "bf16"; shape: BenchShape; model?: string },
): Promise<BenchModel> {
  const dir = await ensureBenchModel(v.model, v.shape, v.dtype);
  return { dir, name: v.model ?? v.shape, device: v.device, dtype: v.dtype };
}
