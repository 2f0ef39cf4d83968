/**
 * The Tensor type: a safe, typed handle over a libtorch tensor living in the C shim.
 *
 * Memory: every tensor owns one native handle. Free it with `dispose()` (or `using`), or create it
 * inside `tidy()`; a FinalizationRegistry frees handles that were garbage collected undisposed as
 * a safety net. Using a disposed tensor, or disposing it twice, throws {@link DisposedTensorError}.
 *
 * The elementwise methods (`add`, `mul`, `exp`, …) are derived from the tables of
 * elementwise.ts; every other method calls its shim function directly, typed by ops.ts.
 * @module
 */
import {
  dimsArg,
  lib,
  ok,
  okNamed,
  okStatus,
  scalarOut,
  shapeArg,
  viewShapeArg,
} from "./bindings.ts";
import {
  type Device,
  type DType,
  DTYPE_SIZE,
  dtypeCode,
  DTYPES,
  type HostArray,
  hostView,
} from "./dtype.ts";
import { BINARY, type ElementwiseMethods, UNARY, UNARY_CODE } from "./elementwise.ts";
import { DisposedTensorError } from "./errors.ts";
import type { HandleOp, StatusOp } from "./ops.ts";
import { checkDevice } from "./runtime.ts";
import { type Scoped, track, untrack } from "./scope.ts";

const finalizer = new FinalizationRegistry<Deno.PointerObject>((p) => lib().dg_free(p));
const shapeOut = new Float64Array(64);

function pair(op: StatusOp, run: (out: BigUint64Array) => number): [Tensor, Tensor] {
  const out = new BigUint64Array(2);
  okStatus(op, run(out));
  return [
    Tensor.fromHandle(Deno.UnsafePointer.create(out[0])!),
    Tensor.fromHandle(Deno.UnsafePointer.create(out[1])!),
  ];
}

/** Two tensors from a reduction that returns values and their indices. */
export interface ValuesIndices {
  /** The selected values. */
  values: Tensor;
  /** Their indices along the reduced dimension (i64). */
  indices: Tensor;
}

/**
 * The elementwise methods of {@link Tensor}, one per row of elementwise.ts: binary `add`, `sub`,
 * `mul`, `div`, `pow`, `maximum`, `minimum` (with a number: clamp), `eq`, `ne`, `lt`, `le`, `gt`,
 * `ge` (bool results), `logicalAnd`, `logicalOr`; unary `neg`, `exp`, `log`, `sqrt`, `rsqrt`,
 * `abs`, `relu`, `silu`, `sigmoid`, `tanh`, `sin`, `cos`, `logicalNot`, `isnan`, `isfinite`,
 * `sign`. All broadcast and return new tensors.
 */
