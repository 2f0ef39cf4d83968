/**
 * The raw Deno.dlopen binding of the C shim (csrc/dgtorch.cpp). Everything here is untyped
 * pointers and codes; ffi/tensor.ts wraps it in a safe API. Per-op calls stay on Deno's fast
 * path: number and typed-array arguments, pointer handles, no BigInt results, no `nonblocking`.
 * @module
 */
import { ensureShim } from "./native.ts";
import { NativeLibraryError } from "./errors.ts";

const P = "pointer" as const;
const B = "buffer" as const;
const I = "i32" as const;
const F = "f64" as const;

const symbols = {
  dg_last_error: { parameters: [], result: P },
  dg_live_count: { parameters: [], result: F },
  dg_free: { parameters: [P], result: "void" },
  dg_torch_version: { parameters: [], result: P },
  dg_cxx11_abi: { parameters: [], result: I },
  dg_cuda_is_available: { parameters: [], result: I },
  dg_cuda_device_count: { parameters: [], result: I },
  dg_cuda_synchronize: { parameters: [I], result: I },
  dg_manual_seed: { parameters: [F], result: I },
  dg_set_num_threads: { parameters: [I], result: I },
  dg_get_num_threads: { parameters: [], result: I },
  dg_set_grad_enabled: { parameters: [I], result: I },
  dg_is_grad_enabled: { parameters: [], result: I },
  // queries
  dg_ndim: { parameters: [P], result: I },
  dg_shape: { parameters: [P, B], result: I },
  dg_dtype: { parameters: [P], result: I },
  dg_device_type: { parameters: [P], result: I },
  dg_device_index: { parameters: [P], result: I },
  dg_numel: { parameters: [P], result: F },
  dg_requires_grad: { parameters: [P], result: I },
  dg_is_contiguous: { parameters: [P], result: I },
  dg_item: { parameters: [P], result: F },
  // creation and copies
  dg_from_data: { parameters: [B, F, B, I, I], result: P },
  dg_from_file: { parameters: [B, F, F, B, I, I, I, I, I], result: P },
  dg_copy_to_host: { parameters: [P, B, F], result: I },
  dg_empty: { parameters: [B, I, I, I, I], result: P },
  dg_zeros: { parameters: [B, I, I, I, I], result: P },
  dg_ones: { parameters: [B, I, I, I, I], result: P },
  dg_full: { parameters: [B, I, F, I, I, I], result: P },
  dg_arange: { parameters: [F, F, F, I, I, I], result: P },
  dg_rand: { parameters: [B, I, I, I, I], result: P },
  dg_randn: { parameters: [B, I, I, I, I], result: P },
  dg_randint: { parameters: [F, F, B, I, I, I, I], result: P },
  dg_multinomial: { parameters: [P, I, I], result: P },
  dg_to_dtype: { parameters: [P, I], result: P },
  dg_to_device: { parameters: [P, I, I], result: P },
  dg_clone: { parameters: [P], result: P },
  dg_contiguous: { parameters: [P], result: P },
  dg_copy_: { parameters: [P, P], result: I },
  // views and layout
  dg_reshape: { parameters: [P, B, I], result: P },
  dg_view: { parameters: [P, B, I], result: P },
  dg_expand: { parameters: [P, B, I], result: P },
  dg_permute: { parameters: [P, B, I], result: P },
  dg_transpose: { parameters: [P, I, I], result: P },
  dg_narrow: { parameters: [P, I, I, I], result: P },
  dg_slice: { parameters: [P, I, I, I, I], result: P },
  dg_select: { parameters: [P, I, I], result: P },
  dg_index_select: { parameters: [P, I, P], result: P },
  dg_gather: { parameters: [P, I, P], result: P },
  dg_scatter: { parameters: [P, I, P, P], result: P },
  dg_index_add: { parameters: [P, I, P, P], result: P },
  dg_cat: { parameters: [B, I, I], result: P },
  dg_stack: { parameters: [B, I, I], result: P },
  dg_squeeze: { parameters: [P, I], result: P },
  dg_unsqueeze: { parameters: [P, I], result: P },
  dg_repeat_interleave: { parameters: [P, I, I], result: P },
  dg_tril: { parameters: [P, I], result: P },
  dg_triu: { parameters: [P, I], result: P },
  dg_masked_fill: { parameters: [P, P, F], result: P },
  dg_where: { parameters: [P, P, P], result: P },
  // math
  dg_binary: { parameters: [I, P, P], result: P },
  dg_binary_scalar: { parameters: [I, P, F], result: P },
  dg_rsub_scalar: { parameters: [F, P], result: P },
  dg_unary: { parameters: [I, P], result: P },
  dg_clamp: { parameters: [P, F, F], result: P },
  dg_matmul: { parameters: [P, P], result: P },
  dg_bmm: { parameters: [P, P], result: P },
  dg_linear: { parameters: [P, P, P], result: P },
  dg_softmax: { parameters: [P, I], result: P },
  dg_log_softmax: { parameters: [P, I], result: P },
  dg_sum: { parameters: [P, B, I, I], result: P },
  dg_mean: { parameters: [P, B, I, I], result: P },
  dg_max_all: { parameters: [P], result: P },
  dg_min_all: { parameters: [P], result: P },
  dg_max_dim: { parameters: [P, I, I, B], result: I },
  dg_min_dim: { parameters: [P, I, I, B], result: I },
  dg_topk: { parameters: [P, I, I, I, I, B], result: I },
  dg_sort: { parameters: [P, I, I, B], result: I },
  dg_argmax: { parameters: [P, I, I], result: P },
  dg_cumsum: { parameters: [P, I], result: P },
  dg_norm: { parameters: [P, F], result: P },
  dg_any: { parameters: [P], result: P },
  // nn
  dg_embedding: { parameters: [P, P], result: P },
  dg_layer_norm: { parameters: [P, B, I, P, P, F], result: P },
  dg_dropout: { parameters: [P, F, I], result: P },
  dg_cross_entropy: { parameters: [P, P, I, I, F], result: P },
  dg_sdpa: { parameters: [P, P, P, P, F, I, F, I], result: P },
  // autograd and optimisation
  dg_set_requires_grad: { parameters: [P, I], result: I },
  dg_backward: { parameters: [P, P, I], result: I },
  dg_backward_many: { parameters: [B, B, I], result: I },
  dg_has_grad: { parameters: [P], result: I },
  dg_grad: { parameters: [P], result: P },
  dg_zero_grad: { parameters: [P], result: I },
  dg_detach: { parameters: [P], result: P },
  dg_adamw_update: { parameters: [P, P, P, F, F, F, F, F, F], result: I },
  dg_clip_grad_norm: { parameters: [B, I, F], result: F },
} as const;

/** The symbol table type of the shim. */
export type ShimSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

let lib: ShimSymbols | null = null;

/** The loaded shim (loaded, and built if needed, on first call). */
export function shim(): ShimSymbols {
  if (lib) return lib;
  const path = ensureShim();
  try {
    lib = Deno.dlopen(path, symbols).symbols;
  } catch (e) {
    throw new NativeLibraryError(`cannot load the native shim ${path}: ${(e as Error).message}`);
  }
  return lib;
}

/** The shim's last error message (empty when the last call succeeded). */
export function lastError(): string {
  const p = shim().dg_last_error();
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** Reads a C string result. */
export function cString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}
