/**
 * The Qwen2 / Llama decoder, composed from ffi ops and lib/nn modules, matching HF transformers'
 * forward (see docs/models.md). Every submodule sits at its HF dotted name
 * (`model.layers.3.self_attn.q_proj`), so a checkpoint loads by name and a training engineer can
 * replace any projection (LoRA) with `model.setSubmodule(name, wrapper)`: the forward always looks
 * its children up by name, never through cached fields.
 *
 * Shapes: B batch, S new positions, P cached positions, D hidden, H heads, K kv heads, d head_dim.
 *
 * @module
 */

import {
  arange,
  type Device,
  type DType,
  isGradEnabled,
  linear,
  scaledDotProductAttention,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../ffi/mod.ts";
import { type Layer, Linear, Module, type RMSNorm } from "../nn/mod.ts";
import type { ModelConfig } from "./config.ts";
import type { KVCache } from "./kv_cache.ts";
import { applyRope, invFreqTensor, type RopeTables, ropeTables } from "./rope.ts";

/** Most negative finite value per dtype (HF's additive mask value, `torch.finfo(dtype).min`). */
export const FINFO_MIN: Readonly<Record<string, number>> = {
  f32: -3.4028234663852886e38,
  bf16: -3.3895313892515355e38,
  f16: -65504,
  f64: -1.7976931348623157e308,
};

/** Per-forward data shared by all layers (positions, mask, cache). */
export interface LayerContext {
  /** RoPE tables for the new positions. */
  rope: RopeTables;
  /** Additive mask [B,1,S,P+S] (0 allowed, finfo.min masked), or null. */
  mask: Tensor | null;
  /** Use SDPA's built-in causal mask (only when P = 0 and no padding). */
  isCausal: boolean;
  /** KV cache to read/write, or null. */
  cache: KVCache | null;
}

/**
 * Linear layers whose weights (and biases) are row blocks of one matrix, so inference can run
 * them as a single GEMM (q/k/v; gate/up). The Linear modules stay separate, replaceable modules;
 * their parameters are contiguous views into the shared matrix. The fused path is used only when
 * every module and weight is still the original one, in eval mode, with autograd off — LoRA
 * wrappers, replaced weights and training all take the per-module path.
 */
export class FusedLinears {
  /** [sum of out features, in] matrix holding every member's weight. */
  readonly weight: Tensor;
  /** Concatenated biases, or null. */
  readonly bias: Tensor | null;
  /** Member modules in row order. */
  readonly members: readonly Linear[];
  readonly #weights: readonly Tensor[];
  readonly #sizes: readonly number[];

  /**
   * Group `members` whose weights already live in `weight`.
   * @param weight the shared [Σout, in] matrix
   * @param bias the shared bias, or null
   * @param members Linear modules whose weights are consecutive row views of `weight`
   */
  constructor(weight: Tensor, bias: Tensor | null, members: Linear[]) {
    this.weight = weight.keep();
    this.bias = bias ? bias.keep() : null;
    this.members = members;
    this.#weights = members.map((m) => m.weight);
    this.#sizes = members.map((m) => m.weight.shape[0]);
  }

  /** Whether `current` (the modules now registered) can use the fused GEMM. */
  usable(current: readonly Module[], training: boolean): boolean {
    if (training || isGradEnabled()) return false;
    return current.every((m, i) =>
      m === this.members[i] && this.members[i].weight === this.#weights[i]
    );
  }

  /** One GEMM, split into the members' outputs (views along the last dim). */
  forward(x: Tensor): Tensor[] {
    const y = linear(x, this.weight, this.bias);
    let off = 0;
    return this.#sizes.map((n) => {
      const part = y.narrow(-1, off, n);
      off += n;
      return part;
    });
  }

  /** Free the shared storage handles (the members' views are freed with the module tree). */
  dispose(): void {
    for (const t of [this.weight, this.bias]) if (t && !t.isDisposed) t.dispose();
  }
}

/** Grouped-query self-attention with RoPE (`self_attn`). */
export class Attention extends Module {
  /** Index of the owning layer (selects its KV cache slot). */
  readonly layerIdx: number;
  /** Fused q/k/v weights for inference, or null. */
  readonly fused: FusedLinears | null;
  readonly #cfg: ModelConfig;

  /**
   * Register the projections under their HF names.
   * @param cfg model config
   * @param layerIdx layer index (KV cache slot)
   * @param p the four projections
   * @param fused q/k/v fused for inference, or null
   */
  constructor(
    cfg: ModelConfig,
    layerIdx: number,
    p: Projections,
    fused: FusedLinears | null = null,
  ) {
    super();
    this.#cfg = cfg;
    this.layerIdx = layerIdx;
    this.fused = fused;
    for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"] as const) this.registerModule(n, p[n]);
  }

