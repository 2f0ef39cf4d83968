/**
 * Training SVEN's security prefix, as upstream unknownhl/DeepGuard `sven/trainer.py`
 * (`TrainerBase.run` L65-151, `PrefixTrainer` L189-256) with the settings of `runs/train.py`
 * (flags L21-42, per-model choices L71-113):
 *
 * - the base model frozen; trainable: the {@link PrefixParams} (zero init, dropout 0.1);
 * - examples from {@link loadPrefixSplit}, reshuffled every epoch (upstream's `RandomSampler`),
 *   batch 1; per example the {@link prefixLoss} of three forwards (right prefix, opposite prefix,
 *   no prefix without gradient), divided by the accumulation 2 (L110-114);
 * - after EVERY backward the global gradient norm is clipped to 1.0 (L116);
 * - every 2nd example of an epoch: transformers' AdamW ({@link HfAdamW}: lr 1e-2, eps 1e-8,
 *   weight decay 0.01 on every prefix tensor) with HF's linear schedule, no warm-up, to 0 at `len(data) // 2 · epochs` (L72-88);
 * - after each epoch the validation loss (dropout off, logged) and the prefix saved to
 *   `out/checkpoint-epoch-N` and `out/checkpoint-last` (L130-151, `do_eval` L153-160);
 * - n_prefix / epochs / kl ratio by model size ({@link sizeDefaults}); seed 1.
 * @module
 */
import { type Device, manualSeed, noGrad, type Tensor, tensor, tidy } from "../../ffi/mod.ts";
import { KVCache } from "../model/kv_cache.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import { linearWarmupDecay } from "../nn/optim.ts";
import { DataError } from "../train/data.ts";
import { epochOrder } from "../train/rng.ts";
import { loadPrefixSplit, type PrefixExample } from "./data.ts";
import { type PrefixLoss, prefixLoss, type PrefixLossRatios } from "./loss.ts";
import { HfAdamW } from "./optim.ts";
import { PrefixParams, type PrefixPast } from "./params.ts";

/** Upstream's settings that do not depend on the model size (runs/train.py L29-38, L42, L104-106). */
export const UPSTREAM_PREFIX_TRAIN = Object.freeze({
  lr: 1e-2,
  weightDecay: 0.01,
  gradAcc: 2,
  maxGradNorm: 1.0,
  maxTokens: 1024,
  dropout: 0.1,
  contrastiveRatio: 400,
  lmRatio: 1,
  seed: 1,
});

/** Per-size settings: upstream's three model groups. */
export interface SizeDefaults {
  nPrefix: number;
  epochs: number;
  klRatio: number;
}

/**
 * Upstream picks n_prefix / epochs / kl ratio by model name (runs/train.py L71-102): 5 / 8 / 1600
 * for codegen-350M and deepseek-coder-1.3b, 8 / 5 / 1600 for codegen-2B (2.7B parameters),
 * Qwen2.5-Coder-3B and starcoder2-3b, 12 / 5 / 2000 for the 6-8B models. Here by parameter
 * count: under 2e9, under 5e9, the rest.
 */
export function sizeDefaults(parameters: number): SizeDefaults {
  if (parameters < 2e9) return { nPrefix: 5, epochs: 8, klRatio: 1600 };
  if (parameters < 5e9) return { nPrefix: 8, epochs: 5, klRatio: 1600 };
  return { nPrefix: 12, epochs: 5, klRatio: 2000 };
}

/** Options of {@link trainPrefix}; left out = upstream's. */
export interface PrefixTrainOptions {
  /** Base model (HF directory). */
  model: string;
  /** SVEN-layout data directory (train and val splits). */
  data: string;
  /** Output directory. */
  out: string;
  nPrefix?: number;
  epochs?: number;
  klRatio?: number;
  contrastiveRatio?: number;
  lr?: number;
  weightDecay?: number;
  gradAcc?: number;
  maxGradNorm?: number;
  maxTokens?: number;
  dropout?: number;
  seed?: number;
  /** Stop after this many optimizer steps (0 = none; for smoke runs). */
  maxSteps?: number;
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /** Called after each optimizer step. */
  onStep?: (log: PrefixStepLog) => void;
  /** Called after each epoch's validation. */
  onEpoch?: (log: { epoch: number; val: LossParts | null }) => void;
}

/** Loss terms as numbers. */
export interface LossParts {
  loss: number;
  lm: number;
  contrastive: number;
  kl: number;
}

/** One optimizer step's averaged loss terms. */
export interface PrefixStepLog extends LossParts {
  step: number;
  total: number;
}

/** What a run did. */
export interface PrefixTrainResult {
  steps: number;
  totalSteps: number;
  examples: number;
  skippedTooLong: number;
  skippedNoSignal: number;
  settings: SizeDefaults & { parameters: number };
  firstLoss: number | null;
  lastLoss: number | null;
  /** Directory of the last checkpoint (the `--adapter` of `eval --method prefix`). */
  checkpoint: string;
}

/** Logits [1, T, V] of `ids` [1, T] after `past` (or none), with autograd as the caller has it. */
export function forwardWithPast(model: DecoderLM, ids: Tensor, past: PrefixPast | null): Tensor {
  if (!past) return model.forward(ids).logits;
  const P = past.k[0].shape[1];
  const cache = new KVCache(model.config, 1, P + ids.shape[1], model.dtype, model.device);
  try {
    cache.prefill(past.k, past.v);
    return model.forward(ids, { cache }).logits;
  } finally {
    cache.dispose();
  }
}

