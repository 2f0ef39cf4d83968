/**
 * The Tensor type: a safe, typed handle over a libtorch tensor living in the C shim.
 *
 * Memory: every tensor owns one native handle. Free it with `dispose()` (or `using`), or create it
 * inside `tidy()`; a FinalizationRegistry frees handles that were garbage collected undisposed as
 * a safety net. Using a disposed tensor, or disposing it twice, throws {@link DisposedTensorError}.
 * @module
 */
import { cString, lastError, shim, type ShimSymbols } from "./bindings.ts";
import {
  type Device,
  deviceCode,
  type DType,
  DTYPE_SIZE,
  dtypeCode,
  DTYPES,
  type HostArray,
  hostView,
} from "./dtype.ts";
import { DeviceError, DisposedTensorError, TorchError } from "./errors.ts";
import { type Scoped, track, untrack } from "./scope.ts";

let S: ShimSymbols;
function lib(): ShimSymbols {
  return S ??= shim();
}

const finalizer = new FinalizationRegistry<Deno.PointerObject>((p) => lib().dg_free(p));
const shapeScratch = new Int32Array(64);

function ok(op: string, p: Deno.PointerValue): Deno.PointerObject {
  if (p === null) throw new TorchError(op, lastError());
  return p;
}

function okStatus(op: string, status: number): number {
  if (status < 0) throw new TorchError(op, lastError());
  return status;
}

function i32(values: readonly number[]): Int32Array {
  for (const v of values) {
    if (!Number.isInteger(v)) throw new TypeError(`expected integers, got [${values.join(", ")}]`);
  }
  return Int32Array.from(values);
}

const ptrScratch = [new BigUint64Array(256), new BigUint64Array(256)];

/**
 * Pointer values of `ts` in reusable buffer `slot` (0 or 1; the shim copies them before
 * returning, so a buffer is free again after each call).
 */
function ptrArray(ts: readonly Tensor[], slot = 0): BigUint64Array {
  const scratch = ptrScratch[slot];
  const out = ts.length <= scratch.length ? scratch : new BigUint64Array(ts.length);
  for (let i = 0; i < ts.length; i++) out[i] = BigInt(Deno.UnsafePointer.value(ts[i].ptr));
  return out;
}

function pair(op: string, run: (out: BigUint64Array) => number): [Tensor, Tensor] {
  const out = new BigUint64Array(2);
  okStatus(op, run(out));
  return [
    Tensor.fromHandle(Deno.UnsafePointer.create(out[0])!),
    Tensor.fromHandle(Deno.UnsafePointer.create(out[1])!),
  ];
}

/** Two tensors from a reduction that returns values and their indices. */
export interface ValuesIndices {
  /** The reduced values. */
  values: Tensor;
  /** Their positions along the reduced dimension (i64). */
  indices: Tensor;
}

/** Creation options: element type and device. */
export interface TensorOptions {
  /** Element type (default f32). */
  dtype?: DType;
  /** Device (default cpu). */
  device?: Device;
}

/** Throws a {@link DeviceError} unless `device` exists here. Returns the shim's (type, index). */
export function checkDevice(device: Device): [number, number] {
  const [type, index] = deviceCode(device);
  if (type === 1) {
    const count = lib().dg_cuda_device_count();
    if (count <= 0) {
      throw new DeviceError(
        `device "${device}" requested, but CUDA is not available (this libtorch build or machine ` +
          `has no GPU); use --device cpu or a CUDA build of libtorch via $LIBTORCH`,
      );
    }
    if (index >= count) {
      throw new DeviceError(`device "${device}" requested, but only ${count} CUDA device(s) exist`);
    }
  }
  return [type, index];
}

const BIN = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  max: 5,
  min: 6,
  eq: 7,
  ne: 8,
  lt: 9,
  le: 10,
  gt: 11,
  ge: 12,
  and: 13,
  or: 14,
} as const;
const UN = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  abs: 5,
  relu: 6,
  silu: 7,
  gelu: 8,
  geluTanh: 9,
  sigmoid: 10,
  tanh: 11,
  sin: 12,
  cos: 13,
  not: 14,
  isnan: 15,
  isfinite: 16,
  sign: 17,
} as const;

