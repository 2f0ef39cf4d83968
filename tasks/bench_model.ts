/**
 * The random Qwen2.5-Coder-0.5B-shaped fp32 checkpoint shared by the throughput benchmarks
 * (`bench:generate`, `bench:train`): built once by tools/make_bench_model.py and cached under
 * `$TMPDIR/dg_bench/`.
 *
 * @module
 */

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
