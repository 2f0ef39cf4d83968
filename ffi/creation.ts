/**
 * Creating tensors: from host data, raw bytes or a file range (checkpoint loading), filled,
 * ranged and random. Shapes are checked (non-negative safe integers) before libtorch sees them.
 * @module
 */
import { countArg, lib, ok, shapeArg } from "./bindings.ts";
import { type Device, type DType, dtypeCode } from "./dtype.ts";
import { checkDevice } from "./runtime.ts";
import { Tensor } from "./tensor.ts";

/** Creation options: element type and device. */
export interface TensorOptions {
  /** Element type (default f32; i64 for `arange` and `randint`). */
  dtype?: DType;
  /** Device (default "cpu"). */
  device?: Device;
}

function inferDtype(data: ArrayLike<number> | ArrayLike<bigint>): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Float64Array) return "f64";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof BigInt64Array) return "i64";
  if (data instanceof Uint8Array) return "u8";
  if (data instanceof Uint16Array) {
    throw new TypeError("Uint16Array data needs an explicit dtype: f16 or bf16");
  }
  return "f32";
}

function toBytes(data: ArrayLike<number> | ArrayLike<bigint>, dtype: DType): Uint8Array {
  const src = data as ArrayLike<number> & ArrayBufferView;
  if (ArrayBuffer.isView(data) && inferDtypeSafe(data) === dtype) {
    return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  }
  const nums = Array.from(data as ArrayLike<number>, Number);
  switch (dtype) {
    case "f32":
      return new Uint8Array(Float32Array.from(nums).buffer);
    case "f64":
      return new Uint8Array(Float64Array.from(nums).buffer);
    case "i32":
      return new Uint8Array(Int32Array.from(nums).buffer);
    case "i64":
      return new Uint8Array(BigInt64Array.from(nums, (v) => BigInt(Math.trunc(v))).buffer);
    case "u8":
    case "bool":
      return Uint8Array.from(nums, (v) => (dtype === "bool" ? (v ? 1 : 0) : v));
    case "f16":
    case "bf16":
      if (data instanceof Uint16Array) {
        return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      }
      throw new TypeError(
        `${dtype} data must be given as a Uint16Array of raw bits, or create f32 and cast`,
      );
  }
}

function inferDtypeSafe(data: ArrayBufferView): DType | null {
  try {
    return inferDtype(data as unknown as ArrayLike<number>);
  } catch {
    return null;
  }
}

/**
 * A tensor from host data. `data` is a typed array (dtype inferred: Float32Array → f32,
 * Int32Array → i32, BigInt64Array → i64, Uint8Array → u8, Float64Array → f64) or a number array
 * (f32 unless `dtype` says otherwise). f16/bf16 take a Uint16Array of raw bits. The shape defaults
 * to `[data.length]`.
 */
export function tensor(
  data: ArrayLike<number> | ArrayLike<bigint>,
  shape?: readonly number[],
  options: TensorOptions = {},
): Tensor {
  const dtype = options.dtype ?? inferDtype(data);
  const dims = shape ?? [data.length];
  const bytes = toBytes(data, dtype);
  const s = shapeArg(dims);
  const cpu = Tensor.fromHandle(
    ok(
      "dg_from_data",
      lib().dg_from_data(bytes, bytes.byteLength, s, s.length, dtypeCode(dtype)),
    ),
  );
  if ((options.device ?? "cpu") === "cpu") return cpu;
  try {
    return cpu.toDevice(options.device!);
  } finally {
    cpu.dispose();
  }
}

/** A tensor from raw little-endian bytes of dtype `fileDtype`, optionally cast and moved. */
export function fromBytes(
  bytes: Uint8Array,
  shape: readonly number[],
  fileDtype: DType,
  options: TensorOptions = {},
): Tensor {
  const s = shapeArg(shape);
  const raw = Tensor.fromHandle(
    ok(
      "dg_from_data",
      lib().dg_from_data(bytes, bytes.byteLength, s, s.length, dtypeCode(fileDtype)),
    ),
  );
  return convert(raw, options);
}

function convert(t: Tensor, options: TensorOptions): Tensor {
  let out = t;
  if (options.dtype && options.dtype !== t.dtype) {
    out = t.to(options.dtype);
    t.dispose();
  }
  if (options.device && options.device !== "cpu") {
    const moved = out.toDevice(options.device);
    out.dispose();
    out = moved;
  }
  return out;
}

/**
 * Reads `byteLength` bytes at `byteOffset` of a file straight into a tensor of `fileDtype` and
 * `shape`, then casts/moves it — no intermediate JS copy (checkpoint loading).
 */
export function fromFile(
  path: string,
  byteOffset: number,
  byteLength: number,
  shape: readonly number[],
  fileDtype: DType,
  options: TensorOptions = {},
): Tensor {
  countArg("fromFile", "byteOffset", byteOffset);
  countArg("fromFile", "byteLength", byteLength);
  const [dt, di] = checkDevice(options.device ?? "cpu");
  const s = shapeArg(shape);
  const cpath = new TextEncoder().encode(path + "\0");
  return Tensor.fromHandle(ok(
    "dg_from_file",
    lib().dg_from_file(
      cpath,
      byteOffset,
      byteLength,
      s,
      s.length,
      dtypeCode(fileDtype),
      dtypeCode(options.dtype ?? fileDtype),
      dt,
      di,
    ),
  ));
}

type Maker = "dg_empty" | "dg_zeros" | "dg_ones" | "dg_rand" | "dg_randn";
function make(op: Maker, shape: readonly number[], options: TensorOptions): Tensor {
  const [dt, di] = checkDevice(options.device ?? "cpu");
  const s = shapeArg(shape);
  return Tensor.fromHandle(
    ok(op, lib()[op](s, s.length, dtypeCode(options.dtype ?? "f32"), dt, di)),
  );
}

/** Uninitialised tensor. */
export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return make("dg_empty", shape, options);
}
/** All zeros. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return make("dg_zeros", shape, options);
}
/** All ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return make("dg_ones", shape, options);
}
/** Uniform [0, 1) samples from the seeded global generator. */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return make("dg_rand", shape, options);
}
/** Standard normal samples from the seeded global generator. */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return make("dg_randn", shape, options);
}
/** Filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  const [dt, di] = checkDevice(options.device ?? "cpu");
  const s = shapeArg(shape);
  return Tensor.fromHandle(
    ok("dg_full", lib().dg_full(s, s.length, value, dtypeCode(options.dtype ?? "f32"), dt, di)),
  );
}
/** Values start, start+step, … below end (i64 by default). */
export function arange(
  start: number,
  end: number,
  step = 1,
  options: TensorOptions = {},
): Tensor {
  const [dt, di] = checkDevice(options.device ?? "cpu");
  return Tensor.fromHandle(
    ok("dg_arange", lib().dg_arange(start, end, step, dtypeCode(options.dtype ?? "i64"), dt, di)),
  );
}
/** Uniform integers in [low, high) (i64 by default). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  options: TensorOptions = {},
): Tensor {
  const [dt, di] = checkDevice(options.device ?? "cpu");
  const s = shapeArg(shape);
  return Tensor.fromHandle(ok(
    "dg_randint",
    lib().dg_randint(low, high, s, s.length, dtypeCode(options.dtype ?? "i64"), dt, di),
  ));
}
/** Draws `n` indices per row of a probability tensor. */
export function multinomial(probs: Tensor, n: number, replacement = false): Tensor {
  return Tensor.fromHandle(
    ok("dg_multinomial", lib().dg_multinomial(probs.ptr, n, replacement ? 1 : 0)),
  );
}
