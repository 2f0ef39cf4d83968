/**
 * Functional ops over several tensors, and the neural-network functions (linear, embedding,
 * normalisation, dropout, cross-entropy, attention) lib/nn builds its modules from.
 * @module
 */
import { lib, ok, okStatus, ptrArray, shapeArg } from "./bindings.ts";
import { Tensor } from "./tensor.ts";

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
  const s = shapeArg(normalizedShape);
  return Tensor.fromHandle(ok(
    "dg_layer_norm",
    lib().dg_layer_norm(
      x.ptr,
      s,
      s.length,
      weight?.ptr ?? null,
      bias?.ptr ?? null,
      eps,
    ),
  ));
}
/**
 * RMS normalisation over the trailing `normalizedShape` dims, `x·rsqrt(mean(x²) + eps)·weight`,
 * as one op (`at::rms_norm`). Reduced-precision inputs are normalised in float32 and cast back
 * before the weight multiplies, in the input dtype's arithmetic (opmath) — pass `weight` null and
 * multiply afterwards for Hugging Face's order in bf16.
 */
export function rmsNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  eps: number,
): Tensor {
  const s = shapeArg(normalizedShape);
  return Tensor.fromHandle(
    ok("dg_rms_norm", lib().dg_rms_norm(x.ptr, s, s.length, weight?.ptr ?? null, eps)),
  );
}
/** Dropout with probability p; identity unless `training`. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return Tensor.fromHandle(ok("dg_dropout", lib().dg_dropout(x.ptr, p, training ? 1 : 0)));
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Target value that contributes nothing (default -100). */
  ignoreIndex?: number;
  /** Per-row losses, their mean over non-ignored rows (default), or their sum. */
  reduction?: "none" | "mean" | "sum";
  /** Label smoothing in [0, 1] (default 0). */
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
  /** Attention dropout probability (default 0). */
  dropoutP?: number;
  /** Apply a causal (lower-triangular) mask (default false). */
  isCausal?: boolean;
  /** Score scale; default 1/sqrt(head_dim). */
  scale?: number;
  /** Let k/v have fewer heads than q (grouped-query attention). */
  enableGqa?: boolean;
}
/** libtorch's SDPA kernels, in the order of their codes (at::SDPBackend). */
export const SDPA_BACKENDS = ["math", "flash", "efficient", "cudnn", "overrideable"] as const;
/** An SDPA kernel. */
export type SdpaBackend = typeof SDPA_BACKENDS[number];

/**
 * Restricts SDPA to the given kernels (process-wide; default: all). libtorch still picks per call
 * among them; {@link sdpaBackend} says which it picks.
 */
export function setSdpaBackends(allowed: readonly Exclude<SdpaBackend, "overrideable">[]): void {
  const bits = { math: 1, flash: 2, efficient: 4, cudnn: 8 };
  const mask = allowed.reduce((m, b) => {
    if (!(b in bits)) throw new RangeError(`setSdpaBackends: unknown backend "${b}"`);
    return m | bits[b];
  }, 0);
  if (mask === 0) throw new RangeError("setSdpaBackends: allow at least one backend");
  okStatus("dg_sdpa_set_backends", lib().dg_sdpa_set_backends(mask));
}

/** The kernel SDPA picks for these inputs and options (dropout aside). */
export function sdpaBackend(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: SdpaOptions = {},
): SdpaBackend {
  const code = okStatus(
    "dg_sdpa_backend",
    lib().dg_sdpa_backend(
      q.ptr,
      k.ptr,
      v.ptr,
      options.mask?.ptr ?? null,
      options.isCausal ? 1 : 0,
      options.enableGqa ? 1 : 0,
    ),
  );
  return SDPA_BACKENDS[code];
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