export interface Tensor extends ElementwiseMethods<Tensor> {}

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

  #wrap(op: HandleOp, p: Deno.PointerValue): Tensor {
    return new Tensor(ok(op, p));
  }

  // ------------------------------------------------------------------ queries
  /** Sizes of each dimension. */
  get shape(): readonly number[] {
    if (this.#shape === null) {
      const n = okStatus("dg_shape", lib().dg_shape(this.ptr, shapeOut, shapeOut.length));
      this.#shape = Object.freeze(Array.from(shapeOut.subarray(0, n)));
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
      this.#dtype = DTYPES[okStatus("dg_dtype", lib().dg_dtype(this.ptr))];
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
    okStatus("dg_item", lib().dg_item(this.ptr, scalarOut));
    return scalarOut[0];
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
  /** Writes `src`'s slices along `dim` at `index` (i64 [n]) in place, as one op; returns `this`. */
  indexCopy_(dim: number, index: Tensor, src: Tensor): this {
    okStatus("dg_index_copy_", lib().dg_index_copy_(this.ptr, dim, index.ptr, src.ptr));
    return this;
  }

  // ------------------------------------------------------------------ views, layout
  /** Reshape (a view when possible). One dim may be -1. */
  reshape(shape: readonly number[]): Tensor {
    const s = viewShapeArg(shape);
    return this.#wrap("dg_reshape", lib().dg_reshape(this.ptr, s, s.length));
  }
  /** A view with another shape (the tensor must be compatible). */
  view(shape: readonly number[]): Tensor {
    const s = viewShapeArg(shape);
    return this.#wrap("dg_view", lib().dg_view(this.ptr, s, s.length));
  }
  /** Broadcast view to a larger shape (-1 keeps a dim). */
  expand(shape: readonly number[]): Tensor {
    const s = viewShapeArg(shape);
    return this.#wrap("dg_expand", lib().dg_expand(this.ptr, s, s.length));
  }
  /** Reorders dimensions. */
  permute(dims: readonly number[]): Tensor {
    return this.#wrap("dg_permute", lib().dg_permute(this.ptr, dimsArg(dims), dims.length));
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
  /** Consecutive pieces of `sizes` along `dim`, as views (one op; the sizes must sum to the dim). */
  split(sizes: readonly number[], dim: number): Tensor[] {
    const out = new BigUint64Array(sizes.length);
    const s = shapeArg(sizes);
    okStatus("dg_split", lib().dg_split(this.ptr, s, s.length, dim, out));
    return [...out].map((h) => Tensor.fromHandle(Deno.UnsafePointer.create(h)!));
  }
  /** Repeats each element `repeats` times along `dim`. */
  repeatInterleave(repeats: number, dim: number): Tensor {
    return this.#wrap(
      "dg_repeat_interleave",
      lib().dg_repeat_interleave(this.ptr, repeats, dim),
    );
  }
  /** Rotates the entries along `dim` by `shift` (torch.roll): entry i moves to i + shift. */
  roll(shift: number, dim: number): Tensor {
    return this.#wrap("dg_roll", lib().dg_roll(this.ptr, shift, dim));
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
  /** GELU (exact erf form, or the tanh approximation). */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    const name = approximate === "tanh" ? "geluTanh" : "gelu";
    return new Tensor(okNamed(`dg_${name}`, lib().dg_unary(UNARY_CODE[name], this.ptr)));
  }
  /** scalar − this. */
  rsub(scalar: number): Tensor {
    return this.#wrap("dg_rsub_scalar", lib().dg_rsub_scalar(scalar, this.ptr));
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
    const d = typeof dims === "number" ? [dims] : dims;
    return this.#wrap("dg_sum", lib().dg_sum(this.ptr, dimsArg(d), d.length, keepdim ? 1 : 0));
  }
  /** Mean over `dims` (all elements when omitted). */
  mean(dims: number | readonly number[] = [], keepdim = false): Tensor {
    const d = typeof dims === "number" ? [dims] : dims;
    return this.#wrap("dg_mean", lib().dg_mean(this.ptr, dimsArg(d), d.length, keepdim ? 1 : 0));
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

// The elementwise methods, one per table row; the op code is the row index. Errors name the op
// (`dg_add`), as the shim's dispatcher `dg_binary` serves them all.
for (const [code, [name, method, scalar]] of BINARY.entries()) {
  const label = `dg_${name}`;
  const impl = scalar
    ? function (this: Tensor, other: Tensor | number): Tensor {
      const p = typeof other === "number"
        ? lib().dg_binary_scalar(code, this.ptr, other)
        : lib().dg_binary(code, this.ptr, other.ptr);
      return Tensor.fromHandle(okNamed(label, p));
    }
    : function (this: Tensor, other: Tensor): Tensor {
      return Tensor.fromHandle(okNamed(label, lib().dg_binary(code, this.ptr, other.ptr)));
    };
  Object.defineProperty(Tensor.prototype, method, { value: impl, writable: true });
}
for (const [code, [name, method]] of UNARY.entries()) {
  if (method === null) continue;
  const label = `dg_${name}`;
  Object.defineProperty(Tensor.prototype, method, {
    value: function (this: Tensor): Tensor {
      return Tensor.fromHandle(okNamed(label, lib().dg_unary(code, this.ptr)));
    },
    writable: true,
  });
}
