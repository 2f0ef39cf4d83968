/**
 * Device strings (`cpu`, `cuda`, `cuda:N`): the one parser shared by the command line, the
 * training configuration and the benchmarks (the FFI keeps its own conversion to the shim's codes),
 * and the device flags several tasks share.
 * @module
 */
import type { Device } from "../../ffi/dtype.ts";

/** `s` as a {@link Device}, or `null` when it is not `cpu`, `cuda` or `cuda:N`. */
export function parseDevice(s: string): Device | null {
  return /^(cpu|cuda(:\d+)?)$/.test(s) ? s as Device : null;
}

/** The CUDA ordinal of a CUDA device (`cuda` → 0), or `null` for the CPU. */
export function cudaIndex(d: Device): number | null {
  if (d === "cpu") return null;
  return d === "cuda" ? 0 : Number(d.slice(5));
}

/** `--cuda-graphs`, declared once for the tasks that generate (`generate`, `bench:generate`). */
export const CUDA_GRAPHS_FLAG = {
  "cuda-graphs": {
    type: "boolean",
    help: "replay the decode step as a CUDA graph (a CUDA device and a shim built with CUDA " +
      "graphs; elsewhere the normal step runs and the reason is reported)",
  },
} as const;
