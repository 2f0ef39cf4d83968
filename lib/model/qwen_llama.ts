/**
 * The Qwen2 / Llama decoder, matching HF transformers' forward (see docs/models.md). Each module
 * builds its own children under their HF names, as `modeling_llama.py` does:
 *
 *     DecoderLM ─ model: DecoderBody ─ embed_tokens, layers.{i}: DecoderLayer, norm
 *               └ lm_head (absent when tied to embed_tokens)
 *     DecoderLayer ─ input_layernorm, self_attn: Attention {q,k,v,o}_proj,
 *                    post_attention_layernorm, mlp: MLP {gate,up,down}_proj
 *
 * so the parameter names are the checkpoint's tensor names and `load.ts` only fills them. Weights
 * start uninitialised (see `linears.ts`). A projection can be replaced (LoRA) with
 * `model.setSubmodule("model.layers.3.self_attn.q_proj", wrapper)`; that updates the field the
 * forward reads and re-decides the fused q/k/v or gate/up GEMM.
 *
 * Shapes: B batch, S new positions, P cached positions, D hidden, H heads, K kv heads, d head_dim.
 *
 * @module
 */

import {
  arange,
  type Device,
  type DType,
  empty,
  scaledDotProductAttention,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../ffi/mod.ts";
import { Embedding, Linear, Module, ModuleList, RMSNorm } from "../nn/mod.ts";
import type { ModelConfig } from "./config.ts";
import { type GenerationConfig, generationConfigFrom } from "./generation_config.ts";
import type { KVCache, KVWriter } from "./kv_cache.ts";
import {
  allocMatrix,
  emptyLinear,
  FusableModule,
  FusedLinears,
  type Projection,
  type Storage,
  storage,
  type WeightOptions,
} from "./linears.ts";
import { applyRope, invFreqTensor, RopeCache, type RopeTables } from "./rope.ts";

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
  /** KV cache to write the new keys/values to and read the attended ones from, or null. */
  cache: KVWriter | null;
}

/** Grouped-query self-attention with RoPE (`self_attn`). */
export class Attention extends FusableModule {
  /** Index of the owning layer (selects its KV cache slot). */
  readonly layerIdx: number;
  /** [H·d, D] query projection. */
  readonly q_proj: Projection;
  /** [K·d, D] key projection. */
  readonly k_proj: Projection;
  /** [K·d, D] value projection. */
  readonly v_proj: Projection;
  /** [D, H·d] output projection. */
  readonly o_proj: Projection;
  readonly #cfg: ModelConfig;

  /** Build the projections (uninitialised) for layer `layerIdx`. */
  constructor(cfg: ModelConfig, layerIdx: number, s: Storage) {
    const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: d } = cfg;
    const outs = [H * d, K * d, K * d];
    const group = s.fuse ? new FusedLinears(outs, D, cfg.qkvBias, s) : null;
    super(group);
    this.#cfg = cfg;
    this.layerIdx = layerIdx;
    const [q, k, v] = group?.members ?? outs.map((n) => emptyLinear(n, D, cfg.qkvBias, s));
    this.q_proj = this.registerModule("q_proj", q);
    this.k_proj = this.registerModule("k_proj", k);
    this.v_proj = this.registerModule("v_proj", v);
    this.o_proj = this.registerModule("o_proj", emptyLinear(D, H * d, cfg.oBias, s));
    this.childrenChanged();
  }

  /** q, k and v, the fused triple. */
  protected fusedSlots(): Projection[] {
    return [this.q_proj, this.k_proj, this.v_proj];
  }

  /**
   * x [B,S,D] → [B,S,D]. With the fused q/k/v GEMM, its output is viewed as H+2K heads, and q and
   * k are rotated together as one [B,H+K,S,d] view.
   */
  forward(x: Tensor, ctx: LayerContext): Tensor {
    const { numHeads: H, numKvHeads: K, headDim: d } = this.#cfg;
    const [B, S] = x.shape;
    const joint = this.projectJoint(x);
    let q: Tensor, k: Tensor, v: Tensor;
    if (joint) {
      const [qkRaw, vh] = joint.view([B, S, H + 2 * K, d]).transpose(1, 2).split([H + K, K], 1);
      [q, k] = applyRope(qkRaw, ctx.rope).split([H, K], 1);
      v = vh;
    } else {
      const [qp, kp, vp] = this.project(x);
      q = applyRope(qp.view([B, S, H, d]).transpose(1, 2), ctx.rope);
      k = applyRope(kp.view([B, S, K, d]).transpose(1, 2), ctx.rope);
      v = vp.view([B, S, K, d]).transpose(1, 2);
    }
    if (ctx.cache) [k, v] = ctx.cache.update(this.layerIdx, k, v);
    const o = scaledDotProductAttention(q, k, v, {
      mask: ctx.mask,
      isCausal: ctx.isCausal,
      dropoutP: this.training ? this.#cfg.attentionDropout : 0,
      scale: 1 / Math.sqrt(d),
      enableGqa: K !== H,
    });
    // [B,H,1,d] is laid out as [B,1,H,d]: one position needs no transpose
    const merged = S === 1 ? o.reshape([B, 1, H * d]) : o.transpose(1, 2).reshape([B, S, H * d]);
    return this.o_proj.forward(merged);
  }
}