/** A libtorch tensor. Methods return new tensors; `copy_` and `requiresGrad_` act in place. */
export class Tensor implements Scoped, Disposable {
  #ptr: Deno.PointerObject | null;
  #shape: readonly number[] | null = null;
  #dtype: DType | null = null;
  /** @internal the tidy scope owning this tensor */
  scope: Set<Scoped> | null = null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    finalizer.register(this, ptr, this);
    track(this);
  }

  /** @internal wraps a fresh native handle (ownership is transferred to the new Tensor). */
  static fromHandle(ptr: Deno.PointerObject): Tensor {
    return new Tensor(ptr);
  }

  /** The native handle; throws if disposed. */
  get ptr(): Deno.PointerObject {
    if (this.#ptr === null) {
      throw new DisposedTensorError("tensor used after dispose() (it was already freed)");
    }
    return this.#ptr;
  }

  /** True once the tensor has been disposed. */
  get isDisposed(): boolean {
    return this.#ptr === null;
  }

  /** Frees the native tensor now. Throws when called twice. */
  dispose(): void {
    if (this.#ptr === null) throw new DisposedTensorError("tensor disposed twice");
    finalizer.unregister(this);
    untrack(this);
    lib().dg_free(this.#ptr);
    this.#ptr = null;
  }

  /** `using t = ...` support: disposes unless already disposed. */
  [Symbol.dispose](): void {
    if (this.#ptr !== null) this.dispose();
  }

  /** Detaches this tensor from any tidy scope; the caller now owns it. Returns `this`. */
  keep(): this {
    untrack(this);
    return this;
  }

  #wrap(op: string, p: Deno.PointerValue): Tensor {
    return new Tensor(ok(op, p));
  }

  // ------------------------------------------------------------------ queries
  /** Sizes of each dimension. */
  get shape(): readonly number[] {
    if (this.#shape === null) {
      const n = okStatus("dg_shape", lib().dg_shape(this.ptr, shapeScratch));
      this.#shape = Object.freeze(Array.from(shapeScratch.subarray(0, n)));
    }
    return this.#shape;
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** Element type. */
  get dtype(): DType {
    if (this.#dtype === null) {
      const code = okStatus("dg_dtype", lib().dg_dtype(this.ptr));
      if (code >= DTYPES.length) {
        throw new TypeError(`tensor has a dtype the toolkit does not model`);
      }
      this.#dtype = DTYPES[code];
    }
    return this.#dtype;
  }
  /** Device the tensor lives on ("cpu" or "cuda:N"). */
  get device(): Device {
    const type = okStatus("dg_device_type", lib().dg_device_type(this.ptr));
    return type === 0 ? "cpu" : `cuda:${lib().dg_device_index(this.ptr)}`;
  }
  /** Whether autograd records operations on this tensor. */
  get requiresGrad(): boolean {
    return okStatus("dg_requires_grad", lib().dg_requires_grad(this.ptr)) === 1;
  }

  // ------------------------------------------------------------------ host transfer
  /** Copies the elements to a host typed array (f16/bf16 as raw Uint16 bit patterns). */
  data(): HostArray {
    const bytes = new Uint8Array(this.numel * DTYPE_SIZE[this.dtype]);
    okStatus("dg_copy_to_host", lib().dg_copy_to_host(this.ptr, bytes, bytes.byteLength));
    return hostView(this.dtype, bytes);
  }
  /** Raw little-endian bytes of the elements in row-major order. */
  bytes(): Uint8Array {
    const bytes = new Uint8Array(this.numel * DTYPE_SIZE[this.dtype]);
    okStatus("dg_copy_to_host", lib().dg_copy_to_host(this.ptr, bytes, bytes.byteLength));
    return bytes;
  }
  /** The elements as plain numbers (flattened, row-major). */
  toNumbers(): number[] {
    if (this.dtype === "f16" || this.dtype === "bf16") {
      using f = this.to("f32");
      return Array.from(f.data() as Float32Array);
    }
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d);
  }
  /** The value of a one-element tensor. */
  item(): number {
    const v = lib().dg_item(this.ptr);
    if (Number.isNaN(v)) {
      const err = lastError();
      if (err) throw new TorchError("dg_item", err);
    }
    return v;
  }

  // ------------------------------------------------------------------ casts, copies
  /** Casts to another dtype (returns a new tensor even if unchanged). */
  to(dtype: DType): Tensor {
    return this.#wrap("dg_to_dtype", lib().dg_to_dtype(this.ptr, dtypeCode(dtype)));
  }
  /** Moves to another device. */
  toDevice(device: Device): Tensor {
    const [t, i] = checkDevice(device);
    return this.#wrap("dg_to_device", lib().dg_to_device(this.ptr, t, i));
  }
  /** A copy with its own storage. */
  clone(): Tensor {
    return this.#wrap("dg_clone", lib().dg_clone(this.ptr));
  }
  /** A contiguous tensor with the same values. */
  contiguous(): Tensor {
    return this.#wrap("dg_contiguous", lib().dg_contiguous(this.ptr));
  }
  /** Copies `src` (broadcast, cast) into this tensor in place; returns `this`. */
  copy_(src: Tensor): this {
    okStatus("dg_copy_", lib().dg_copy_(this.ptr, src.ptr));
    return this;
  }

  // ------------------------------------------------------------------ views, layout
  /** Reshape (a view when possible). One dim may be -1. */
  reshape(shape: readonly number[]): Tensor {
    const s = i32(shape);
    return this.#wrap("dg_reshape", lib().dg_reshape(this.ptr, s, s.length));
  }
  /** A view with another shape (the tensor must be compatible). */
  view(shape: readonly number[]): Tensor {
    const s = i32(shape);
    return this.#wrap("dg_view", lib().dg_view(this.ptr, s, s.length));
  }
  /** Broadcast view to a larger shape (-1 keeps a dim). */
  expand(shape: readonly number[]): Tensor {
    const s = i32(shape);
    return this.#wrap("dg_expand", lib().dg_expand(this.ptr, s, s.length));
  }
  /** Reorders dimensions. */
  permute(dims: readonly number[]): Tensor {
    const s = i32(dims);
    return this.#wrap("dg_permute", lib().dg_permute(this.ptr, s, s.length));
  }
  /** Swaps two dimensions. */
  transpose(a: number, b: number): Tensor {
    return this.#wrap("dg_transpose", lib().dg_transpose(this.ptr, a, b));
  }
  /** `length` elements of dimension `dim` from `start` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    return this.#wrap("dg_narrow", lib().dg_narrow(this.ptr, dim, start, length));
  }
  /** Python-style slice `[start:end:step]` of one dimension (a view). */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return this.#wrap("dg_slice", lib().dg_slice(this.ptr, dim, start, end, step));
  }
  /** Index `index` of dimension `dim`, removing that dimension (a view). */
  select(dim: number, index: number): Tensor {
    return this.#wrap("dg_select", lib().dg_select(this.ptr, dim, index));
  }
  /** Rows of dimension `dim` picked by an integer index tensor. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return this.#wrap("dg_index_select", lib().dg_index_select(this.ptr, dim, index.ptr));
  }
  /** torch.gather. */
  gather(dim: number, index: Tensor): Tensor {
    return this.#wrap("dg_gather", lib().dg_gather(this.ptr, dim, index.ptr));
  }
  /** torch.scatter (out of place). */
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return this.#wrap("dg_scatter", lib().dg_scatter(this.ptr, dim, index.ptr, src.ptr));
  }
  /** torch.index_add (out of place): adds rows of `src` at `index` along `dim`. */
  indexAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return this.#wrap("dg_index_add", lib().dg_index_add(this.ptr, dim, index.ptr, src.ptr));
  }
  /** Removes dimension `dim` if it has size 1. */
  squeeze(dim: number): Tensor {
    return this.#wrap("dg_squeeze", lib().dg_squeeze(this.ptr, dim));
  }
  /** Inserts a size-1 dimension at `dim`. */
  unsqueeze(dim: number): Tensor {
    return this.#wrap("dg_unsqueeze", lib().dg_unsqueeze(this.ptr, dim));
  }
  /** Repeats each element `repeats` times along `dim`. */
  repeatInterleave(repeats: number, dim: number): Tensor {
    return this.#wrap(
      "dg_repeat_interleave",
      lib().dg_repeat_interleave(this.ptr, repeats, dim),
    );
  }
  /** Lower triangle (k-th diagonal and below). */
  tril(k = 0): Tensor {
    return this.#wrap("dg_tril", lib().dg_tril(this.ptr, k));
  }
  /** Upper triangle (k-th diagonal and above). */
  triu(k = 0): Tensor {
    return this.#wrap("dg_triu", lib().dg_triu(this.ptr, k));
  }
  /** Replaces elements where `mask` is true by `value`. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return this.#wrap("dg_masked_fill", lib().dg_masked_fill(this.ptr, mask.ptr, value));
  }

  // ------------------------------------------------------------------ elementwise
  #bin(op: keyof typeof BIN, other: Tensor | number): Tensor {
    const L = lib();
    return typeof other === "number"
      ? this.#wrap(`dg_${op}`, L.dg_binary_scalar(BIN[op], this.ptr, other))
      : this.#wrap(`dg_${op}`, L.dg_binary(BIN[op], this.ptr, other.ptr));
  }
  #un(op: keyof typeof UN): Tensor {
    return this.#wrap(`dg_${op}`, lib().dg_unary(UN[op], this.ptr));
  }
  /** this + other (broadcasting). */
  add(other: Tensor | number): Tensor {
    return this.#bin("add", other);
  }
  /** this − other. */
  sub(other: Tensor | number): Tensor {
    return this.#bin("sub", other);
  }
  /** scalar − this. */
  rsub(scalar: number): Tensor {
    return this.#wrap("dg_rsub_scalar", lib().dg_rsub_scalar(scalar, this.ptr));
  }
  /** this × other. */
  mul(other: Tensor | number): Tensor {
    return this.#bin("mul", other);
  }
  /** this ÷ other. */
  div(other: Tensor | number): Tensor {
    return this.#bin("div", other);
  }
  /** this ** exponent. */
  pow(exponent: Tensor | number): Tensor {
    return this.#bin("pow", exponent);
  }
  /** Elementwise maximum (with a number: clamp from below). */
  maximum(other: Tensor | number): Tensor {
    return this.#bin("max", other);
  }
  /** Elementwise minimum (with a number: clamp from above). */
  minimum(other: Tensor | number): Tensor {
    return this.#bin("min", other);
  }
  /** this == other (bool tensor). */
  eq(other: Tensor | number): Tensor {
    return this.#bin("eq", other);
  }
  /** this != other. */
  ne(other: Tensor | number): Tensor {
    return this.#bin("ne", other);
  }
  /** this < other. */
  lt(other: Tensor | number): Tensor {
    return this.#bin("lt", other);
  }
  /** this <= other. */
  le(other: Tensor | number): Tensor {
    return this.#bin("le", other);
  }
  /** this > other. */
  gt(other: Tensor | number): Tensor {
    return this.#bin("gt", other);
  }
  /** this >= other. */
  ge(other: Tensor | number): Tensor {
    return this.#bin("ge", other);
  }
  /** Logical and of two bool tensors. */
  logicalAnd(other: Tensor): Tensor {
    return this.#bin("and", other);
  }
  /** Logical or of two bool tensors. */
  logicalOr(other: Tensor): Tensor {
    return this.#bin("or", other);
  }
  /** Logical not. */
  logicalNot(): Tensor {
    return this.#un("not");
  }
  /** −this. */
  neg(): Tensor {
    return this.#un("neg");
  }
  /** e^this. */
  exp(): Tensor {
    return this.#un("exp");
  }
  /** Natural logarithm. */
  log(): Tensor {
    return this.#un("log");
  }
  /** Square root. */
  sqrt(): Tensor {
    return this.#un("sqrt");
  }
  /** 1 / sqrt. */
  rsqrt(): Tensor {
    return this.#un("rsqrt");
  }
  /** Absolute value. */
  abs(): Tensor {
    return this.#un("abs");
  }
  /** max(x, 0). */
  relu(): Tensor {
    return this.#un("relu");
  }
  /** x · sigmoid(x). */
  silu(): Tensor {
    return this.#un("silu");
  }
  /** GELU (exact erf form, or the tanh approximation). */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return this.#un(approximate === "tanh" ? "geluTanh" : "gelu");
  }
  /** Logistic sigmoid. */
  sigmoid(): Tensor {
    return this.#un("sigmoid");
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return this.#un("tanh");
  }
  /** Sine. */
  sin(): Tensor {
    return this.#un("sin");
  }
  /** Cosine. */
  cos(): Tensor {
    return this.#un("cos");
  }
  /** Sign (−1, 0, 1). */
  sign(): Tensor {
    return this.#un("sign");
  }
  /** Elementwise NaN test. */
  isnan(): Tensor {
    return this.#un("isnan");
  }
  /** Elementwise finiteness test. */
  isfinite(): Tensor {
    return this.#un("isfinite");
  }
  /** Clamps into [min, max]; an omitted bound is open. */
  clamp(min?: number, max?: number): Tensor {
    return this.#wrap("dg_clamp", lib().dg_clamp(this.ptr, min ?? NaN, max ?? NaN));
  }

  // ------------------------------------------------------------------ linear algebra
  /** torch.matmul (broadcast batch dims). */
  matmul(other: Tensor): Tensor {
    return this.#wrap("dg_matmul", lib().dg_matmul(this.ptr, other.ptr));
  }
  /** Batched matrix product of [B,n,m] and [B,m,p]. */
  bmm(other: Tensor): Tensor {
    return this.#wrap("dg_bmm", lib().dg_bmm(this.ptr, other.ptr));
  }

  // ------------------------------------------------------------------ reductions
  /** Softmax over `dim`. */
  softmax(dim: number): Tensor {
    return this.#wrap("dg_softmax", lib().dg_softmax(this.ptr, dim));
  }
  /** Log-softmax over `dim`. */
  logSoftmax(dim: number): Tensor {
    return this.#wrap("dg_log_softmax", lib().dg_log_softmax(this.ptr, dim));
  }
  /** Sum over `dims` (all elements when omitted). */
  sum(dims: number | readonly number[] = [], keepdim = false): Tensor {
    const d = i32(typeof dims === "number" ? [dims] : dims);
    return this.#wrap("dg_sum", lib().dg_sum(this.ptr, d, d.length, keepdim ? 1 : 0));
  }
  /** Mean over `dims` (all elements when omitted). */
  mean(dims: number | readonly number[] = [], keepdim = false): Tensor {
    const d = i32(typeof dims === "number" ? [dims] : dims);
    return this.#wrap("dg_mean", lib().dg_mean(this.ptr, d, d.length, keepdim ? 1 : 0));
  }
  /** Largest element (a 0-d tensor). */
  maxAll(): Tensor {
    return this.#wrap("dg_max_all", lib().dg_max_all(this.ptr));
  }
  /** Smallest element (a 0-d tensor). */
  minAll(): Tensor {
    return this.#wrap("dg_min_all", lib().dg_min_all(this.ptr));
  }
  /** Maximum over `dim` with its indices. */
  max(dim: number, keepdim = false): ValuesIndices {
    const [values, indices] = pair(
      "dg_max_dim",
      (o) => lib().dg_max_dim(this.ptr, dim, keepdim ? 1 : 0, o),
    );
    return { values, indices };
  }
  /** Minimum over `dim` with its indices. */
  min(dim: number, keepdim = false): ValuesIndices {
    const [values, indices] = pair(
      "dg_min_dim",
      (o) => lib().dg_min_dim(this.ptr, dim, keepdim ? 1 : 0, o),
    );
    return { values, indices };
  }
  /** Index of the maximum over `dim`. */
  argmax(dim: number, keepdim = false): Tensor {
    return this.#wrap("dg_argmax", lib().dg_argmax(this.ptr, dim, keepdim ? 1 : 0));
  }
  /** The k largest (or smallest) elements over `dim`. */
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
    const [values, indices] = pair(
      "dg_topk",
      (o) => lib().dg_topk(this.ptr, k, dim, largest ? 1 : 0, sorted ? 1 : 0, o),
    );
    return { values, indices };
  }
  /** Sorts along `dim`. */
  sort(dim = -1, descending = false): ValuesIndices {
    const [values, indices] = pair(
      "dg_sort",
      (o) => lib().dg_sort(this.ptr, dim, descending ? 1 : 0, o),
    );
    return { values, indices };
  }
  /** Cumulative sum along `dim`. */
  cumsum(dim: number): Tensor {
    return this.#wrap("dg_cumsum", lib().dg_cumsum(this.ptr, dim));
  }
  /** p-norm of all elements (a 0-d tensor). */
  norm(p = 2): Tensor {
    return this.#wrap("dg_norm", lib().dg_norm(this.ptr, p));
  }
  /** Whether any element is true/non-zero (a 0-d bool tensor). */
  any(): Tensor {
    return this.#wrap("dg_any", lib().dg_any(this.ptr));
  }

  // ------------------------------------------------------------------ autograd
  /** Turns gradient recording for this leaf tensor on or off, in place; returns `this`. */
  requiresGrad_(on = true): this {
    okStatus("dg_set_requires_grad", lib().dg_set_requires_grad(this.ptr, on ? 1 : 0));
    return this;
  }
  /** Backpropagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, retainGraph = false): void {
    okStatus(
      "dg_backward",
      lib().dg_backward(this.ptr, gradient ? gradient.ptr : null, retainGraph ? 1 : 0),
    );
  }
  /** The accumulated gradient (a new handle each call), or null when there is none. */
  get grad(): Tensor | null {
    if (okStatus("dg_has_grad", lib().dg_has_grad(this.ptr)) === 0) return null;
    return this.#wrap("dg_grad", lib().dg_grad(this.ptr));
  }
  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    okStatus("dg_zero_grad", lib().dg_zero_grad(this.ptr));
  }
  /** A tensor sharing storage but cut from the autograd graph. */
  detach(): Tensor {
    return this.#wrap("dg_detach", lib().dg_detach(this.ptr));
  }

  /** Short description, e.g. `Tensor(f32, [2, 3], cpu)`. */
  toString(): string {
    if (this.isDisposed) return "Tensor(<disposed>)";
    return `Tensor(${this.dtype}, [${this.shape.join(", ")}], ${this.device})`;
  }
}

