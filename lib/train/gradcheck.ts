/**
 * Finite-difference gradient checking for modules (used by the tests; handy when adding a layer).
 * @module
 */
import { noGrad, type Tensor, tensor } from "../../ffi/mod.ts";

/** One compared gradient entry. */
export interface GradCheckEntry {
  /** Parameter or input name. */
  name: string;
  /** Flat index inside the tensor. */
  index: number;
  /** Autograd value. */
  analytic: number;
  /** Central difference. */
  numeric: number;
  /** |a − n| / max(|a|, |n|, floor). */
  relErr: number;
  /** |a − n|. */
  absErr: number;
}

/**
 * Compares autograd gradients of the scalar `loss()` with central differences for `perTensor`
 * entries of each named tensor (the largest-|grad| entry first, then evenly spaced ones).
 * Tensors must be leaves with `requiresGrad`; use f64 for tight tolerances. `loss` must return a
 * fresh scalar tensor and may be called many times.
 */
export function gradCheck(
  loss: () => Tensor,
  tensors: [string, Tensor][],
  options: { eps?: number; perTensor?: number; floor?: number } = {},
): GradCheckEntry[] {
  const eps = options.eps ?? 1e-6;
  const per = options.perTensor ?? 3;
  const floor = options.floor ?? 1e-8;
  for (const [, t] of tensors) t.zeroGrad();
  const l = loss();
  l.backward();
  l.dispose();
  const out: GradCheckEntry[] = [];
  for (const [name, t] of tensors) {
    const g = t.grad;
    const values = t.toNumbers();
    const grad = g ? g.toNumbers() : values.map(() => 0); // no gradient = zero gradient
    g?.dispose();
    const picks = new Set<number>();
    let best = 0;
    grad.forEach((v, i) => {
      if (Math.abs(v) > Math.abs(grad[best])) best = i;
    });
    picks.add(best);
    for (let k = 1; picks.size < Math.min(per, values.length); k++) {
      picks.add(Math.floor((k * values.length) / per + k) % values.length);
    }
    for (const i of picks) {
      const at = (v: number) =>
        noGrad(() => {
          const copy = values.slice();
          copy[i] = v;
          using src = tensor(copy, t.shape, { dtype: t.dtype });
          t.copy_(src);
          using l2 = loss();
          return l2.item();
        });
      const plus = at(values[i] + eps);
      const minus = at(values[i] - eps);
      at(values[i]);
      const numeric = (plus - minus) / (2 * eps);
      const analytic = grad[i];
      const relErr = Math.abs(analytic - numeric) /
        Math.max(Math.abs(analytic), Math.abs(numeric), floor);
      out.push({ name, index: i, analytic, numeric, relErr, absErr: Math.abs(analytic - numeric) });
    }
  }
  return out;
}