  #proj(name: string): Layer {
    return this.getSubmodule(name) as unknown as Layer;
  }

  #qkv(x: Tensor): Tensor[] {
    const mods = ["q_proj", "k_proj", "v_proj"].map((n) => this.getSubmodule(n));
    if (this.fused?.usable(mods, this.training)) return this.fused.forward(x);
    return mods.map((m) => (m as unknown as Layer).forward(x));
  }

  /** x [B,S,D] → [B,S,D]. */
  forward(x: Tensor, ctx: LayerContext): Tensor {
    const { numHeads: H, numKvHeads: K, headDim: d } = this.#cfg;
    const [B, S] = x.shape;
    const [qp, kp, vp] = this.#qkv(x);
    const q = applyRope(qp.view([B, S, H, d]).transpose(1, 2), ctx.rope);
    let k = applyRope(kp.view([B, S, K, d]).transpose(1, 2), ctx.rope);
    let v = vp.view([B, S, K, d]).transpose(1, 2);
    if (ctx.cache) [k, v] = ctx.cache.update(this.layerIdx, k, v);
    const o = scaledDotProductAttention(q, k, v, {
      mask: ctx.mask,
      isCausal: ctx.isCausal,
      dropoutP: this.training ? this.#cfg.attentionDropout : 0,
      scale: 1 / Math.sqrt(d),
      enableGqa: K !== H,
    });
    return this.#proj("o_proj").forward(o.transpose(1, 2).reshape([B, S, H * d]));
  }
}

/** The four attention projections of one layer. */
export interface Projections {
  /** [H·d, D] query projection. */
  q_proj: Linear;
  /** [K·d, D] key projection. */
  k_proj: Linear;
  /** [K·d, D] value projection. */
  v_proj: Linear;
  /** [D, H·d] output projection. */
  o_proj: Linear;
}

/** SiLU-gated MLP (`mlp`): down(silu(gate(x)) · up(x)). */
export class MLP extends Module {
  /** Fused gate/up weights for inference, or null. */
  readonly fused: FusedLinears | null;

  /** Register gate/up/down (HF names) and the optional fused gate/up. */
  constructor(gate: Linear, up: Linear, down: Linear, fused: FusedLinears | null = null) {
    super();
    this.fused = fused;
    this.registerModule("gate_proj", gate);
    this.registerModule("up_proj", up);
    this.registerModule("down_proj", down);
  }

  /** x [B,S,D] → [B,S,D]. */
  forward(x: Tensor): Tensor {
    const mods = ["gate_proj", "up_proj"].map((n) => this.getSubmodule(n));
    const [g, u] = this.fused?.usable(mods, this.training)
      ? this.fused.forward(x)
      : mods.map((m) => (m as unknown as Layer).forward(x));
    return (this.getSubmodule("down_proj") as unknown as Layer).forward(g.silu().mul(u));
  }
}

/** One pre-norm decoder layer (`model.layers.{i}`). */
export class DecoderLayer extends Module {
  /** Layer index. */
  readonly index: number;

  /** Register the four submodules under their HF names. */
  constructor(index: number, attn: Attention, mlp: MLP, inNorm: RMSNorm, postNorm: RMSNorm) {
    super();
    this.index = index;
    this.registerModule("input_layernorm", inNorm);
    this.registerModule("self_attn", attn);
    this.registerModule("post_attention_layernorm", postNorm);
    this.registerModule("mlp", mlp);
  }

  /** h [B,S,D] → h + attn(norm(h)), then + mlp(norm(·)). Frees its intermediates. */
  forward(h: Tensor, ctx: LayerContext): Tensor {
    return tidy(() => {
      const g = <T extends Module>(n: string) => this.getSubmodule(n) as T;
      const r = h.add(
        g<Attention>("self_attn").forward(g<RMSNorm>("input_layernorm").forward(h), ctx),
      );
      return r.add(g<MLP>("mlp").forward(g<RMSNorm>("post_attention_layernorm").forward(r)));
    });
  }
}

/** Options of {@link DecoderLM.forward}. */
export interface ForwardOptions {
  /**
   * 1/0 mask over all positions [B, P+S] (cached + new), as a Tensor or nested array.
   * Default: all ones (no padding).
   */
  attentionMask?: Tensor | readonly (readonly number[])[];
  /** Position ids [B,S]. Default `P + arange(S)` for every row (HF's plain-forward default). */
  positionIds?: Tensor | readonly (readonly number[])[];
  /** KV cache; positions [0,P) are read from it, [P,P+S) written, then `cache.length += S`. */
  cache?: KVCache | null;
  /** Return the N+1 hidden states with HF `output_hidden_states` semantics. */
  outputHiddenStates?: boolean;
  /** Compute logits only for the last `n` positions (0 = all; generation uses 1). */
  logitsToKeep?: number;
}