// -------------------------------------------------------------------- creation

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
  const s = i32(dims);
  const cpu = Tensor.fromHandle(
    ok("dg_from_data", lib().dg_from_data(bytes, bytes.byteLength, s, s.length, dtypeCode(dtype))),
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
  const s = i32(shape);
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
  const [dt, di] = checkDevice(options.device ?? "cpu");
  const s = i32(shape);
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
  const s = i32(shape);
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
  const s = i32(shape);
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
  const s = i32(shape);
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

// -------------------------------------------------------------------- multi-tensor ops

/** Concatenates along `dim`. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return Tensor.fromHandle(ok("dg_cat", lib().dg_cat(ptrArray(tensors), tensors.length, dim)));
}
/** Stacks along a new dimension `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return Tensor.fromHandle(
    ok("dg_stack", lib().dg_stack(ptrArray(tensors), tensors.length, dim)),
  );
}
/** Elementwise `cond ? a : b`. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return Tensor.fromHandle(ok("dg_where", lib().dg_where(cond.ptr, a.ptr, b.ptr)));
}
/** y = x·Wᵀ + b. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return Tensor.fromHandle(
    ok("dg_linear", lib().dg_linear(x.ptr, weight.ptr, bias ? bias.ptr : null)),
  );
}
/** Rows of `weight` selected by integer `ids`. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return Tensor.fromHandle(ok("dg_embedding", lib().dg_embedding(weight.ptr, ids.ptr)));
}
/** Layer normalisation over the trailing `normalizedShape` dims. */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  const s = i32(normalizedShape);
  return Tensor.fromHandle(ok(
    "dg_layer_norm",
    lib().dg_layer_norm(x.ptr, s, s.length, weight?.ptr ?? null, bias?.ptr ?? null, eps),
  ));
}
/** Dropout with probability p; identity unless `training`. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return Tensor.fromHandle(ok("dg_dropout", lib().dg_dropout(x.ptr, p, training ? 1 : 0)));
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  ignoreIndex?: number;
  reduction?: "none" | "mean" | "sum";
  labelSmoothing?: number;
}
/** Cross-entropy of logits [N,C] against integer targets [N]. */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const red = { none: 0, mean: 1, sum: 2 }[options.reduction ?? "mean"];
  return Tensor.fromHandle(ok(
    "dg_cross_entropy",
    lib().dg_cross_entropy(
      logits.ptr,
      target.ptr,
      options.ignoreIndex ?? -100,
      red,
      options.labelSmoothing ?? 0,
    ),
  ));
}

