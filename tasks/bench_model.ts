/**
 * The random Qwen2.5-Coder-0.5B-shaped fp32 checkpoint shared by the throughput benchmarks
 * (`bench:generate`, `bench:train`): built once by tools/make_bench_model.py and cached under
 * `$TMPDIR/dg_bench/`.
 *
 * @module
 */

import type { Device } from "../ffi/mod.ts";
import { choiceFlag, deviceFlag, type Flags, type FlagSpec } from "../lib/util/cli.ts";
import { ROOT, VENV_PY } from "./parity_ref.ts";

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
  const r = await new Deno.Command(VENV_PY, {
    args: [`${ROOT}/tools/make_bench_model.py`, "--out", work, "--shape", shape, "--dtype", dtype],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error("tools/make_bench_model.py failed");
  await Deno.rename(work, target);
  return target;
}

/** The flags every benchmark on a model takes: `--device`, `--dtype`, `--shape`, `--model`. */
export const BENCH_MODEL_FLAGS: FlagSpec = {
  device: { type: "string" },
  dtype: { type: "string" },
  shape: { type: "string" },
  model: { type: "string" },
};

/** A benchmark's model settings, from {@link BENCH_MODEL_FLAGS}. */
export interface BenchModel {
  /** Checkpoint directory (`--model`, else the cached random checkpoint of `shape`). */
  dir: string;
  /** What the report calls the model: `--model` or the shape name. */
  name: string;
  device: Device;
  dtype: "f32" | "bf16";
}

/** Reads {@link BENCH_MODEL_FLAGS} and builds the random checkpoint if needed. */
export async function benchModelFromFlags(flags: Flags): Promise<BenchModel> {
  const device = deviceFlag(flags);
  const dtype = choiceFlag(flags, "dtype", ["f32", "bf16"] as const, "f32");
  const shape = choiceFlag(flags, "shape", BENCH_SHAPES, BENCH_SHAPE);
  const model = flags.values.model as string | undefined;
  const dir = await ensureBenchModel(model, shape, dtype);
  return { dir, name: model ?? shape, device, dtype };
}
