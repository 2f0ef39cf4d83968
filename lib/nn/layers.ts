/**
 * Basic layers: Linear, Embedding, RMSNorm (Hugging Face's cast order), LayerNorm, Dropout,
 * Sequential.
 * @module
 */
import {
  dropout,
  embedding,
  layerNorm,
  linear,
  ones,
  rmsNorm,
  type Tensor,
  type TensorOptions,
  tidy,
  zeros,
} from "../../ffi/mod.ts";
import { kaimingUniform, normal, uniform } from "./init.ts";
import { type Layer, Module } from "./module.ts";

/** y = x·Wᵀ + b with W [out, in] (PyTorch's default init). */
export class Linear extends Module implements Layer {
  /** Input width. */
  readonly inFeatures: number;
  /** Output width. */
  readonly outFeatures: number;
  /**
   * Kaiming-uniform weight and uniform bias (bound 1/√in), as PyTorch initialises them.
   * @param weights loaded tensors to install instead of a random initialisation (see
   *   {@link Linear.fromWeights})
   */
  constructor(
    inFeatures: number,
    outFeatures: number,
    bias = true,
    options: TensorOptions = {},
    weights?: { weight: Tensor; bias: Tensor | null },
  ) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    if (weights) {
      this.setWeights(weights.weight, weights.bias);
      return;
    }
    this.registerParameter(
      "weight",
      kaimingUniform([outFeatures, inFeatures], Math.sqrt(5), options).requiresGrad_(),
    );
    if (bias) {
      const bound = 1 / Math.sqrt(inFeatures);
      this.registerParameter("bias", uniform([outFeatures], bound, options).requiresGrad_());
    }
  }
  /**
   * A Linear holding the given tensors (no random initialisation): weight [out, in], bias [out].
   * The module takes ownership of both tensors.
   */
  static fromWeights(weight: Tensor, bias: Tensor | null = null): Linear {
    if (weight.ndim !== 2) throw new RangeError(`Linear weight must be 2-D, got [${weight.shape}]`);
    const [out, inF] = weight.shape;
    if (bias && (bias.ndim !== 1 || bias.shape[0] !== out)) {
      throw new RangeError(`Linear bias must be [${out}], got [${bias.shape}]`);
    }
    return new Linear(inF, out, bias !== null, {}, { weight, bias });
  }
  /** The [out, in] weight. */
  get weight(): Tensor {
    return this.getParameter("weight");
  }
  /** The bias, or null. */
  get bias(): Tensor | null {
    return this.hasParameter("bias") ? this.getParameter("bias") : null;
  }
  /** Replaces the weight (and bias) tensors, e.g. with loaded ones. */
  setWeights(weight: Tensor, bias?: Tensor | null): void {
    this.registerParameter("weight", weight);
    if (bias) this.registerParameter("bias", bias);
  }
  /** x [..., in] → [..., out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Lookup table [num, dim], initialised N(0, 1). */
export class Embedding extends Module {
  /**
   * N(0, 1) table, or the given one.
   * @param weight a loaded [num, dim] table to install instead of a random one
   */
  constructor(num: number, dim: number, options: TensorOptions = {}, weight?: Tensor) {
    super();
    this.registerParameter("weight", weight ?? normal([num, dim], 1, options).requiresGrad_());
  }
  /** An Embedding holding `weight` [num, dim] (no random initialisation); takes ownership. */
  static fromWeight(weight: Tensor): Embedding {
    if (weight.ndim !== 2) {
      throw new RangeError(`Embedding weight must be 2-D, got [${weight.shape}]`);
    }
    return new Embedding(weight.shape[0], weight.shape[1], {}, weight);
  }
  /** The [num, dim] table. */
  get weight(): Tensor {
    return this.getParameter("weight");
  }
  /** Replaces the table. */
  setWeight(weight: Tensor): void {
    this.registerParameter("weight", weight);
  }
  /** ids (i64) [...] → [..., dim]. */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/**
 * RMSNorm as Hugging Face computes it: cast to f32, x·rsqrt(mean(x²) + eps), cast back to the
 * input dtype, then multiply by the weight — as libtorch's one `rms_norm` op (bit-identical to
 * the op-by-op form in float32; tests/nn_modules.test.ts), with the weight inside it for float32
 * and applied after the cast otherwise (HF multiplies in the input dtype).
 */
export class RMSNorm extends Module implements Layer {
  /** Added to the mean square. */
  readonly eps: number;
  /** Weight initialised to ones. */
  constructor(dim: number, eps = 1e-6, options: TensorOptions = {}) {
    super();
    this.eps = eps;
    this.registerParameter("weight", ones([dim], options).requiresGrad_());
  }
  /** The [dim] scale. */
  get weight(): Tensor {
    return this.getParameter("weight");
  }
  /** Normalise over the last dimension. */
  forward(x: Tensor): Tensor {
    const D = [x.shape[x.ndim - 1]];
    if (x.dtype === "f32" && this.weight.dtype === "f32") {
      return rmsNorm(x, D, this.weight, this.eps);
    }
    return tidy(() => rmsNorm(x, D, null, this.eps).mul(this.weight));
  }
}

/** LayerNorm over the last dimension with weight (ones) and bias (zeros). */
export class LayerNorm extends Module implements Layer {
  /** Normalised width. */
  readonly dim: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Weight ones, bias zeros. */
  constructor(dim: number, eps = 1e-5, options: TensorOptions = {}) {
    super();
    this.dim = dim;
    this.eps = eps;
    this.registerParameter("weight", ones([dim], options).requiresGrad_());
    this.registerParameter("bias", zeros([dim], options).requiresGrad_());
  }
  /** Normalise over the last dimension. */
  forward(x: Tensor): Tensor {
    const w = this.getParameter("weight");
    return layerNorm(x, [this.dim], w, this.getParameter("bias"), this.eps);
  }
}

/** Dropout with probability p in training mode; a copy-free identity in eval mode. */
export class Dropout extends Module implements Layer {
  /** Drop probability. */
  readonly p: number;
  /**
   * Check and keep the probability.
   * @param p drop probability in [0, 1)
   */
  constructor(p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
    this.p = p;
  }
  /** Note: in eval mode (or p = 0) this returns `x` itself, not a copy. */
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p, true) : x;
  }
}

/** Applies layers in order; children are named "0", "1", … as in PyTorch. */
export class Sequential extends Module implements Layer {
  /** The layers, in order. */
  readonly layers: (Module & Layer)[];
  /** Registers `layers` as children "0", "1", …. */
  constructor(...layers: (Module & Layer)[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  /** Keeps {@link Sequential.layers} in step with a child replaced by `setSubmodule`. */
  protected override childrenChanged(): void {
    this.children().forEach(([name, m]) => (this.layers[Number(name)] = m as Module & Layer));
  }
  /** Applies the layers in order. */
  forward(x: Tensor): Tensor {
    return tidy(() => this.layers.reduce((h, l) => l.forward(h), x));
  }
}