/** SiLU-gated MLP (`mlp`): down(silu(gate(x)) · up(x)). */
export class MLP extends FusableModule {
  /** [I, D] gate projection. */
  readonly gate_proj: Projection;
  /** [I, D] up projection. */
  readonly up_proj: Projection;
  /** [D, I] down projection. */
  readonly down_proj: Projection;

  /** Build gate/up/down (uninitialised). */
  constructor(cfg: ModelConfig, s: Storage) {
    const { hiddenSize: D, intermediateSize: I, mlpBias } = cfg;
    const group = s.fuse ? new FusedLinears([I, I], D, mlpBias, s) : null;
    super(group);
    const [gate, up] = group?.members ?? [0, 1].map(() => emptyLinear(I, D, mlpBias, s));
    this.gate_proj = this.registerModule("gate_proj", gate);
    this.up_proj = this.registerModule("up_proj", up);
    this.down_proj = this.registerModule("down_proj", emptyLinear(D, I, mlpBias, s));
    this.childrenChanged();
  }

  /** gate and up, the fused pair. */
  protected fusedSlots(): Projection[] {
    return [this.gate_proj, this.up_proj];
  }

  /** x [B,S,D] → [B,S,D]. */
  forward(x: Tensor): Tensor {
    const [g, u] = this.project(x);
    return this.down_proj.forward(g.silu().mul(u));
  }
}

/** One pre-norm decoder layer (`model.layers.{i}`). */
export class DecoderLayer extends Module {
  /** Layer index. */
  readonly index: number;
  /** RMSNorm before attention. */
  readonly input_layernorm: RMSNorm;
  /** Self-attention. */
  readonly self_attn: Attention;
  /** RMSNorm before the MLP. */
  readonly post_attention_layernorm: RMSNorm;
  /** The MLP. */
  readonly mlp: MLP;