/** Result of {@link DecoderLM.forward}. */
export interface ForwardOutput {
  /** [B, S or logitsToKeep, vocab] in the activation dtype. */
  logits: Tensor;
  /**
   * N+1 tensors [B,S,D]: embeddings, outputs of layers 0..N−2, then the FINAL-NORMED output of
   * the last layer (transformers' semantics). Present only with `outputHiddenStates`.
   */
  hiddenStates?: Tensor[];
}

/** Model body (`model`): embed_tokens, layers, norm. */
export class DecoderBody extends Module {
  /** Register embed_tokens, layers.{i} and norm. */
  constructor(embed: Module, layers: DecoderLayer[], norm: RMSNorm) {
    super();
    this.registerModule("embed_tokens", embed);
    const list = this.registerModule("layers", new Module());
    layers.forEach((l, i) => list.registerModule(String(i), l));
    this.registerModule("norm", norm);
  }
}

function toIdTensor(x: Tensor | readonly (readonly number[])[], device: Device): Tensor {
  if (!Array.isArray(x)) return x as Tensor;
  const rows = x as readonly (readonly number[])[];
  const flat = new BigInt64Array(rows.flatMap((r) => r.map((v) => BigInt(v))));
  return tensor(flat, [rows.length, rows[0]?.length ?? 0], { dtype: "i64", device });
}

/**
 * A causal LM (`Qwen2ForCausalLM` / `LlamaForCausalLM`): module tree `model.*` + `lm_head`
 * (the embedding matrix when tied; then `lm_head` is not a registered child, as HF does not list
 * tied parameters twice).
 */
export class DecoderLM extends Module {
  /** Parsed config. */
  readonly config: ModelConfig;
  /** Activation / weight dtype. */
  readonly dtype: DType;
  /** Device of the weights. */
  readonly device: Device;
  readonly #invFreq: Tensor;
  readonly #tiedHead: Linear | null;

  /**
   * Assemble from already built submodules (see `load.ts` for building from a checkpoint).
   * @param lmHead the head, or null when tied (then the embedding matrix is used)
   */
  constructor(
    cfg: ModelConfig,
    body: DecoderBody,
    lmHead: Linear | null,
    dtype: DType,
    device: Device,
  ) {
    super();
    this.config = cfg;
    this.dtype = dtype;
    this.device = device;
    this.registerModule("model", body);
    if (lmHead) {
      this.registerModule("lm_head", lmHead);
      this.#tiedHead = null;
    } else {
      const w = (body.getSubmodule("embed_tokens") as Module).getParameter("weight");
      this.#tiedHead = Linear.fromWeights(w);
    }
    this.#invFreq = invFreqTensor(cfg, device).keep();
    this.eval();
  }

  /** The decoder layers, in order (`model.layers.{i}`). */
  get layers(): DecoderLayer[] {
    const list = this.getSubmodule("model.layers");
    return list.children().map(([, m]) => m as DecoderLayer);
  }

  /** Token embeddings: ids [B,S] (i64) → [B,S,D]. */
  embed(ids: Tensor): Tensor {
    return (this.getSubmodule("model.embed_tokens") as unknown as Layer).forward(ids);
  }

  /** Final RMSNorm (`model.norm`). */
  finalNorm(h: Tensor): Tensor {
    return (this.getSubmodule("model.norm") as RMSNorm).forward(h);
  }

