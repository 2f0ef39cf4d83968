/**
 * Autograd beyond the per-tensor methods (several outputs at once, gradient mode) and the fused
 * optimiser steps lib/nn's AdamW runs in native code.
 * @module
 */
import { lib, okStatus, ptrArray, scalarOut } from "./bindings.ts";
import type { Tensor } from "./tensor.ts";

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

/**
 * One in-place AdamW step over `params` (each with its first and second moment, same order) with
 * libtorch's fused multi-tensor kernel, as `torch.optim.AdamW(fused=True)`; a parameter without a
 * gradient is left as is.
 */
export function adamwStep(
  params: readonly Tensor[],
  expAvgs: readonly Tensor[],
  expAvgSqs: readonly Tensor[],
  hp: { step: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): void {
  const n = params.length;
  if (expAvgs.length !== n || expAvgSqs.length !== n) {
    throw new RangeError(
      `adamwStep: ${n} params but ${expAvgs.length} / ${expAvgSqs.length} moments`,
    );
  }
  okStatus(
    "dg_adamw_step",
    lib().dg_adamw_step(
      ptrArray([...params, ...expAvgs, ...expAvgSqs]),
      n,
      hp.step,
      hp.lr,
      hp.beta1,
      hp.beta2,
      hp.eps,
      hp.weightDecay,
    ),
  );
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  okStatus(
    "dg_clip_grad_norm",
    lib().dg_clip_grad_norm(ptrArray(params), params.length, maxNorm, scalarOut),
  );
  return scalarOut[0];
}