/** Options of {@link scaledDotProductAttention}. */
export interface SdpaOptions {
  /** Additive float mask or boolean mask (true = attend), broadcastable to [B,H,Tq,Tk]. */
  mask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  /** Score scale; default 1/sqrt(head_dim). */
  scale?: number;
  /** Let k/v have fewer heads than q (grouped-query attention). */
  enableGqa?: boolean;
}
/** torch's scaled_dot_product_attention over [B,H,T,d] tensors. */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: SdpaOptions = {},
): Tensor {
  return Tensor.fromHandle(ok(
    "dg_sdpa",
    lib().dg_sdpa(
      q.ptr,
      k.ptr,
      v.ptr,
      options.mask?.ptr ?? null,
      options.dropoutP ?? 0,
      options.isCausal ? 1 : 0,
      options.scale ?? NaN,
      options.enableGqa ? 1 : 0,
    ),
  ));
}

// -------------------------------------------------------------------- autograd, optimisation

/** Backpropagates several outputs with their incoming gradients at once. */
export function backwardMany(outputs: readonly Tensor[], grads: readonly Tensor[]): void {
  if (outputs.length !== grads.length) {
    throw new TypeError(`backwardMany: ${outputs.length} outputs but ${grads.length} gradients`);
  }
  okStatus(
    "dg_backward_many",
    lib().dg_backward_many(ptrArray(outputs, 0), ptrArray(grads, 1), outputs.length),
  );
}

