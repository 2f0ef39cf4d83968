/**
 * MultiLayerAggregator: combines the last L hidden states of the decoder ([B,T,H] each, in the
 * order of the hidden-states list) into one [B,T,H] tensor per token.
 *
 * Methods (l = 0..L−1 in list order):
 * - `attention`: q = Wq(mean_l h_l), k_l = Wk(h_l), v_l = Wv(h_l), a = softmax_l(q·k_l/√H) per
 *   token, out = Wo(Σ_l a_l v_l).
 * - `weighted`: Σ_l softmax(layer_logits)_l h_l.
 * - `concat`: proj(cat(h_0..h_{L−1}, −1)).
 * - `average`: mean_l h_l.
 * - `last_layer`: h_{L−1}.
 *
 * Parameter names are those of `security_components.safetensors` without the `aggregator.` prefix.
 *
 * Initialisation ({@link AggregatorInit}): `xavier` (Xavier-uniform weights, zero biases; the
 * `clean` training recipe) or `torch` (PyTorch's `nn.Linear` default, Kaiming-uniform a = √5 and
 * bias U(±1/√fan_in): upstream DeepGuard never re-initialises its aggregator, deepguard/train.py:26-29).
 * @module
 */
import { cat, stack, type Tensor, type TensorOptions, tidy, zeros } from "../../ffi/mod.ts";
import { Linear, Module, xavierUniform } from "../nn/mod.ts";

/** The aggregation methods, in the order the CLI lists them. */
export const AGGREGATIONS = ["attention", "weighted", "concat", "average", "last_layer"] as const;

/** One of {@link AGGREGATIONS}. */
export type Aggregation = typeof AGGREGATIONS[number];

/** Error for a bad aggregation name or a hidden-state list that does not fit the aggregator. */
export class AggregationError extends Error {
  /** Error class name. */
  override name = "AggregationError";
}

/** Parses an aggregation name; throws {@link AggregationError} naming the valid choices. */
export function parseAggregation(name: string): Aggregation {
  if ((AGGREGATIONS as readonly string[]).includes(name)) return name as Aggregation;
  throw new AggregationError(
    `unknown aggregation "${name}": expected one of ${AGGREGATIONS.join(", ")}`,
  );
}

/** How the aggregator's Linear layers are initialised (see the module doc). */
export type AggregatorInit = "xavier" | "torch";

/** Options of {@link MultiLayerAggregator}: tensor placement and the Linear initialisation. */
export interface AggregatorOptions extends TensorOptions {
  /** Linear initialisation (default `xavier`). */
  init?: AggregatorInit;
}

/** A Linear layer with Xavier-uniform weight and zero bias (the security components' init). */
export function xavierLinear(
  inFeatures: number,
  outFeatures: number,
  options: TensorOptions = {},
): Linear {
  const lin = new Linear(inFeatures, outFeatures, true, options);
  lin.setWeights(
    xavierUniform([outFeatures, inFeatures], options),
    zeros([outFeatures], options),
  );
  return lin;
}

/** Combines the last `numLayers` hidden states into one representation per token. */
export class MultiLayerAggregator extends Module {
  /** Aggregation method. */
  readonly kind: Aggregation;
  /** Number of hidden states L it consumes. */
  readonly numLayers: number;
  /** Hidden size H. */
  readonly hiddenSize: number;

  /**
   * Builds an aggregator with freshly initialised parameters.
   * @param kind aggregation method
   * @param numLayers L ≥ 1
   * @param hiddenSize H ≥ 1
   * @param options dtype/device of the parameters (default f32 on the CPU) and the Linear init
   */
  constructor(
    kind: Aggregation,
    numLayers: number,
    hiddenSize: number,
    options: AggregatorOptions = {},
  ) {
    super();
    this.kind = parseAggregation(kind);
    if (!Number.isInteger(numLayers) || numLayers < 1) {
      throw new AggregationError(`number of layers must be a positive integer, got ${numLayers}`);
    }
    this.numLayers = numLayers;
    this.hiddenSize = hiddenSize;
    const { init = "xavier", ...o } = options;
    if (init !== "xavier" && init !== "torch") {
      throw new AggregationError(`aggregator init must be xavier or torch, got ${init}`);
    }
    const linear = (i: number, out: number) =>
      init === "torch" ? new Linear(i, out, true, o) : xavierLinear(i, out, o);
    if (kind === "attention") {
      for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
        this.registerModule(n, linear(hiddenSize, hiddenSize));
      }
    } else if (kind === "weighted") {
      this.registerParameter("layer_logits", zeros([numLayers], o));
    } else if (kind === "concat") {
      this.registerModule("proj", linear(numLayers * hiddenSize, hiddenSize));
    }
    this.unfreeze();
  }

  #lin(name: string): Linear {
    return this.getSubmodule(name) as Linear;
  }

  /** The dtype of the parameters (inputs are cast to it); f32 for parameter-free methods. */
  #dtype(): Tensor["dtype"] | null {
    const p = this.parameters()[0];
    return p ? p.dtype : null;
  }

  /**
   * Aggregates `hidden` (exactly L tensors [B,T,H], list order) into [B,T,H]. Inputs are cast to
   * the parameters' dtype (f32 components over a bf16 base model).
   */
  forward(hidden: readonly Tensor[]): Tensor {
    if (hidden.length !== this.numLayers) {
      throw new AggregationError(
        `aggregator expects ${this.numLayers} hidden states, got ${hidden.length}`,
      );
    }
    for (const h of hidden) {
      if (h.shape[h.ndim - 1] !== this.hiddenSize) {
        throw new AggregationError(
          `hidden state of width ${
            h.shape[h.ndim - 1]
          } given to an aggregator of hidden size ${this.hiddenSize}`,
        );
      }
    }
    return tidy(() => {
      const dt = this.#dtype() ?? hidden[0].dtype;
      const hs = hidden.map((h) => (h.dtype === dt ? h : h.to(dt)));
      switch (this.kind) {
        case "last_layer":
          return hs[hs.length - 1].clone();
        case "average":
          return stack(hs, 0).mean(0);
        case "weighted": {
          const w = this.getParameter("layer_logits").softmax(0).reshape([-1, 1, 1, 1]);
          return stack(hs, 0).mul(w).sum(0);
        }
        case "concat":
          return this.#lin("proj").forward(cat(hs, -1));
        case "attention": {
          const st = stack(hs, 0); // [L,B,T,H]
          const q = this.#lin("q_proj").forward(st.mean(0)); // [B,T,H]
          const k = this.#lin("k_proj").forward(st);
          const v = this.#lin("v_proj").forward(st);
          const scores = k.mul(q.unsqueeze(0)).sum(-1).div(Math.sqrt(this.hiddenSize)); // [L,B,T]
          const a = scores.softmax(0).unsqueeze(-1);
          return this.#lin("o_proj").forward(a.mul(v).sum(0));
        }
      }
    });
  }
}
