/**
 * The shim's symbol table, declared once: every exported C function of csrc/dgtorch.cpp with its
 * Deno FFI parameter and result types. `Deno.dlopen` takes this table as is, the call helpers in
 * bindings.ts are typed from it, and tests/ffi_table.test.ts checks it against the C source and
 * the built library's exports. Adding an op is one row here and one C function (plus the TS
 * wrapper that gives it a name and argument checks).
 *
 * The failure convention is part of the table: every row of {@link OPS} returns a handle
 * ("pointer", null = failed) or an int32 status ("i32", negative = failed, else 0 or the value);
 * the type below rejects any other result. {@link RUNTIME} holds the few queries that cannot fail.
 * Shapes and dim lists travel as f64 arrays ("buffer"), int64-exact up to 2^53.
 * @module
 */

const P = "pointer" as const;
const B = "buffer" as const;
const I = "i32" as const;
const F = "f64" as const;

/** Runtime queries that cannot fail (no status to check). */
export const RUNTIME = {
  dg_last_error: { parameters: [], result: P },
  dg_live_count: { parameters: [], result: F },
  dg_free: { parameters: [P], result: "void" },
  dg_torch_version: { parameters: [], result: P },
  dg_cxx11_abi: { parameters: [], result: I },
  dg_is_grad_enabled: { parameters: [], result: I },
  dg_op_name: { parameters: [I, I], result: P },
  dg_op_count: { parameters: [], result: F },
  dg_host_read_count: { parameters: [], result: F },
  dg_cuda_graphs_available: { parameters: [], result: I },
} as const;

/** Fallible shim functions: a handle (null = failed) or an int32 status (negative = failed). */
export const OPS = {
  // runtime
  dg_cuda_is_available: { parameters: [], result: I },
  dg_cuda_device_count: { parameters: [], result: I },
  dg_cuda_synchronize: { parameters: [I], result: I },
  dg_manual_seed: { parameters: [F], result: I },
  dg_set_num_threads: { parameters: [I], result: I },
  dg_get_num_threads: { parameters: [], result: I },
  dg_set_grad_enabled: { parameters: [I], result: I },
  dg_count_ops: { parameters: [I], result: I },
  dg_set_tf32: { parameters: [I], result: I },
  dg_cuda_memory: { parameters: [I, I, B], result: I },
  dg_cuda_graph_new: { parameters: [I], result: P },
  dg_cuda_graph_begin: { parameters: [P, I], result: I },
  dg_cuda_graph_end: { parameters: [P], result: I },
  dg_cuda_graph_replay: { parameters: [P], result: I },
  dg_cuda_graph_free: { parameters: [P], result: I },
  // queries
  dg_shape: { parameters: [P, B, I], result: I },
  dg_dtype: { parameters: [P], result: I },
  dg_device_type: { parameters: [P], result: I },
  dg_device_index: { parameters: [P], result: I },
  dg_requires_grad: { parameters: [P], result: I },
  dg_item: { parameters: [P, B], result: I },
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
  dg_index_copy_: { parameters: [P, I, P, P], result: I },
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
  dg_split: { parameters: [P, B, I, I, B], result: I },
  dg_squeeze: { parameters: [P, I], result: P },
  dg_unsqueeze: { parameters: [P, I], result: P },
  dg_repeat_interleave: { parameters: [P, I, I], result: P },
  dg_roll: { parameters: [P, I, I], result: P },
  dg_tril: { parameters: [P, I], result: P },
  dg_triu: { parameters: [P, I], result: P },
  dg_masked_fill: { parameters: [P, P, F], result: P },
  dg_where: { parameters: [P, P, P], result: P },
  // elementwise (op codes: the tables of ffi/elementwise.ts)
  dg_binary: { parameters: [I, P, P], result: P },
  dg_binary_scalar: { parameters: [I, P, F], result: P },
  dg_rsub_scalar: { parameters: [F, P], result: P },
  dg_unary: { parameters: [I, P], result: P },
  dg_clamp: { parameters: [P, F, F], result: P },
  // linear algebra, reductions
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
  dg_rms_norm: { parameters: [P, B, I, P, F], result: P },
  dg_sdpa_set_backends: { parameters: [I], result: I },
  dg_sdpa_backend: { parameters: [P, P, P, P, I, I], result: I },
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
  dg_adamw_step: { parameters: [B, I, F, F, F, F, F, F], result: I },
  dg_clip_grad_norm: { parameters: [B, I, F, B], result: I },
} as const satisfies Record<
  string,
  { parameters: readonly Deno.NativeType[]; result: "i32" | "pointer" }
>;

/** The whole symbol table handed to `Deno.dlopen`. */
export const SYMBOLS = { ...RUNTIME, ...OPS } as const;

type Ops = typeof OPS;
/** Shim functions returning a tensor handle (null = failed). */
export type HandleOp = {
  [K in keyof Ops]: Ops[K]["result"] extends "pointer" ? K : never;
}[keyof Ops];
/** Shim functions returning an int32 status (negative = failed). */
export type StatusOp = { [K in keyof Ops]: Ops[K]["result"] extends "i32" ? K : never }[keyof Ops];