  /** Output projection (`lm_head`, or the tied embedding matrix). */
  lmHead(h: Tensor): Tensor {
    return (this.#tiedHead ?? (this.getSubmodule("lm_head") as unknown as Layer)).forward(h);
  }

  /**
   * The output projection's weight [V, D] (`lm_head`, or the tied embedding matrix), for code that
   * differentiates through the head by hand (the chunked vocabulary loss).
   */
  lmHeadWeight(): Tensor {
    const head = this.#tiedHead ?? this.getSubmodule("lm_head");
    if (!(head instanceof Linear) || head.bias !== null) {
      throw new TypeError("lmHeadWeight: the output head is not a bias-free Linear");
    }
    return head.weight;
  }

  /**
   * Build the per-forward context for `S` new positions of a batch of `B` rows.
   * Caller owns the returned tensors (create it inside a `tidy`).
   */
  context(B: number, S: number, opts: ForwardOptions = {}): LayerContext {
    const cache = opts.cache ?? null;
    const P = cache ? cache.length : 0;
    const dev = this.device;
    const pos = opts.positionIds !== undefined
      ? toIdTensor(opts.positionIds, dev)
      : arange(P, P + S, 1, { device: dev }).unsqueeze(0).expand([B, S]);
    const rope = ropeTables(pos, this.#invFreq, this.dtype);
    let mask: Tensor | null = null;
    let isCausal = false;
    const am = opts.attentionMask !== undefined ? toIdTensor(opts.attentionMask, dev) : null;
    const padded = am !== null && am.eq(0).any().item() !== 0;
    if (!padded && P === 0 && S > 1) {
      isCausal = true;
    } else if (padded || S > 1) {
      // allowed[b,0,i,j] = (j <= P+i) && am[b,j]
      const L = P + S;
      const q = arange(P, P + S, 1, { device: dev }).unsqueeze(1); // [S,1]
      const kpos = arange(0, L, 1, { device: dev }).unsqueeze(0); // [1,L]
      let allowed = kpos.le(q).unsqueeze(0).unsqueeze(0); // [1,1,S,L]
      if (padded) allowed = allowed.logicalAnd(am!.ne(0).unsqueeze(1).unsqueeze(1)); // [B,1,S,L]
      mask = zeros(allowed.shape, { dtype: this.dtype, device: dev })
        .maskedFill(allowed.logicalNot(), FINFO_MIN[this.dtype]);
    }
    return { rope, mask, isCausal, cache };
  }

  /**
   * Full forward: ids [B,S] (Tensor i64 or nested array) → logits (and hidden states).
   * Runs with autograd if enabled (training); call inside `noGrad` for inference.
   */
  forward(ids: Tensor | readonly (readonly number[])[], opts: ForwardOptions = {}): ForwardOutput {
    const collect = opts.outputHiddenStates ?? false;
    const out = tidy(() => {
      const { hidden, S } = this.#body(ids, opts, collect ? 0 : this.config.numLayers);
      const h = hidden[hidden.length - 1];
      const keep = opts.logitsToKeep ?? 0;
      // contiguous: a strided [B,keep,D] view makes the vocab-sized matmul ~4x slower on CPU
      const hk = keep > 0 && keep < S ? h.narrow(1, S - keep, keep).contiguous() : h;
      const logits = this.lmHead(hk);
      return collect ? { logits, hiddenStates: hidden } : { logits };
    });
    this.#advanceCache(ids, opts);
    return out;
  }

  /**
   * The last `n` of the N+1 hidden states (the {@link ForwardOutput.hiddenStates} semantics: the
   * last one final-normed), without the vocabulary projection: what the security analyzer reads.
   */
  lastHiddenStates(
    ids: Tensor | readonly (readonly number[])[],
    n: number,
    opts: Omit<ForwardOptions, "outputHiddenStates" | "logitsToKeep"> = {},
  ): Tensor[] {
    const N = this.config.numLayers;
    if (!Number.isInteger(n) || n < 1 || n > N + 1) {
      throw new RangeError(`lastHiddenStates: n must be 1..${N + 1}, got ${n}`);
    }
    const out = tidy(() => this.#body(ids, opts, N + 1 - n).hidden);
    this.#advanceCache(ids, opts);
    return out;
  }

  /**
   * Embedding, layers and final norm. Returns hidden states `from`..N (index N final-normed);
   * the others are freed as soon as the next layer has used them.
   */
  #body(
    ids: Tensor | readonly (readonly number[])[],
    opts: ForwardOptions,
    from: number,
  ): { hidden: Tensor[]; S: number } {
    const idt = toIdTensor(ids, this.device);
    const [B, S] = idt.shape;
    const ctx = this.context(B, S, opts);
    const hidden: Tensor[] = [];
    let h = this.embed(idt);
    this.layers.forEach((layer, i) => {
      if (i >= from) hidden.push(h);
      const next = layer.forward(h, ctx);
      if (i < from) h.dispose();
      h = next;
    });
    hidden.push(this.finalNorm(h));
    h.dispose();
    return { hidden, S };
  }

  #advanceCache(ids: Tensor | readonly (readonly number[])[], opts: ForwardOptions): void {
    if (opts.cache) {
      opts.cache.length += Array.isArray(ids)
        ? (ids as number[][])[0].length
        : (ids as Tensor).shape[1];
    }
  }

  /** Free all weights. */
  override dispose(): void {
    for (const l of this.layers) {
      (l.getSubmodule("self_attn") as Attention).fused?.dispose();
      (l.getSubmodule("mlp") as MLP).fused?.dispose();
    }
    super.dispose();
    if (!this.#invFreq.isDisposed) this.#invFreq.dispose();
  }
}
