/**
 * CoSec co-decoding: a small security expert proposes each token, the base model vets it.
 *
 * Transcribes upstream unknownhl/DeepGuard `cosec/CustomizedGeneration.py`
 * (`generate_with_experts` L752-950, `sample_with_experts` L1147-1337) as called by
 * `sven/evaler.py` `CoSecEvaler.sample_cosec` (L326-366) with `runs/sec_eval.py` defaults
 * (`--exp_temp 0.1`, `--threshold 0.3`, L46-47). Per step and row:
 *
 * 1. the expert's last logits are warped with HF's warpers built from a copy of the generation
 *    config with `top_k = 0`, `top_p = 0.95`, `min_p = 0.0`, `temperature = exp_temp`
 *    (L919-927, L957-993): temperature, then top-p (top-k 0 is off; min-p 0 removes nothing);
 *    p_e = softmax of the warped logits, and a draft x ~ p_e is drawn (L1233-1239);
 * 2. p_b = softmax of the base's RAW last logits (L1276): the base's own warpers (temperature,
 *    top-k 50, top-p) are computed upstream (L1250-1252) but not used on this path;
 * 3. accept x iff `threshold < min(1, p_b(x) / (p_e(x) + 1e-10))` (L1283-1290);
 * 4. a base token y ~ p_b is drawn for every row, accepted or not (L1292), and rejected rows
 *    take y (L1293), i.e. the fallback samples the base at temperature 1 with no top-k/top-p;
 * 5. finished rows get the pad id (L1305-1306); both models' caches advance by the chosen token
 *    (L1313-1333).
 *
 * The draws happen in that order (expert, then base) on the same generator, as upstream; the
 * `draw` hook lets tests feed the same uniforms to a Python transcription.
 * @module
 */
import { manualSeed, multinomial, noGrad, type Tensor, tidy, where } from "../../ffi/mod.ts";
import type { GenerateOptions, GenerateResult } from "../model/generate.ts";
import { KVCache } from "../model/kv_cache.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import { temperatureWarp, topPWarp } from "../model/sampling.ts";
import type { Tokenizer } from "../model/tokenizer.ts";

/** Upstream's co-decoding knobs (`runs/sec_eval.py` L46-47, `sven/evaler.py` L349-351). */
export interface CoDecodeKnobs {
  /** Expert temperature (`--exp_temp`, default 0.1). */
  expertTemperature: number;
  /** Expert top-p (hard-coded 0.95 in `sven/evaler.py` L351). */
  expertTopP: number;
  /** Acceptance threshold r (`--threshold`, default 0.3). */
  threshold: number;
}

/** The defaults upstream's evaluation runs with. */
export const UPSTREAM_COSEC: Readonly<CoDecodeKnobs> = Object.freeze({
  expertTemperature: 0.1,
  expertTopP: 0.95,
  threshold: 0.3,
});

/**
 * Draws one token per row from probabilities [B, V] (float32) → ids [B] (i64).
 * `which` says whose distribution it is; `step` is the 0-based generation step.
 */
export type Draw = (probs: Tensor, which: "expert" | "base", step: number) => Tensor;

/** torch.multinomial(probs, 1), as upstream draws (L1239, L1292). */
export const multinomialDraw: Draw = (probs) => multinomial(probs, 1).squeeze(-1);

/** One step's outcome. */
export interface CoDecodeStep {
  /** Chosen ids [B] (i64). */
  tokens: Tensor;
  /** Whether the expert's draft was accepted, per row [B] (bool). */
  accepted: Tensor;
}

/**
 * The co-decoding rule for one step (see the module doc).
 * @param baseLogits float32 [B, V] raw base logits
 * @param expertLogits float32 [B, Ve] raw expert logits (Ve ≤ V; ids ≥ Ve are never drafted)
 */
export function coDecodeStep(
  baseLogits: Tensor,
  expertLogits: Tensor,
  knobs: CoDecodeKnobs,
  draw: Draw,
  step: number,
): CoDecodeStep {
  const warped = topPWarp(temperatureWarp(expertLogits, knobs.expertTemperature), knobs.expertTopP);
  const pExpert = warped.softmax(-1);
  const draft = draw(pExpert, "expert", step).unsqueeze(-1);
  const pBase = baseLogits.softmax(-1);
  const ratio = pBase.gather(1, draft).div(pExpert.gather(1, draft).add(1e-10)).squeeze(-1);
  const accepted = ratio.clamp(undefined, 1).gt(knobs.threshold);
  const fallback = draw(pBase, "base", step);
  return { tokens: where(accepted, draft.squeeze(-1), fallback), accepted };
}

/** Options of {@link coGenerate}: the generation options plus the co-decoding knobs. */
export interface CoGenerateOptions extends
  Pick<
    GenerateOptions,
    "maxNewTokens" | "numReturnSequences" | "stopAtEos" | "eosTokenIds" | "padTokenId" | "seed"
  > {
  /** Co-decoding knobs (default {@link UPSTREAM_COSEC}). */
  knobs?: CoDecodeKnobs;
  /** Token drawing (default {@link multinomialDraw}). */
  draw?: Draw;
  /** Called after each step with the per-row acceptance (tests, statistics). */
  onStep?: (step: number, tokens: number[], accepted: boolean[]) => void;
}

/** Prefills a [1, T] prompt and returns a B-row cache holding it, plus the last logits [B, V]. */
function prefill(
  model: DecoderLM,
  ids: readonly number[],
  rows: number,
  capacity: number,
): { cache: KVCache; logits: Tensor } {
  const cache = new KVCache(model.config, rows, capacity, model.dtype, model.device);
  const prefix = new KVCache(model.config, 1, ids.length, model.dtype, model.device);
  try {
    const out = model.forward([ids as number[]], { cache: prefix, logitsToKeep: 1 });
    cache.fillRepeated(prefix, rows);
    return { cache, logits: out.logits.select(1, 0).repeatInterleave(rows, 0).keep() };
  } catch (e) {
    cache.dispose();
    throw e;
  } finally {
    prefix.dispose();
  }
}

