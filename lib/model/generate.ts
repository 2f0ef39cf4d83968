/**
 * Autoregressive generation with a preallocated KV cache.
 *
 * Batched prompts are left-padded; position ids come from the attention mask as HF generate
 * builds them (`cumsum(mask) − 1`, pads clamped to 0). Each prompt is prefilled once and its KV
 * cache rows and last logits are repeated `numReturnSequences` times consecutively (the rows HF's
 * `expand_inputs_for_generation` makes, without HF's n-fold prefill work). Per step:
 * logits of the last position (float32) → user `logitsProcessor` → (sampling only) temperature →
 * top-k → top-p → argmax or multinomial. Finished rows (EOS seen) are fed the pad id, as HF does,
 * and generation ends when every row has finished or `maxNewTokens` is reached. Every step runs
 * inside a `tidy` scope, so no tensor outlives it except the cache and the decode inputs (freed at
 * the end).
 *
 * A decode step makes one device→host read, the sampled ids (the host needs them for the EOS
 * check and the logits processor's `generatedIds`); its inputs stay on the device (the sampled
 * ids, padded where a row has finished; the positions, advanced by one op), and the host's
 * knowledge of the padding (`padded`) spares reading the attention mask back. Without padding no
 * mask is built at all: decode attention runs SDPA without a mask.
 *
 * `cudaGraphs` runs the decode step in its static form (`static_step.ts`) captured once in a CUDA
 * graph and replayed per token, where the device and the shim allow it; otherwise the step above
 * runs and `GenerateResult.cudaGraphs` says why. `staticStep` runs the static form eagerly.
 *
 * @module
 */

import {
  type Device,
  full,
  manualSeed,
  noGrad,
  type Tensor,
  tensor,
  tidy,
  where,
} from "../../ffi/mod.ts";
import { resolveSampling } from "./generation_config.ts";
import { KVCache } from "./kv_cache.ts";
import type { DecoderLM } from "./qwen_llama.ts";
import { type SamplingOptions, selectTokens, warp } from "./sampling.ts";
import { cudaGraphsOff, StaticDecodeStep } from "./static_step.ts";
import type { Tokenizer } from "./tokenizer.ts";

/**
 * Hook called once per generation step, before the sampling warpers (HF runs user logits
 * processors before temperature/top-k/top-p too).
 *
 * @param generatedIds per row, the tokens generated so far (prompt excluded; finished rows
 *   keep growing with the pad id). Live arrays: read, do not modify.
 * @param logits float32 scores [B, V] for the next token, on the model's device.
 * @param step 0-based index of the token being chosen (= `generatedIds[b].length`).
 * @returns scores [B, V] (may be `logits` itself); a tensor created in the hook is freed at the
 *   end of the step automatically.
 */
export type LogitsProcessor = (generatedIds: number[][], logits: Tensor, step: number) => Tensor;

/**
 * Options of {@link generate}. Sampling settings left out come from the model's
 * generation_config.json, else `SAMPLING_DEFAULTS` (see `resolveSampling`).
 */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate per sequence. */
  maxNewTokens?: number;
  /** Samples per prompt (default 1); rows are ordered prompt-major. */
  numReturnSequences?: number;
  /** Stop a row at EOS (default true). */
  stopAtEos?: boolean;
  /** EOS ids (default: generation_config.json's, else the tokenizer's EOS, else config's). */
  eosTokenIds?: number[];
  /** Pad id for left padding and finished rows (default: tokenizer pad, else EOS, else 0). */
  padTokenId?: number;
  /** Seed libtorch's generator first (reproducible sampling). */
  seed?: number;
  /** Add BOS etc. when encoding string prompts (default true). */
  addSpecialTokens?: boolean;
  /** Guided-decoding hook, see {@link LogitsProcessor}. */
  logitsProcessor?: LogitsProcessor;
  /**
   * Past keys/values every row starts from (SVEN's learned prefix): per layer [K, P, d]. The
   * prompt then sits at positions P, P+1, … and attends to all P past positions, as HF's
   * forward places input after a `past_key_values` of length P.
   */
  past?: { k: readonly Tensor[]; v: readonly Tensor[] };
  /**
   * Replay the decode step as a CUDA graph (captured after one eager warm-up step; the sampling
   * stays outside it). Needs a CUDA device and a shim built with CUDA graphs; elsewhere the
   * normal step runs, and {@link GenerateResult.cudaGraphs} says why. Same tokens either way.
   */
  cudaGraphs?: boolean;
  /**
   * Run the decode step in the static form a CUDA graph captures, eagerly, on any device: the same
   * tokens by another route (for checking the static step against the normal one).
   */
  staticStep?: boolean;
}

