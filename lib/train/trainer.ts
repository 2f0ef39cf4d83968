/**
 * The DeepGuard trainer: SVEN pairs → SecurityAwareLoRAModel, AdamW with linear warm-up/decay,
 * gradient accumulation and clipping, validation with early stopping, atomic checkpoints with
 * exact resume, `OUT/train_log.jsonl`, and the best adapter in `OUT/best/`.
 *
 * Determinism: the pair order of epoch e depends only on (seed, e), and the torch generator is
 * reseeded from (seed, epoch, micro-batch) before every micro-batch, so a run resumed from a
 * checkpoint sees the same batches with the same dropout masks as an uninterrupted one.
 * @module
 */
import { manualSeed, setNumThreads, tidy } from "../../ffi/mod.ts";
import { AdamW, linearWarmupDecay } from "../nn/mod.ts";
import { makeBatch, maskTensor, notPadMask, type PairBatchHost, sideTensors } from "./batch.ts";
import {
  findComplete,
  loadOptimizer,
  readState,
  saveCheckpoint,
  type TrainerState,
  writeDirAtomic,
} from "./checkpoint.ts";
import { resolveConfig, type TrainConfig } from "./config.ts";
import { DEFAULT_LOSS, UPSTREAM_LOSS } from "./loss.ts";
import { loadSplit, tokenizePairs } from "./data.ts";
import { ProgressBar } from "../util/progress.ts";
import { epochOrder, mixSeed } from "./rng.ts";
import {
  type LossValues,
  type PairBatchTensors,
  SecurityAwareLoRAModel,
  type SecurityModelOptions,
} from "./security_model.ts";

/** One line of `OUT/train_log.jsonl` (one per optimizer step). */
export interface StepLog {
  /** Optimizer steps done (1-based). */
  step: number;
  /** Epoch (1-based). */
  epoch: number;
  /** Mean total loss over the step's micro-batches. */
  loss: number;
  /** Mean generation loss. */
  gen: number;
  /** Mean security loss. */
  sec: number;
  /** Mean (clamped) KL. */
  kl: number;
  /** Learning rate used for this update. */
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** Indices of the training pairs in this step, in order. */
  pairs: number[];
}

/** One validation. */
export interface ValidationLog {
  /** Epoch (1-based) just finished (or in progress when stopped by --max-steps). */
  epoch: number;
  /** Optimizer step. */
  step: number;
  /** Mean total validation loss. */
  loss: number;
  /** Whether this is the best so far (written to OUT/best). */
  best: boolean;
}

/** Callbacks and output options of {@link train}. */
export interface TrainHooks {
  /** Called after every optimizer step. */
  onStep?: (log: StepLog) => void;
  /** Called after every validation. */
  onValidation?: (log: ValidationLog) => void;
  /** No progress output on stderr. */
  quiet?: boolean;
}

/** Summary of a training run. */
export interface TrainResult {
  /** Optimizer steps at the end. */
  steps: number;
  /** Steps run by this invocation (excludes steps before a resume). */
  stepsThisRun: number;
  /** Why training ended. */
  stoppedBy: "epochs" | "max-steps" | "early-stopping";
  /** Loss of the first and last step of this invocation. */
  firstLoss: number | null;
  /** Loss of the last step of this invocation. */
  lastLoss: number | null;
  /** Best validation loss, and the directory holding that adapter. */
  bestVal: number | null;
  /** Directory holding the best adapter. */
  bestDir: string;
  /** Training pairs used / skipped for length; validation likewise. */
  trainPairs: number;
  /** Training pairs skipped for length. */
  skippedTrain: number;
  /** Training pairs with a side truncated to --max-length. */
  truncatedTrain: number;
  /** Validation pairs used. */
  valPairs: number;
  /** Validation pairs skipped for length. */
  skippedVal: number;
  /** Validation pairs with a side truncated to --max-length. */
  truncatedVal: number;
  /** Optimizer steps per second (training only, validation and checkpoints excluded). */
  stepsPerSecond: number;
}

