/**
 * LoraLinear: a frozen Linear plus a low-rank update, y = base(x) + scale·B(A(dropout(x))).
 *
 * The wrapper keeps the base parameters under their original names (`weight`, `bias`) so the base
 * checkpoint still loads by name, and adds `lora_A.weight` [r, in] and `lora_B.weight` [out, r].
 * The adapter can be switched off (for the KL reference) and merged into the base weight.
 * @module
 */
import { dropout, linear, noGrad, type Tensor, tidy, zeros } from "../../ffi/mod.ts";
import { kaimingUniform, type Linear, Module } from "../nn/mod.ts";

/** Hyper-parameters of one LoRA layer. */
export interface LoraLayerOptions {
  /** Rank r. */
  r: number;
  /** Scaling numerator α (scale = α / r). */
  alpha: number;
  /** Dropout probability on the LoRA input (training mode only). */
  dropout: number;
  /** dtype of the adapter weights (default f32, whatever the base dtype). */
  dtype?: "f32" | "f64";
}

/** A Linear layer with a LoRA adapter. */
export class LoraLinear extends Module {
  /** The wrapped (frozen) layer. */
  readonly base: Linear;
  /** Rank. */
  readonly r: number;
  /** α. */
  readonly alpha: number;
  /** α / r. */
  readonly scale: number;
  /** LoRA dropout probability. */
  readonly dropoutP: number;
  /** Whether the adapter contributes to the output. */
  enabled = true;
  #merged = false;

  /** Wraps `base`; A is Kaiming-uniform (a = √5), B is zero, so the wrapper starts as a no-op. */
  constructor(base: Linear, opts: LoraLayerOptions) {
    super();
    if (!Number.isInteger(opts.r) || opts.r < 1) {
      throw new RangeError(`LoRA rank must be a positive integer, got ${opts.r}`);
    }
    if (!(opts.dropout >= 0 && opts.dropout < 1)) {
      throw new RangeError(`LoRA dropout must be in [0, 1), got ${opts.dropout}`);
    }
    this.base = base;
    this.r = opts.r;
    this.alpha = opts.alpha;
    this.scale = opts.alpha / opts.r;
    this.dropoutP = opts.dropout;
    this.training = base.training;
    const w = base.weight;
    this.registerParameter("weight", w.requiresGrad_(false));
    if (base.bias) this.registerParameter("bias", base.bias.requiresGrad_(false));
    const [out, inF] = w.shape;
    const o = { dtype: opts.dtype ?? "f32", device: w.device } as const;
    const a = new Module();
    const b = new Module();
    this.registerModule("lora_A", a);
    this.registerModule("lora_B", b);
    setParam(a, "weight", kaimingUniform([opts.r, inF], Math.sqrt(5), o).requiresGrad_(true));
    setParam(b, "weight", zeros([out, opts.r], o).requiresGrad_(true));
  }

  /** The [r, in] down-projection. */
  get loraA(): Tensor {
    return this.getSubmodule("lora_A").getParameter("weight");
  }
  /** The [out, r] up-projection. */
  get loraB(): Tensor {
    return this.getSubmodule("lora_B").getParameter("weight");
  }
  /** Whether the update is currently folded into the base weight. */
  get merged(): boolean {
    return this.#merged;
  }

  /** y = x·Wᵀ + b (+ scale·B·A·dropout(x) when enabled and not merged), in x's dtype. */
  forward(x: Tensor): Tensor {
    const w = this.getParameter("weight");
    const b = this.hasParameter("bias") ? this.getParameter("bias") : null;
    if (!this.enabled || this.#merged) return linear(x, w, b);
    return tidy(() => {
      const base = linear(x, w, b);
      const A = this.loraA;
      const xa = x.dtype === A.dtype ? x : x.to(A.dtype);
      const xd = this.training && this.dropoutP > 0 ? dropout(xa, this.dropoutP, true) : xa;
      const upd = linear(linear(xd, A), this.loraB).mul(this.scale);
      const sum = (base.dtype === upd.dtype ? base : base.to(upd.dtype)).add(upd);
      return sum.dtype === x.dtype ? sum : sum.to(x.dtype);
    });
  }

  /** Folds scale·B·A into the base weight (in place); forward then skips the LoRA branch. */
  merge(): void {
    if (this.#merged) return;
    this.#applyDelta(1);
    this.#merged = true;
  }

  /** Undoes {@link merge} (exact up to rounding of the base dtype). */
  unmerge(): void {
    if (!this.#merged) return;
    this.#applyDelta(-1);
    this.#merged = false;
  }

  #applyDelta(sign: number): void {
    noGrad(() =>
      tidy(() => {
        const w = this.getParameter("weight");
        const delta = this.loraB.matmul(this.loraA).mul(sign * this.scale);
        const next = (w.dtype === delta.dtype ? w : w.to(delta.dtype)).add(delta);
        w.copy_(next);
      })
    );
  }
}

/** Registers `t` as parameter `name` of `m` (Module.registerParameter is protected). */
function setParam(m: Module, name: string, t: Tensor): void {
  (m as unknown as { registerParameter(n: string, t: Tensor): Tensor }).registerParameter(name, t);
}