/** Output of {@link generate}. */
export interface GenerateResult {
  /** Per row: prompt token ids (unpadded). */
  promptIds: number[][];
  /** Per row: generated ids, up to and including the first EOS (no padding after it). */
  tokens: number[][];
  /** Per row: decoded completion (special tokens skipped), or "" without a tokenizer. */
  texts: string[];
  /** Per row: whether it stopped at EOS. */
  finished: boolean[];
  /** With the `cudaGraphs` option only: "on", or "off: <reason>" when the normal step ran. */
  cudaGraphs?: string;
}

/** 1/0 mask [rows, width]: per row `past` ones, `pads[r]` zeros (left padding), then ones. */
function paddingMask(
  pads: readonly number[],
  width: number,
  device: Device,
  past = 0,
): Tensor {
  const host = new BigInt64Array(pads.length * width).fill(1n);
  pads.forEach((p, r) => host.fill(0n, r * width + past, r * width + past + p));
  return tensor(host, [pads.length, width], { dtype: "i64", device });
}

/**
 * Generate continuations for `prompts` (strings need a tokenizer; id lists do not).
 * Rows: prompt i's samples are rows `i·n … i·n+n−1` with n = numReturnSequences.
 */
export function generate(
  model: DecoderLM,
  tokenizer: Tokenizer | null,
  prompts: readonly string[] | readonly (readonly number[])[],
  opts: GenerateOptions = {},
): GenerateResult {
  const n = opts.numReturnSequences ?? 1;
  const sampling = resolveSampling(opts, model.generationConfig);
  const { maxNewTokens: maxNew, doSample } = sampling;
  const stop = opts.stopAtEos ?? true;
  const eos = new Set(
    opts.eosTokenIds ?? model.generationConfig.eosTokenIds ??
      (tokenizer?.eosTokenId != null ? [tokenizer.eosTokenId] : model.config.eosTokenIds),
  );
  const pad = opts.padTokenId ?? tokenizer?.padTokenId ?? model.config.padTokenId ?? [...eos][0] ??
    0;
  const encoded = prompts.map((p) => {
    if (typeof p !== "string") return [...p];
    if (!tokenizer) throw new TypeError("generate: string prompts need a tokenizer");
    return tokenizer.encode(p, { addSpecialTokens: opts.addSpecialTokens ?? true });
  });
  const empty = encoded.findIndex((e) => e.length === 0);
  if (empty >= 0) {
    throw new RangeError(
      `generate: prompt ${empty} is empty (no tokens, and the tokenizer adds no BOS to start from)`,
    );
  }
  const promptIds = encoded.flatMap((e) => new Array(n).fill(0).map(() => e));
  const B = promptIds.length;
  const T = Math.max(...promptIds.map((e) => e.length));
  const lens = promptIds.map((e) => e.length);
  if (opts.seed !== undefined) manualSeed(opts.seed);

  const P0 = opts.past ? opts.past.k[0].shape[1] : 0;
  const start = (c: KVCache) => {
    if (opts.past) c.prefill(opts.past.k, opts.past.v);
  };
  const generated: number[][] = promptIds.map(() => []);
  const finished = new Array<boolean>(B).fill(false);
  const dev = model.device;
  // With a learned past (SVEN's prefix) the prompt starts at position P0; the mask then always
  // spans past + prompt, so the forward takes its masked path.
  const padded = P0 > 0 || lens.some((l) => l < T);
  const W = P0 + T + maxNew;
  const cache = new KVCache(model.config, B, W, model.dtype, dev);
  // attention mask over the whole capacity (past, prompt padding, then ones); only when needed
  const amFull = padded ? paddingMask(promptIds.map((e) => T - e.length), W, dev, P0).keep() : null;
  const lastLogits = (out: { logits: Tensor }) => out.logits.select(1, out.logits.shape[1] - 1);
  /** Prefill each distinct prompt once; returns last-position logits for all B rows. */
  const prefill = (): Tensor => {
    const ids = encoded.map((e) => [...new Array(T - e.length).fill(pad), ...e]);
    const pos = encoded.map((e) => [
      ...new Array(T - e.length).fill(P0),
      ...e.map((_, i) => P0 + i),
    ]);
    if (n === 1) {
      start(cache);
      const attentionMask = amFull?.narrow(1, 0, P0 + T);
      return lastLogits(
        model.forward(ids, { cache, positionIds: pos, attentionMask, padded, logitsToKeep: 1 }),
      );
    }
    const prefix = new KVCache(model.config, encoded.length, P0 + T, model.dtype, dev);
    try {
      start(prefix);
      const attentionMask = padded
        ? paddingMask(encoded.map((e) => T - e.length), P0 + T, dev, P0)
        : undefined;
      const out = model.forward(ids, {
        cache: prefix,
        positionIds: pos,
        attentionMask,
        padded,
        logitsToKeep: 1,
      });
      cache.fillRepeated(prefix, n);
      return lastLogits(out).repeatInterleave(n, 0);
    } finally {
      prefix.dispose();
    }
  };
  // The decode inputs stay on the device: the sampled ids (pad where a row has finished) and the
  // positions, advanced by one per step. The only device→host read per step is the sampled ids.
  let ids: Tensor | null = null;
  let positions: Tensor | null = null;
  let done: Tensor | null = null; // bool [B], uploaded when a row finishes
  // an i64 one: adding a number would promote the positions to float (libtorch's double Scalar)
  const one = full([], 1, { dtype: "i64", device: dev }).keep();
  const swap = (old: Tensor | null, t: Tensor) => (old?.dispose(), t.keep());
  // The static step (made at the first decode step, from the positions then) advances its own
  // positions; a graph only where the device and shim have them.
  const graphsOff = opts.cudaGraphs ? cudaGraphsOff(dev) : null;
  const graph = opts.cudaGraphs === true && graphsOff === null;
  let fixed = null as StaticDecodeStep | null; // `as`: assigned in `decode`, not narrowed to null
  const decode = (ids: Tensor, positions: Tensor): Tensor => {
    if (graph || opts.staticStep) {
      fixed ??= new StaticDecodeStep(model, cache, { positions, attentionMask: amFull, graph });
      return fixed.step(ids);
    }
    return lastLogits(
      model.forward(ids.unsqueeze(1), {
        cache,
        positionIds: positions,
        attentionMask: amFull?.narrow(1, 0, cache.length + 1),
        padded,
        logitsToKeep: 1,
      }),
    );
  };
  try {
    noGrad(() => {
      for (let step = 0; step < maxNew; step++) {
        const next = tidy(() => {
          let scores = ids === null ? prefill() : decode(ids, positions!);
          if (scores.dtype !== "f32") scores = scores.to("f32");
          if (opts.logitsProcessor) scores = opts.logitsProcessor(generated, scores, step);
          if (doSample) scores = warp(scores, sampling);
          const chosen = selectTokens(scores, doSample);
          return done ? where(done, full([B], pad, { dtype: "i64", device: dev }), chosen) : chosen;
        });
        ids = swap(ids, next);
        const chosen = next.toNumbers();
        let newlyDone = false;
        for (let b = 0; b < B; b++) {
          const t = chosen[b];
          generated[b].push(t);
          if (stop && !finished[b] && eos.has(t)) finished[b] = newlyDone = true;
        }
        if (stop && finished.every((f) => f)) break;
        if (newlyDone) {
          done = swap(done, tensor(finished.map(Number), [B], { dtype: "bool", device: dev }));
        }
        if (positions === null) {
          positions = tensor(lens.map((l) => BigInt(P0 + l)), [B, 1], { dtype: "i64", device: dev })
            .keep();
        } else if (!fixed) positions = swap(positions, positions.add(one));
      }
    });
  } finally {
    for (const t of [ids, positions, done, amFull, one]) t?.dispose();
    fixed?.dispose();
    cache.dispose();
  }
  const tokens = generated.map((g) => {
    const i = stop ? g.findIndex((t) => eos.has(t)) : -1;
    return i >= 0 ? g.slice(0, i + 1) : g;
  });
  const texts = tokens.map((t) =>
    tokenizer ? tokenizer.decode(t.filter((x) => !eos.has(x)), { skipSpecialTokens: true }) : ""
  );
  return {
    promptIds,
    tokens,
    texts,
    finished: stop ? finished : new Array<boolean>(B).fill(false),
    ...(opts.cudaGraphs
      ? {
        cudaGraphs: graphsOff !== null
          ? `off: ${graphsOff}`
          : fixed?.cudaGraphs ?? "off: no decode step ran",
      }
      : {}),
  };
}