/**
 * Co-decodes `numReturnSequences` continuations of one prompt with `base` vetting `expert`
 * (same tokenizer; see {@link checkSameTokenizer}). `expertVocab` is the expert tokenizer's
 * size: upstream resizes the expert's embeddings to it (`sven/evaler.py` L306/L311), so its
 * logits beyond that are dropped. A base token in those rows is still fed to the expert (its
 * rows exist here; upstream's shrunk embeddings would fail on it). Returns rows as `generate`.
 */
export function coGenerate(
  base: DecoderLM,
  expert: DecoderLM,
  expertVocab: number,
  tokenizer: Tokenizer | null,
  promptIds: readonly number[],
  opts: CoGenerateOptions = {},
): GenerateResult {
  const B = opts.numReturnSequences ?? 1;
  const maxNew = opts.maxNewTokens ?? 64;
  const stop = opts.stopAtEos ?? true;
  const knobs = opts.knobs ?? UPSTREAM_COSEC;
  const draw = opts.draw ?? multinomialDraw;
  const eos = new Set(
    opts.eosTokenIds ??
      (tokenizer?.eosTokenId != null ? [tokenizer.eosTokenId] : base.config.eosTokenIds),
  );
  const pad = opts.padTokenId ?? tokenizer?.eosTokenId ?? [...eos][0] ?? 0;
  if (promptIds.length === 0) throw new RangeError("coGenerate: empty prompt");
  if (expert.config.vocabSize < expertVocab) {
    throw new RangeError(
      `coGenerate: the expert has ${expert.config.vocabSize} logits but its tokenizer ` +
        `${expertVocab} tokens (upstream would grow the embeddings with untrained rows)`,
    );
  }
  const T = promptIds.length;
  if (opts.seed !== undefined) manualSeed(opts.seed);
  const generated: number[][] = Array.from({ length: B }, () => []);
  const finished = new Array<boolean>(B).fill(false);
  const caches: KVCache[] = [];
  let logits: Tensor[] = [];
  try {
    noGrad(() => {
      for (const m of [base, expert]) {
        const p = tidy(() => prefill(m, promptIds, B, T + maxNew));
        caches.push(p.cache);
        logits.push(p.logits);
      }
      for (let step = 0; step < maxNew; step++) {
        const out = tidy(() => {
          let [lb, le] = logits;
          if (lb.dtype !== "f32") lb = lb.to("f32");
          if (le.dtype !== "f32") le = le.to("f32");
          if (le.shape[1] > expertVocab) le = le.narrow(1, 0, expertVocab);
          const r = coDecodeStep(lb, le, knobs, draw, step);
          return [r.tokens.keep(), r.accepted.keep()];
        });
        const chosen = out[0].toNumbers();
        const accepted = out[1].toNumbers().map((x) => x !== 0);
        out.forEach((t) => t.dispose());
        logits.forEach((t) => t.dispose());
        logits = [];
        for (let b = 0; b < B; b++) {
          const t = finished[b] ? pad : chosen[b];
          generated[b].push(t);
          if (stop && !finished[b] && eos.has(t)) finished[b] = true;
        }
        opts.onStep?.(step, generated.map((g) => g[step]), accepted);
        if ((stop && finished.every((f) => f)) || step === maxNew - 1) break;
        const ids = generated.map((g) => [g[step]]);
        for (const [i, m] of [base, expert].entries()) {
          logits.push(
            tidy(() =>
              m.forward(ids, { cache: caches[i], positionIds: ids.map(() => [T + step]) })
                .logits.select(1, 0).keep()
            ),
          );
        }
      }
    });
  } finally {
    logits.forEach((t) => t.dispose());
    caches.forEach((c) => c.dispose());
  }
  const tokens = generated.map((g) => {
    const i = stop ? g.findIndex((t) => eos.has(t)) : -1;
    return i >= 0 ? g.slice(0, i + 1) : g;
  });
  return {
    promptIds: tokens.map(() => [...promptIds]),
    tokens,
    texts: tokens.map((t) =>
      tokenizer ? tokenizer.decode(t.filter((x) => !eos.has(x)), { skipSpecialTokens: true }) : ""
    ),
    finished: stop ? finished : new Array<boolean>(B).fill(false),
  };
}

/**
 * Throws unless `expert` tokenizes exactly as `base` (same vocabulary, token for token, same
 * EOS): co-decoding compares the two models' probabilities of the same id.
 */
export function checkSameTokenizer(
  base: Tokenizer,
  expert: Tokenizer,
  baseDir: string,
  expertDir: string,
): void {
  const fail = (why: string) => {
    throw new RangeError(
      `CoSec needs the base and the expert to share a tokenizer: ${baseDir} and ${expertDir} ${why}`,
    );
  };
  if (base.vocabSize !== expert.vocabSize) {
    fail(`have ${base.vocabSize} and ${expert.vocabSize} tokens`);
  }
  if (base.eosTokenId !== expert.eosTokenId) {
    fail(`have EOS ids ${base.eosTokenId} and ${expert.eosTokenId}`);
  }
  for (let id = 0; id < base.vocabSize; id++) {
    if (base.idToToken(id) !== expert.idToToken(id)) {
      fail(`differ at id ${id} (${base.idToToken(id)} vs ${expert.idToToken(id)})`);
    }
  }
}
