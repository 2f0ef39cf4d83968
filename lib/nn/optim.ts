/**
 * AdamW (decoupled weight decay, as torch.optim.AdamW(fused=True): one fused multi-tensor kernel
 * per step) with a per-step learning rate and
 * exportable state, plus global-norm gradient clipping.
 * @module
 */
import { adamwStep, clipGradNorm, type Tensor, zeros } from "../../ffi/mod.ts";

/** AdamW hyper-parameters (torch defaults except where the caller overrides). */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.999). */
  beta2?: number;
  /** Denominator epsilon (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01). */
  weightDecay?: number;
}

/** AdamW over named parameters. State tensors are named `<param>.exp_avg` / `.exp_avg_sq`. */
export class AdamW {
  /** Optimised tensors with their names. */
  readonly params: [string, Tensor][];
  /** Learning rate. */
  readonly lr: number;
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator epsilon. */
  readonly eps: number;
  /** Decoupled weight decay. */
  readonly weightDecay: number;
  /** Number of steps taken. */
  stepCount = 0;
  readonly #moments = new Map<string, [Tensor, Tensor]>();

  /** Optimise `params` (name, tensor). */
  constructor(params: [string, Tensor][], options: AdamWOptions = {}) {
    this.params = params;
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
  }

  #moment(name: string, p: Tensor): [Tensor, Tensor] {
    let m = this.#moments.get(name);
    if (!m) {
      const opts = { dtype: p.dtype, device: p.device };
      m = [zeros(p.shape, opts).keep(), zeros(p.shape, opts).keep()];
      this.#moments.set(name, m);
    }
    return m;
  }

  /** One update of every parameter that has a gradient, with learning rate `lr`. */
  step(lr = this.lr): void {
    this.stepCount++;
    const moments = this.params.map(([name, p]) => this.#moment(name, p));
    adamwStep(this.params.map(([, p]) => p), moments.map((m) => m[0]), moments.map((m) => m[1]), {
      step: this.stepCount,
      lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
    });
  }

  /** Drops all parameter gradients. */
  zeroGrad(): void {
    for (const [, p] of this.params) p.zeroGrad();
  }

  /** Clips the global gradient norm to `maxNorm`; returns the norm before clipping. */
  clipGradNorm(maxNorm: number): number {
    return clipGradNorm(this.params.map(([, p]) => p), maxNorm);
  }

  /** Moment tensors by name (for checkpoints); the step count travels separately. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.params) {
      const [m, v] = this.#moment(name, p);
      out.set(`${name}.exp_avg`, m);
      out.set(`${name}.exp_avg_sq`, v);
    }
    return out;
  }

  /** Restores moments (copied in) and the step count from a checkpoint. */
  loadState(tensors: Map<string, Tensor>, stepCount: number): void {
    for (const [name, t] of this.stateTensors()) {
      const src = tensors.get(name);
      if (!src) throw new Error(`optimizer state is missing "${name}"`);
      t.copy_(src);
    }
    this.stepCount = stepCount;
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const [m, v] of this.#moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.#moments.clear();
  }
}

/** Linear warm-up over `warmupSteps`, then linear decay to 0 at `totalSteps` (HF's schedule). */
export function linearWarmupDecay(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}