/** Runs `fn` with gradient recording off (restored afterwards, also on throw). */
export function noGrad<R>(fn: () => R): R {
  const prev = okStatus("dg_set_grad_enabled", lib().dg_set_grad_enabled(0));
  try {
    return fn();
  } finally {
    lib().dg_set_grad_enabled(prev);
  }
}

/** Whether autograd currently records operations. */
export function isGradEnabled(): boolean {
  return lib().dg_is_grad_enabled() === 1;
}

/** One in-place AdamW update of `param` from its gradient (no-op without one). */
export function adamwUpdate(
  param: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  step: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
): void {
  okStatus(
    "dg_adamw_update",
    lib().dg_adamw_update(
      param.ptr,
      expAvg.ptr,
      expAvgSq.ptr,
      step,
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
    ),
  );
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const v = lib().dg_clip_grad_norm(ptrArray(params), params.length, maxNorm);
  if (Number.isNaN(v)) {
    const err = lastError();
    if (err) throw new TorchError("dg_clip_grad_norm", err);
  }
  return v;
}

// -------------------------------------------------------------------- runtime

/**
 * Native tensor handles created minus freed on this thread (this isolate or worker) — for leak
 * tests; parallel test workers each see their own count.
 */
export function liveTensors(): number {
  return lib().dg_live_count();
}
/** Seeds the global CPU and CUDA generators. */
export function manualSeed(seed: number): void {
  okStatus("dg_manual_seed", lib().dg_manual_seed(seed));
}
/** Sets libtorch's intra-op thread count. */
export function setNumThreads(n: number): void {
  okStatus("dg_set_num_threads", lib().dg_set_num_threads(n));
}
/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return okStatus("dg_get_num_threads", lib().dg_get_num_threads());
}
/** The libtorch version the shim was compiled against, and its C++ ABI flag. */
export function torchBuildInfo(): { version: string; cxx11Abi: number } {
  return { version: cString(lib().dg_torch_version()), cxx11Abi: lib().dg_cxx11_abi() };
}

/** CUDA queries of the loaded libtorch. */
export interface CudaQueries {
  /** Whether a CUDA device can be used. */
  isAvailable(): boolean;
  /** Number of CUDA devices. */
  deviceCount(): number;
  /** Waits for all work on a CUDA device. */
  synchronize(index?: number): void;
}

/** CUDA queries. */
export const cuda: CudaQueries = {
  /** Whether a CUDA device can be used. */
  isAvailable(): boolean {
    return okStatus("dg_cuda_is_available", lib().dg_cuda_is_available()) === 1;
  },
  /** Number of CUDA devices. */
  deviceCount(): number {
    return okStatus("dg_cuda_device_count", lib().dg_cuda_device_count());
  },
  /** Waits for all work on a CUDA device. */
  synchronize(index = 0): void {
    okStatus("dg_cuda_synchronize", lib().dg_cuda_synchronize(index));
  },
};