  /** Build layer `index`. */
  constructor(cfg: ModelConfig, index: number, s: Storage) {
    super();
    this.index = index;
    const norm = () => new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps, s);
    this.input_layernorm = this.registerModule("input_layernorm", norm());
    this.self_attn = this.registerModule("self_attn", new Attention(cfg, index, s));
    this.post_attention_layernorm = this.registerModule("post_attention_layernorm", norm());
    this.mlp = this.registerModule("mlp", new MLP(cfg, s));
  }

  /** h [B,S,D] → h + attn(norm(h)), then + mlp(norm(·)). Frees its intermediates. */
  forward(h: Tensor, ctx: LayerContext): Tensor {
    return tidy(() => {
      const r = h.add(this.self_attn.forward(this.input_layernorm.forward(h), ctx));
      return r.add(this.mlp.forward(this.post_attention_layernorm.forward(r)));
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
  /**
   * Whether `attentionMask` has a zero (padding). Computed from the arrays when the mask is nested
   * arrays; for a Tensor mask, pass it when the caller knows (generation does), or the mask is read
   * back from the device once per forward to find out.
   */
  padded?: boolean;
  /**
   * Position ids [B,S]. Default `P + arange(S)` for every row (HF's plain-forward default). A
   * Tensor must hold positions below the cache's capacity (with a cache) or
   * `max_position_embeddings` (without): the RoPE tables end there.
   */
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
  /** Token embeddings [V, D]. */
  readonly embed_tokens: Embedding;
  /** The decoder layers. */
  readonly layers: ModuleList<DecoderLayer>;
  /** Final RMSNorm. */
  readonly norm: RMSNorm;

  /**
   * Build embed_tokens, layers.{i} and norm. A tied embedding matrix is also the vocabulary
   * projection, so it takes the projection's layout.
   */
  constructor(cfg: ModelConfig, s: Storage) {
    super();
    const { vocabSize: V, hiddenSize: D } = cfg;
    const table = cfg.tieWordEmbeddings
      ? allocMatrix(V, D, s)
      : empty([V, D], { dtype: s.dtype, device: s.device });
    this.embed_tokens = this.registerModule("embed_tokens", Embedding.fromWeight(table));
    const layers = Array.from({ length: cfg.numLayers }, (_, i) => new DecoderLayer(cfg, i, s));
    this.layers = this.registerModule("layers", new ModuleList(layers));
    this.norm = this.registerModule("norm", new RMSNorm(D, cfg.rmsNormEps, s));
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
 * tied parameters twice). Built with uninitialised, frozen weights in eval mode; `loadModel`
 * fills them from a checkpoint.
 */
export class DecoderLM extends Module {
  /** Parsed config. */
  readonly config: ModelConfig;
  /** Activation / weight dtype. */
  readonly dtype: DType;
  /** Device of the weights. */
  readonly device: Device;
  /** The body: embeddings, layers, final norm. */
  readonly model: DecoderBody;
  /** The vocabulary projection, or null when tied to the embedding matrix. */
  readonly lm_head: Projection | null;
  /** generation_config.json, which `generate` falls back to (set by `loadModel`). */
  generationConfig: GenerationConfig;
  readonly #tiedHead: Linear | null;
  readonly #rope: RopeCache;

  /** Build the module tree for `cfg` (weights uninitialised; see `loadModel`). */
  constructor(cfg: ModelConfig, opts: WeightOptions = {}) {
    super();
    const s = storage(opts);
    this.config = cfg;
    this.dtype = s.dtype;
    this.device = s.device;
    this.model = this.registerModule("model", new DecoderBody(cfg, s));
    if (cfg.tieWordEmbeddings) {
      this.lm_head = null;
      this.#tiedHead = Linear.fromWeights(this.model.embed_tokens.weight);
    } else {
      this.lm_head = this.registerModule(
        "lm_head",
        emptyLinear(cfg.vocabSize, cfg.hiddenSize, false, s),
      );
      this.#tiedHead = null;
    }
    this.generationConfig = generationConfigFrom(cfg);
    this.#rope = new RopeCache(
      invFreqTensor(cfg, s.device),
      s.dtype,
      cfg.maxPositionEmbeddings,
    );
    this.freeze();
    this.eval();
  }

  /** The decoder layers, in order (`model.layers.{i}`). */
  get layers(): readonly DecoderLayer[] {
    return this.model.layers.items;
  }

  /** Token embeddings: ids [B,S] (i64) → [B,S,D]. */
  embed(ids: Tensor): Tensor {
    return this.model.embed_tokens.forward(ids);
  }

  /** Final RMSNorm (`model.norm`). */
  finalNorm(h: Tensor): Tensor {
    return this.model.norm.forward(h);
  }

  /** Output projection (`lm_head`, or the tied embedding matrix). */
  lmHead(h: Tensor): Tensor {
    return (this.lm_head ?? this.#tiedHead!).forward(h);
  }

  /**
   * The output projection's weight [V, D] (`lm_head`, or the tied embedding matrix), for code that
   * differentiates through the head by hand (the chunked vocabulary loss).
   */
  lmHeadWeight(): Tensor {
    const head = this.lm_head ?? this.#tiedHead;
    if (!(head instanceof Linear) || head.bias !== null) {
      throw new TypeError("lmHeadWeight: the output head is not a bias-free Linear");
    }
    return head.weight;
  }

  /**
   * The RoPE tables for integer positions [B, S] (i64, on the model's device), every one below
   * `bound` (see `RopeCache.tables`).
   */
  ropeTables(positions: Tensor, bound: number): RopeTables {
    return this.#rope.tables(positions, bound);
  }

  /**
   * Build the per-forward context for `S` new positions of a batch of `B` rows.
   * Caller owns the returned tensors (create it inside a `tidy`).
   */
  context(B: number, S: number, opts: ForwardOptions = {}): LayerContext {
    const cache = opts.cache ?? null;
    const P = cache ? cache.length : 0;
    const dev = this.device;
    const given = opts.positionIds;
    let pos: Tensor, bound: number;
    if (given === undefined) {
      pos = arange(P, P + S, 1, { dtype: "i64", device: dev }).unsqueeze(0).expand([B, S]);
      bound = P + S;
    } else if (Array.isArray(given)) {
      pos = toIdTensor(given, dev);
      bound = 1 + Math.max(0, ...(given as number[][]).map((r) => Math.max(...r)));
    } else {
      pos = given as Tensor;
      bound = cache ? cache.maxLen : this.config.maxPositionEmbeddings;
    }
    const rope = this.ropeTables(pos, bound);
    let mask: Tensor | null = null;
    let isCausal = false;
    const amIn = opts.attentionMask;
    const padded = amIn === undefined
      ? false
      : Array.isArray(amIn)
      ? (amIn as number[][]).some((r) => r.some((v) => v === 0))
      : opts.padded ?? (amIn as Tensor).eq(0).any().item() !== 0;
    if (!padded && P === 0 && S > 1) {
      isCausal = true;
    } else if (padded || S > 1) {
      // allowed[b,0,i,j] = (j <= P+i) && am[b,j]
      const L = P + S;
      const q = arange(P, P + S, 1, { device: dev }).unsqueeze(1); // [S,1]
      const kpos = arange(0, L, 1, { device: dev }).unsqueeze(0); // [1,L]
      let allowed = kpos.le(q).unsqueeze(0).unsqueeze(0); // [1,1,S,L]
      if (padded) {
        const am = toIdTensor(amIn!, dev);
        allowed = allowed.logicalAnd(am.ne(0).unsqueeze(1).unsqueeze(1)); // [B,1,S,L]
      }
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
    return { hidden: this.runLayers(idt, this.context(B, S, opts), from), S };
  }

  /**
   * Embedding, layers and final norm of ids [B,S] with a context the caller built (no cache
   * bookkeeping: the context's cache writer decides where keys/values go). Returns hidden states
   * `from`..N (index N final-normed; default: only that one); the others are freed as soon as the
   * next layer has used them.
   */
  runLayers(ids: Tensor, ctx: LayerContext, from = this.config.numLayers): Tensor[] {
    const hidden: Tensor[] = [];
    let h = this.embed(ids);
    this.layers.forEach((layer, i) => {
      if (i >= from) hidden.push(h);
      const next = layer.forward(h, ctx);
      if (i < from) h.dispose();
      h = next;
    });
    hidden.push(this.finalNorm(h));
    h.dispose();
    return hidden;
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
    super.dispose();
    this.#rope.dispose();
  }
}
