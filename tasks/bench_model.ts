/**
 * The random Qwen2.5-Coder-0.5B-shaped fp32 checkpoint shared by the throughput benchmarks
 * (`bench:generate`, `bench:train`): built once by tools/make_bench_model.py and cached under
 * `$TMPDIR/dg_bench/`.
 *
 * @module
 */

import { ROOT, VENV_PY } from "./parity_ref.ts";

/** Shape name of the benchmark checkpoint (tools/make_bench_model.py `--shape`). */
export const BENCH_SHAPE = "qwen2.5-coder-0.5b";

/** Build (once) and return the benchmark checkpoint directory (`dir` overrides the cache path). */
export async function ensureBenchModel(dir?: string): Promise<string> {
  const target = dir ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/dg_bench/${BENCH_SHAPE}`;
  try {
    await Deno.stat(`${target}/config.json`);
    await Deno.stat(`${target}/model.safetensors`);
    return target;
  } catch { /* build it */ }
  const work = `${target}.${Deno.pid}`;
  console.error(`building ${BENCH_SHAPE} random checkpoint in ${target} (once) ...`);
  const r = await new Deno.Command(VENV_PY, {
    args: [`${ROOT}/tools/make_bench_model.py`, "--out", work, "--shape", BENCH_SHAPE],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error("tools/make_bench_model.py failed");
  await Deno.rename(work, target);
  return target;
}
