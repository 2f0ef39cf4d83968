/**
 * The loaded shim and the helpers every FFI module shares: the failure checks of the shim's one
 * convention (see ops.ts), argument marshalling (shapes, dim lists, handle lists) with checks
 * that give a clear error before libtorch is reached. Per-op calls stay on Deno's fast path:
 * number and typed-array arguments, pointer handles, no BigInt results, no `nonblocking`.
 * @module
 */
import { ensureShim } from "./native.ts";
import { NativeLibraryError, TorchError } from "./errors.ts";
import { type HandleOp, type StatusOp, SYMBOLS } from "./ops.ts";

/** The symbol table type of the shim. */
export type ShimSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: ShimSymbols | null = null;

/** The loaded shim (loaded, and built if needed, on first call). */
export function lib(): ShimSymbols {
  if (loaded) return loaded;
  const path = ensureShim();
  try {
    loaded = Deno.dlopen(path, SYMBOLS).symbols;
  } catch (e) {
    throw new NativeLibraryError(`cannot load the native shim ${path}: ${(e as Error).message}`);
  }
  return loaded;
}

/** Reads a C string result. */
export function cString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** The shim's last error message (empty when the last call succeeded). */
export function lastError(): string {
  return cString(lib().dg_last_error());
}

/** The handle a handle-returning op produced; a {@link TorchError} when it failed (null). */
export function ok(op: HandleOp, p: Deno.PointerValue): Deno.PointerObject {
  if (p === null) throw new TorchError(op, lastError());
  return p;
}

/** Like {@link ok}, for elementwise ops reported under their own name (e.g. `dg_add`). */
export function okNamed(label: string, p: Deno.PointerValue): Deno.PointerObject {
  if (p === null) throw new TorchError(label, lastError());
  return p;
}

/** The value of a status-returning op; a {@link TorchError} when it failed (negative). */
export function okStatus(op: StatusOp, status: number): number {
  if (status < 0) throw new TorchError(op, lastError());
  return status;
}

/** Scratch for scalar out-parameters (dg_item, dg_clip_grad_norm); read right after the call. */
export const scalarOut: Float64Array = new Float64Array(1);

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * An int64 list as the f64 array the shim reads (exact for safe integers). `min` is the smallest
 * legal entry: 0 for creation shapes, -1 for view shapes (one inferred dim), -(2^53-1) for dim
 * lists.
 */
function int64List(what: string, values: readonly number[], min: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < min || v > MAX_SAFE) {
      const range = min === 0 ? "≥ 0" : min === -1 ? "≥ -1" : "safe";
      throw new TypeError(
        `${what} [${values.join(", ")}]: expected integers (${range}, ≤ 2^53-1), ` +
          `entry ${i} is ${v}`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** A creation shape: non-negative safe integers. */
export function shapeArg(values: readonly number[]): Float64Array {
  return int64List("shape", values, 0);
}

/** A view shape (reshape, view, expand): like a shape, and -1 marks an inferred/kept dim. */
export function viewShapeArg(values: readonly number[]): Float64Array {
  return int64List("shape", values, -1);
}

/** A list of dimension indices (negative counts from the end). */
export function dimsArg(values: readonly number[]): Float64Array {
  return int64List("dims", values, -MAX_SAFE);
}

/** Checks a non-negative safe integer argument, naming it in the error. */
export function countArg(fn: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_SAFE) {
    throw new RangeError(`${fn}: ${name} must be an integer in [0, 2^53-1], got ${v}`);
  }
  return v;
}

/** Anything that carries a native handle. */
export interface HasHandle {
  readonly ptr: Deno.PointerObject;
}

const ptrScratch = [new BigUint64Array(256), new BigUint64Array(256)];

/**
 * Pointer values of `ts` in reusable buffer `slot` (0 or 1; the shim copies them before
 * returning, so a buffer is free again after each call).
 */
export function ptrArray(ts: readonly HasHandle[], slot = 0): BigUint64Array {
  const scratch = ptrScratch[slot];
  const out = ts.length <= scratch.length ? scratch : new BigUint64Array(ts.length);
  for (let i = 0; i < ts.length; i++) out[i] = BigInt(Deno.UnsafePointer.value(ts[i].ptr));
  return out;
}