/** Error that stops training (NaN loss, nothing to train on, unusable checkpoint). */
export class TrainError extends Error {
  /** Error class name. */
  override name = "TrainError";
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The batch as tensors; `padId` given (upstream recipe): loss positions are the non-pad ids. */
function toTensors(
  h: PairBatchHost,
  device: TrainConfig["device"],
  padId?: number,
): PairBatchTensors {
  return {
    secure: sideTensors(h.secure, device),
    vulnerable: sideTensors(h.vulnerable, device),
    ...(padId === undefined
      ? {}
      : { lossMask: maskTensor(notPadMask(h.secure.ids, padId), device) }),
  };
}

/**
 * Trains a DeepGuard adapter. `partial` needs `model`, `data` and `out`; every other field
 * defaults to {@link DEFAULT_TRAIN_CONFIG}. Resolves when training ends; throws
 * {@link TrainError} / TrainConfigError / DataError / SecurityModelError with a clear message.
 */
export async function train(
  partial: Partial<TrainConfig> & Pick<TrainConfig, "model" | "data" | "out">,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const cfg = resolveConfig(partial);
  if (cfg.threads) setNumThreads(cfg.threads);
  const trainRaw = await loadSplit(cfg.data, "train");
  const valRaw = await loadSplit(cfg.data, "val");
  await Deno.mkdir(cfg.out, { recursive: true });
  const ckDir = `${cfg.out}/checkpoint`;
  const logPath = `${cfg.out}/train_log.jsonl`;
  const bestDir = `${cfg.out}/best`;

  let resumeFrom: string | null = null;
  if (cfg.resume) {
    resumeFrom = await findComplete(ckDir);
    if (!resumeFrom) throw new TrainError(`--resume: no checkpoint found in ${ckDir}`);
  }
  manualSeed(cfg.seed);
  const upstream = cfg.recipe === "upstream";
  // upstream pads every side to max_length (deepguard/train.py:474-481); clean pads per batch
  const padTo = upstream ? cfg.maxLength : undefined;
  let lossPad: number | undefined; // upstream: targets and KL positions are the non-pad ids
  const modelOpts: SecurityModelOptions = {
    aggregation: cfg.aggregation,
    layers: cfg.layers,
    lora: {
      r: cfg.loraRank,
      alpha: cfg.loraAlpha,
      dropout: cfg.loraDropout,
      ...(cfg.targets ? { targetModules: cfg.targets } : {}),
    },
    dtype: cfg.dtype,
    device: cfg.device,
    analyzerDropout: cfg.analyzerDropout,
    aggregatorInit: upstream ? "torch" : "xavier",
    loss: {
      ...(upstream ? UPSTREAM_LOSS : DEFAULT_LOSS),
      margin: cfg.margin,
      secWeight: cfg.secWeight,
      klWeight: cfg.klWeight,
      useKl: cfg.kl,
      klClamp: 1.0,
    },
  };
  const model = resumeFrom
    ? await SecurityAwareLoRAModel.load(cfg.model, resumeFrom, modelOpts)
    : await SecurityAwareLoRAModel.create(cfg.model, modelOpts);
  let optimizer: AdamW | null = null;
  try {
    const tok = model.tokenizer;
    if (upstream) lossPad = tok.padTokenId;
    model.training = {
      recipe: cfg.recipe,
      max_length: cfg.maxLength,
      over_length: cfg.overLength,
      padding: upstream ? "max_length" : "longest",
    };
    const trainSet = tokenizePairs(trainRaw, tok, cfg.maxLength, cfg.overLength);
    const valSet = tokenizePairs(valRaw, tok, cfg.maxLength, cfg.overLength);
    for (const [name, s] of [["training", trainSet], ["validation", valSet]] as const) {
      if (!s.examples.length) {
        throw new TrainError(
          `all ${s.total} ${name} pairs have a side longer than --max-length ${cfg.maxLength} ` +
            `tokens (or shorter than 2); raise --max-length`,
        );
      }
    }
    const examples = trainSet.examples;
    const nBatches = Math.ceil(examples.length / cfg.batchSize);
    const stepsPerEpoch = Math.ceil(nBatches / cfg.gradAcc);
    let totalSteps = cfg.epochs * stepsPerEpoch;
    if (cfg.maxSteps) totalSteps = Math.min(totalSteps, cfg.maxSteps);
    // The LR schedule's length: the steps taken, or upstream's count, which floors the steps
    // per epoch and the warm-up (deepguard/train.py:601-607) though an epoch's last partial
    // accumulation group still steps; at least 1 step, where upstream would keep lr 0.
    let scheduleSteps = totalSteps, warmup = Math.ceil(cfg.warmupRatio * totalSteps);
    if (upstream) {
      scheduleSteps = Math.max(1, cfg.epochs * Math.floor(nBatches / cfg.gradAcc));
      if (cfg.maxSteps) scheduleSteps = Math.min(scheduleSteps, cfg.maxSteps);
      warmup = Math.floor(cfg.warmupRatio * scheduleSteps);
    }
    const progress = new ProgressBar("train", totalSteps, { quiet: hooks.quiet });
    progress.message(
      `recipe ${cfg.recipe}; data: ${trainSet.examples.length} training pairs ` +
        `(${trainSet.skipped} skipped, ${trainSet.truncated} truncated to ${cfg.maxLength} ` +
        `tokens), ${valSet.examples.length} validation pairs (${valSet.skipped} skipped, ` +
        `${valSet.truncated} truncated)`,
    );
    const fingerprint = JSON.stringify({
      recipe: cfg.recipe,
      overLength: cfg.overLength,
      model: cfg.model,
      train: examples.length,
      val: valSet.examples.length,
      batchSize: cfg.batchSize,
      gradAcc: cfg.gradAcc,
      epochs: cfg.epochs,
      maxLength: cfg.maxLength,
      maxSteps: cfg.maxSteps,
      aggregation: cfg.aggregation,
      layers: cfg.layers,
      loraRank: cfg.loraRank,
      seed: cfg.seed,
    });

    optimizer = new AdamW(model.trainableParameters(), {
      lr: cfg.lr,
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
    });
    let state: TrainerState;
    if (resumeFrom) {
      state = await readState(resumeFrom);
      if (state.fingerprint !== fingerprint) {
        throw new TrainError(
          `--resume: ${resumeFrom} was written with other settings ` +
            `(${state.fingerprint}) than this run (${fingerprint}); resume with the same flags`,
        );
      }
      await loadOptimizer(resumeFrom, optimizer);
      await truncateLog(logPath, state.step);
      progress.message(
        `resuming from ${resumeFrom}: step ${state.step}, epoch ${state.epoch + 1}, ` +
          `batch ${state.batchCursor}`,
      );
    } else {
      state = {
        step: 0,
        epoch: 0,
        batchCursor: 0,
        seed: cfg.seed,
        totalSteps,
        bestVal: null,
        bestStep: null,
        badEpochs: 0,
        validatedEpoch: -1,
        validatedStep: -1,
        fingerprint,
      };
      await Deno.writeTextFile(logPath, "");
      await saveCheckpoint(ckDir, model, optimizer, state);
    }

    const opt = optimizer;
    const validate = async (epoch: number): Promise<void> => {
      const batches = chunk(valSet.examples, cfg.batchSize);
      const use = cfg.maxValBatches ? batches.slice(0, cfg.maxValBatches) : batches;
      model.train(false);
      let sum = 0;
      try {
        for (const exs of use) {
          const host = makeBatch(exs, tok.padTokenId, padTo);
          sum += tidy(() => model.evalLoss(toTensors(host, cfg.device, lossPad))).total;
        }
      } finally {
        model.train(true);
      }
      const loss = sum / use.length;
      const best = Number.isFinite(loss) && (state.bestVal === null || loss < state.bestVal);
      if (best) {
        state.bestVal = loss;
        state.bestStep = state.step;
        state.badEpochs = 0;
        await writeDirAtomic(bestDir, (tmp) => model.save(tmp));
      } else {
        state.badEpochs++;
      }
      state.validatedEpoch = epoch;
      state.validatedStep = state.step;
      progress.message(
        `validation after step ${state.step} (epoch ${epoch + 1}): loss ${loss.toFixed(4)}` +
          (best ? ` — best so far, saved to ${bestDir}` : ` (best ${state.bestVal?.toFixed(4)})`),
      );
      hooks.onValidation?.({ epoch: epoch + 1, step: state.step, loss, best });
    };

    const nanError = (where: string, what: string): TrainError =>
      new TrainError(
        `${what} at ${where} — training stopped. The last checkpoint (step ` +
          `${lastSaved}) is kept in ${ckDir}; lower --lr or check the data, then --resume.`,
      );
    let lastSaved = state.step;
    let stoppedBy: TrainResult["stoppedBy"] = "epochs";
    let firstLoss: number | null = null, lastLoss: number | null = null;
    let trainMs = 0, stepsThisRun = 0;
    model.train(true);
    const log = await Deno.open(logPath, { append: true, create: true });
    const done = cfg.maxSteps > 0 && state.step >= cfg.maxSteps;
    if (done) stoppedBy = "max-steps";
    try {
      outer: for (let epoch = state.epoch; !done && epoch < cfg.epochs; epoch++) {
        const batches = chunk(epochOrder(examples.length, cfg.seed, epoch), cfg.batchSize);
        let b = epoch === state.epoch ? state.batchCursor : 0;
        while (b < batches.length) {
          const t0 = performance.now();
          const group = batches.slice(b, b + cfg.gradAcc);
          const sum: LossValues = {
            total: 0,
            gen: 0,
            sec: 0,
            kl: 0,
            klUnclamped: 0,
            sSec: 0,
            sVul: 0,
          };
          for (let k = 0; k < group.length; k++) {
            const host = makeBatch(group[k].map((i) => examples[i]), tok.padTokenId, padTo);
            model.components.stats.update(
              host.vulnerable.ids,
              upstream ? notPadMask(host.vulnerable.ids, tok.padTokenId) : host.vulnerable.mask,
              host.secure.ids,
              upstream ? notPadMask(host.secure.ids, tok.padTokenId) : host.secure.mask,
            );
            manualSeed(mixSeed(cfg.seed, epoch, b + k));
            const v = tidy(() =>
              model.lossAndBackward(
                toTensors(host, cfg.device, lossPad),
                // upstream divides by grad_acc even in a short last group (train.py:673-674)
                1 / (upstream ? cfg.gradAcc : group.length),
                cfg.gradCheckpointing,
              )
            );
            if (!Number.isFinite(v.total)) {
              throw nanError(
                `step ${state.step + 1} (epoch ${epoch + 1}, batch ${b + k}, pairs ` +
                  `[${host.indices.join(", ")}])`,
                `loss is ${v.total} (gen ${v.gen}, sec ${v.sec}, kl ${v.kl})`,
              );
            }
            for (const key of Object.keys(sum) as (keyof LossValues)[]) {
              sum[key] += v[key] / group.length;
            }
          }
          const gradNorm = opt.clipGradNorm(cfg.maxGradNorm);
          if (!Number.isFinite(gradNorm)) {
            throw nanError(
              `step ${state.step + 1} (epoch ${epoch + 1})`,
              `gradient norm is ${gradNorm}`,
            );
          }
          const lr = cfg.lr * linearWarmupDecay(state.step, warmup, scheduleSteps);
          opt.step(lr);
          opt.zeroGrad();
          b += group.length;
          state.step++;
          state.epoch = epoch;
          state.batchCursor = b;
          trainMs += performance.now() - t0;
          stepsThisRun++;
          const entry: StepLog = {
            step: state.step,
            epoch: epoch + 1,
            loss: sum.total,
            gen: sum.gen,
            sec: sum.sec,
            kl: sum.kl,
            lr,
            grad_norm: gradNorm,
            pairs: group.flat(),
          };
          await log.write(new TextEncoder().encode(JSON.stringify(entry) + "\n"));
          firstLoss ??= sum.total;
          lastLoss = sum.total;
          hooks.onStep?.(entry);
          progress.update(
            state.step,
            `ep ${epoch + 1} gen ${sum.gen.toFixed(3)} sec ${sum.sec.toFixed(3)} ` +
              `kl ${sum.kl.toFixed(4)} lr ${lr.toExponential(2)}`,
          );
          if (state.step % cfg.saveEvery === 0) {
            await saveCheckpoint(ckDir, model, opt, state);
            lastSaved = state.step;
          }
          if (cfg.maxSteps && state.step >= cfg.maxSteps) {
            stoppedBy = "max-steps";
            break outer;
          }
        }
        if (state.validatedEpoch !== epoch) await validate(epoch);
        state.epoch = epoch + 1;
        state.batchCursor = 0;
        await saveCheckpoint(ckDir, model, opt, state);
        lastSaved = state.step;
        if (state.badEpochs >= cfg.patience) {
          stoppedBy = "early-stopping";
          progress.message(`early stopping: no improvement for ${cfg.patience} validations`);
          break;
        }
      }
      if (stoppedBy === "max-steps") {
        if (state.validatedStep !== state.step) await validate(state.epoch);
        await saveCheckpoint(ckDir, model, opt, state);
      }
    } finally {
      log.close();
      progress.end();
    }
    return {
      steps: state.step,
      stepsThisRun,
      stoppedBy,
      firstLoss,
      lastLoss,
      bestVal: state.bestVal,
      bestDir,
      trainPairs: examples.length,
      skippedTrain: trainSet.skipped,
      truncatedTrain: trainSet.truncated,
      valPairs: valSet.examples.length,
      skippedVal: valSet.skipped,
      truncatedVal: valSet.truncated,
      stepsPerSecond: trainMs ? stepsThisRun / (trainMs / 1000) : 0,
    };
  } finally {
    optimizer?.dispose();
    model.dispose();
  }
}

/** Keeps only the log lines of steps ≤ `step` (a resumed run rewrites the later ones). */
async function truncateLog(path: string, step: number): Promise<void> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return;
  }
  const keep = text.split("\n").filter((l) => {
    if (!l.trim()) return false;
    try {
      return (JSON.parse(l) as StepLog).step <= step;
    } catch {
      return false; // a line cut by the crash
    }
  });
  await Deno.writeTextFile(path, keep.map((l) => l + "\n").join(""));
}
