/**
 * Training the CoSec security expert: a LoRA adapter on a (small) base model, as upstream
 * unknownhl/DeepGuard `cosec/train_lora_sec.py` does (defaults L27-50; `main` L236-313;
 * `train` L123-230):
 *
 * - LoRA r 8, α 16, dropout 0.05, bias none, on `q_proj`/`v_proj` (PEFT's target mapping for
 *   qwen2 and llama, L258-272); seed 3407 (`set_seed`, L240);
 * - examples from {@link loadCoSecSplit}, in file order (no sampler = no shuffling, L295-303),
 *   batch 1; loss {@link cosecLoss} divided by the accumulation 2 (L197-198);
 * - after EVERY backward the accumulated gradient's global norm is clipped to 1.0 (L204: the
 *   clip runs per micro-batch, not only before the optimizer step);
 * - every 2nd micro-batch of an epoch: AdamW step (lr 5e-5, eps 1e-8, torch's default weight
 *   decay 0.01, L137), zero_grad, then the HF linear schedule advances (50 warm-up steps, then
 *   linear decay to 0 at `len(data) // 2 * epochs`, L125-139), so the first update runs at lr 0;
 *   an epoch's odd last micro-batch keeps its gradient into the next epoch, as upstream's does;
 * - after each epoch the adapter (PEFT layout) and the tokenizer files go to
 *   `out/checkpoint-epoch-N` and `out/checkpoint-last` (L219-230).
 *
 * Upstream's per-epoch validation loss (`do_eval`, L76-121, logged only) is not computed.
 * @module
 */
import { type Device, manualSeed, noGrad, tensor, tidy } from "../../ffi/mod.ts";
import { applyLora } from "../lora/mod.ts";
import { loadPretrained } from "../model/load.ts";
import { AdamW, linearWarmupDecay } from "../nn/optim.ts";
import { DataError } from "../train/data.ts";
import { loadCoSecSplit } from "./data.ts";
import { cosecLoss } from "./loss.ts";

/** Options of {@link trainCoSec}; defaults are upstream's. */
export interface CoSecTrainOptions {
  /** Expert base model (HF directory). */
  model: string;
  /** SVEN-layout data directory (train split). */
  data: string;
  /** Output directory. */
  out: string;
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  warmupSteps?: number;
  gradAcc?: number;
  maxGradNorm?: number;
  maxTokens?: number;
  loraRank?: number;
  loraAlpha?: number;
  loraDropout?: number;
  seed?: number;
  /** Stop after this many optimizer steps (0 = none; for smoke runs). */
  maxSteps?: number;
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /**
   * Start from this PEFT adapter's LoRA weights instead of a fresh init (upstream's
   * `--resume_from_checkpoint`, L276-289, which loads the weights only).
   */
  resumeFrom?: string;
  /** Called after each optimizer step. */
  onStep?: (log: { step: number; total: number; loss: number; lm: number; kl: number }) => void;
}

/** Upstream's defaults (`cosec/train_lora_sec.py` L32-50). */
export const UPSTREAM_COSEC_TRAIN = Object.freeze({
  epochs: 8,
  lr: 5e-5,
  weightDecay: 0.01,
  warmupSteps: 50,
  gradAcc: 2,
  maxGradNorm: 1.0,
  maxTokens: 1024,
  loraRank: 8,
  loraAlpha: 16,
  loraDropout: 0.05,
  seed: 3407,
});

/** What a run did. */
export interface CoSecTrainResult {
  steps: number;
  totalSteps: number;
  examples: number;
  skippedTooLong: number;
  skippedNoSignal: number;
  firstLoss: number | null;
  lastLoss: number | null;
  /** Directory of the last checkpoint (an `--expert` for `eval --method cosec`). */
  checkpoint: string;
}

/** Trains the expert; see the module doc. */
export async function trainCoSec(o: CoSecTrainOptions): Promise<CoSecTrainResult> {
  const c = {
    ...UPSTREAM_COSEC_TRAIN,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  } as
    & typeof UPSTREAM_COSEC_TRAIN
    & CoSecTrainOptions;
  manualSeed(c.seed);
  const { model, tokenizer } = await loadPretrained(c.model, {
    dtype: c.dtype ?? "f32",
    device: c.device ?? "cpu",
  });
  try {
    const data = await loadCoSecSplit(c.data, "train", tokenizer, c.maxTokens);
    if (!data.examples.length) {
      throw new DataError(
        `${c.data}: no usable CoSec example among ${data.total} pairs ` +
          `(${data.tooLong} over ${c.maxTokens} tokens, ${data.noSignal} without changed tokens)`,
      );
    }
    const adapter = applyLora(model, {
      r: c.loraRank,
      alpha: c.loraAlpha,
      dropout: c.loraDropout,
      targetModules: ["q_proj", "v_proj"],
    });
    if (c.resumeFrom) await adapter.loadWeights(c.resumeFrom);
    adapter.train(true);
    const opt = new AdamW(adapter.namedParameters(), {
      lr: c.lr,
      eps: 1e-8,
      weightDecay: c.weightDecay,
    });
    const total = Math.floor(data.examples.length / c.gradAcc) * c.epochs;
    const vocab = tokenizer.vocabSize;
    let step = 0, first: number | null = null, last: number | null = null;
    let acc = { loss: 0, lm: 0, kl: 0 };
    const checkpoint = `${c.out}/checkpoint-last`;
    const save = async (dir: string) => {
      await adapter.save(dir, c.model);
      for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
        await Deno.copyFile(`${c.model}/${f}`, `${dir}/${f}`).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
      }
    };
    training: for (let epoch = 0; epoch < c.epochs; epoch++) {
      for (let i = 0; i < data.examples.length; i++) {
        const ex = data.examples[i];
        const parts = tidy(() => {
          const ids = tensor(BigInt64Array.from(ex.ids.map(BigInt)), [1, ex.ids.length], {
            dtype: "i64",
            device: model.device,
          });
          const w = tensor(Float32Array.from(ex.weights), [1, ex.ids.length], {
            device: model.device,
          });
          const ref = adapter.withDisabled(() => noGrad(() => model.forward(ids).logits));
          const l = cosecLoss(model.forward(ids).logits, ref, ids, w, vocab);
          l.loss.div(c.gradAcc).backward();
          return [l.loss.item(), l.lm.item(), l.kl.item()];
        });
        opt.clipGradNorm(c.maxGradNorm);
        acc = { loss: acc.loss + parts[0], lm: acc.lm + parts[1], kl: acc.kl + parts[2] };
        if ((i + 1) % c.gradAcc !== 0) continue;
        opt.step(c.lr * linearWarmupDecay(step, c.warmupSteps, total));
        opt.zeroGrad();
        step++;
        const log = {
          step,
          total,
          loss: acc.loss / c.gradAcc,
          lm: acc.lm / c.gradAcc,
          kl: acc.kl / c.gradAcc,
        };
        acc = { loss: 0, lm: 0, kl: 0 };
        first ??= log.loss;
        last = log.loss;
        c.onStep?.(log);
        if (c.maxSteps && step >= c.maxSteps) break training;
      }
      await save(`${c.out}/checkpoint-epoch-${epoch + 1}`);
      await save(checkpoint);
    }
    if (c.maxSteps && step >= c.maxSteps) await save(checkpoint);
    return {
      steps: step,
      totalSteps: total,
      examples: data.examples.length,
      skippedTooLong: data.tooLong,
      skippedNoSignal: data.noSignal,
      firstLoss: first,
      lastLoss: last,
      checkpoint,
    };
  } finally {
    model.dispose();
  }
}
