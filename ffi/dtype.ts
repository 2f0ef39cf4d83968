/**
 * Tensor element types and devices, and their codes in the C shim.
 * @module
 */
import { DeviceError } from "./errors.ts";

/** Element types the toolkit models. f16/bf16 travel to and from TS as raw 16-bit patterns. */
export type DType = "f32" | "f16" | "bf16" | "i64" | "i32" | "bool" | "u8" | "f64";

/** A device: the CPU, the current CUDA device 0, or a numbered CUDA device. */
export type Device = "cpu" | "cuda" | `cuda:${number}`;

/** Dtype names in shim-code order (code = index). */
export const DTYPES: readonly DType[] = ["f32", "f16", "bf16", "i64", "i32", "bool", "u8", "f64"];

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  i64: 8,
  i32: 4,
  bool: 1,
  u8: 1,
  f64: 8,
};

/** The shim's integer code of a dtype; throws a TypeError for an unknown name. */
export function dtypeCode(d: DType): number {
  const code = DTYPES.indexOf(d);
  if (code < 0) {
    throw new TypeError(`unknown dtype "${d}": expected one of ${DTYPES.join(", ")}`);
  }
  return code;
}

/** True for floating-point dtypes. */
export function isFloat(d: DType): boolean {
  return d === "f32" || d === "f16" || d === "bf16" || d === "f64";
}

/** Parses a device string into the shim's (type, index) pair. */
export function deviceCode(d: Device): [number, number] {
  if (d === "cpu") return [0, 0];
  if (d === "cuda") return [1, 0];
  const m = /^cuda:(\d+)$/.exec(d);
  if (!m) throw new DeviceError(`unknown device "${d}": expected "cpu", "cuda" or "cuda:N"`);
  return [1, Number(m[1])];
}

/** Typed-array class backing each dtype for host transfers. */
export type HostArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array;

/** Makes a host array of the right class for `dtype` over a byte buffer. */
export function hostView(dtype: DType, bytes: Uint8Array): HostArray {
  const { buffer, byteOffset, byteLength } = bytes;
  const n = byteLength / DTYPE_SIZE[dtype];
  switch (dtype) {
    case "f32":
      return new Float32Array(buffer, byteOffset, n);
    case "f64":
      return new Float64Array(buffer, byteOffset, n);
    case "i32":
      return new Int32Array(buffer, byteOffset, n);
    case "i64":
      return new BigInt64Array(buffer, byteOffset, n);
    case "f16":
    case "bf16":
      return new Uint16Array(buffer, byteOffset, n);
    case "bool":
    case "u8":
      return new Uint8Array(buffer, byteOffset, n);
  }
}