/**
 * The loss of one example (upstream `PrefixTrainer.step`): `training` puts the model in training
 * mode for the two prefixed forwards (prefix dropout; the model's attention dropout, 0 in the
 * supported checkpoints) and the reference forward in eval mode, as upstream (L237-240). Call
 * inside a `tidy`.
 */
export function exampleLoss(
  model: DecoderLM,
  prefix: PrefixParams,
  ex: PrefixExample,
  vocab: number,
  ratios: PrefixLossRatios,
  training: boolean,
): PrefixLoss {
  const ids = tensor(BigInt64Array.from(ex.ids.map(BigInt)), [1, ex.ids.length], {
    dtype: "i64",
    device: model.device,
  });
  const w = tensor(Float32Array.from(ex.weights), [1, ex.ids.length], { device: model.device });
  const logits = (control: number) =>
    forwardWithPast(model, ids, prefix.past(control, training, model.dtype));
  model.train(training);
  const correct = logits(ex.control);
  const incorrect = logits(1 - ex.control);
  model.train(false);
  const ref = noGrad(() => forwardWithPast(model, ids, null));
  return prefixLoss(correct, incorrect, ref, ids, w, vocab, ratios);
}

/** Trains the prefix; see the module doc. */
export async function trainPrefix(o: PrefixTrainOptions): Promise<PrefixTrainResult> {
  const c = { ...UPSTREAM_PREFIX_TRAIN, dtype: "f32" as const, device: "cpu" as Device };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) Object.assign(c, { [k]: v });
  manualSeed(c.seed);
  const { model, tokenizer } = await loadPretrained(o.model, c);
  let prefix: PrefixParams | null = null;
  let opt: HfAdamW | null = null;
  try {
    const data = await loadPrefixSplit(o.data, "train", tokenizer, c.maxTokens);
    const val = await loadPrefixSplit(o.data, "val", tokenizer, c.maxTokens);
    if (!data.examples.length) {
      throw new DataError(
        `${o.data}: no usable prefix example among ${data.pairs} pairs (${data.tooLong} sides ` +
          `over ${c.maxTokens} tokens, ${data.noSignal} without changed or unchanged tokens)`,
      );
    }
    const parameters = model.namedParameters()
      .reduce((a, [, t]) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    const size = sizeDefaults(parameters);
    const settings = {
      nPrefix: o.nPrefix ?? size.nPrefix,
      epochs: o.epochs ?? size.epochs,
      klRatio: o.klRatio ?? size.klRatio,
      parameters,
    };
    const ratios = { lm: c.lmRatio, contrastive: c.contrastiveRatio, kl: settings.klRatio };
    prefix = PrefixParams.create(model.config, {
      nPrefix: settings.nPrefix,
      dropout: c.dropout,
      baseModel: o.model,
      device: model.device,
    });
    const p = prefix;
    const optimizer = new HfAdamW(p.namedParameters(), { eps: 1e-8, weightDecay: c.weightDecay });
    opt = optimizer;
    const n = data.examples.length;
    const total = Math.floor(n / c.gradAcc) * settings.epochs;
    const vocab = tokenizer.vocabSize;
    const parts = (ex: PrefixExample, training: boolean, backward: boolean): LossParts =>
      tidy(() => {
        const l = exampleLoss(model, p, ex, vocab, ratios, training);
        if (backward) l.loss.div(c.gradAcc).backward();
        return {
          loss: l.loss.item(),
          lm: l.lm.item(),
          contrastive: l.contrastive.item(),
          kl: l.kl.item(),
        };
      });
    let step = 0, first: number | null = null, last: number | null = null;
    let acc: LossParts = { loss: 0, lm: 0, contrastive: 0, kl: 0 };
    const add = (a: LossParts, b: LossParts, k = 1): LossParts => ({
      loss: a.loss + b.loss * k,
      lm: a.lm + b.lm * k,
      contrastive: a.contrastive + b.contrastive * k,
      kl: a.kl + b.kl * k,
    });
    const checkpoint = `${o.out}/checkpoint-last`;
    const stop = () => !!o.maxSteps && step >= o.maxSteps;
    for (let epoch = 0; epoch < settings.epochs && !stop(); epoch++) {
      const order = epochOrder(n, c.seed, epoch);
      for (let i = 0; i < n && !stop(); i++) {
        acc = add(acc, parts(data.examples[order[i]], true, true), 1 / c.gradAcc);
        optimizer.clipGradNorm(c.maxGradNorm);
        if ((i + 1) % c.gradAcc !== 0) continue;
        optimizer.step(c.lr * linearWarmupDecay(step, 0, total));
        optimizer.zeroGrad();
        step++;
        first ??= acc.loss;
        last = acc.loss;
        o.onStep?.({ step, total, ...acc });
        acc = { loss: 0, lm: 0, contrastive: 0, kl: 0 };
      }
      const valParts = val.examples.length
        ? noGrad(() =>
          val.examples.reduce(
            (a, ex) => add(a, parts(ex, false, false), 1 / val.examples.length),
            { loss: 0, lm: 0, contrastive: 0, kl: 0 },
          )
        )
        : null;
      o.onEpoch?.({ epoch: epoch + 1, val: valParts });
      await p.save(`${o.out}/checkpoint-epoch-${epoch + 1}`);
      await p.save(checkpoint);
    }
    return {
      steps: step,
      totalSteps: total,
      examples: n,
      skippedTooLong: data.tooLong,
      skippedNoSignal: data.noSignal,
      settings,
      firstLoss: first,
      lastLoss: last,
      checkpoint,
    };
  } finally {
    opt?.dispose();
    prefix?.dispose();
    model.dispose();
  }
}
