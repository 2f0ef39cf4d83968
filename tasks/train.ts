/**
 * `deno task train --model DIR --data DIR --out DIR [flags]`: train a DeepGuard security-aware
 * LoRA adapter (see docs/training.md). Every hyper-parameter defaults to DeepGuard's value; the
 * flags' types come from here, their ranges from `resolveConfig` (lib/train/config.ts), which
 * checks them before anything loads.
 *
 * @module
 */
import {
  DataError,
  DEFAULT_TRAIN_CONFIG as D,
  RECIPE_DEFAULTS,
  resolveConfig,
  train,
  type TrainConfig,
  TrainConfigError,
} from "../lib/train/mod.ts";
import { AGGREGATIONS } from "../lib/aggregator/mod.ts";
import { defineFlags, type FlagValues, runMain, UsageError } from "../lib/util/cli.ts";
import { runCoSecTrain } from "./train_cosec.ts";
import { runPrefixTrain } from "./train_prefix.ts";

const spec = {
  method: {
    type: "choice",
    choices: ["deepguard", "cosec", "prefix"],
    default: "deepguard",
    help: "deepguard: this adapter; cosec: the CoSec expert; prefix: SVEN's prefix\n" +
      "(cosec and prefix have their own flags: --method cosec --help)",
  },
  model: {
    type: "path",
    kind: "dir",
    required: true,
    help: "base model (HF layout: config.json, model.safetensors, tokenizer.json)",
  },
  data: {
    type: "path",
    kind: "dir",
    required: true,
    help: "SVEN layout: train/*.jsonl + val/*.jsonl, or train.jsonl + val.jsonl",
  },
  out: { type: "outDir", required: true, help: "output: checkpoint/, best/, train_log.jsonl" },
  recipe: {
    type: "choice",
    choices: ["upstream", "clean"],
    default: D.recipe,
    help: "upstream: DeepGuard's numerics (1024 tokens padded, all-position score mean, " +
      "PyTorch init); clean: per-batch padding, real-token mean, Xavier, 512 (docs/fidelity.md)",
  },
  aggregation: {
    type: "string",
    arg: AGGREGATIONS.join("|"),
    default: D.aggregation,
    help: "how the last --layers hidden states are combined",
  },
  layers: { type: "int", default: D.layers, help: "last N hidden states aggregated" },
  "lora-rank": { type: "int", default: D.loraRank, help: "LoRA rank" },
  "lora-alpha": { type: "float", default: D.loraAlpha, help: "LoRA alpha" },
  "lora-dropout": { type: "float", default: D.loraDropout, help: "LoRA dropout" },
  targets: {
    type: "list",
    help: "LoRA target modules (default q_proj,v_proj for qwen2; q,k,v,o for llama)",
  },
  lr: {
    type: "float",
    default: D.lr,
    help: `peak learning rate; warm-up ${D.warmupRatio * 100}% then linear decay`,
  },
  "weight-decay": { type: "float", default: D.weightDecay, help: "AdamW weight decay" },
  "max-grad-norm": { type: "float", default: D.maxGradNorm, help: "gradient-norm clip" },
  "warmup-ratio": { type: "float", default: D.warmupRatio, help: "warm-up fraction of steps" },
  "batch-size": { type: "int", default: D.batchSize, help: "pairs per micro-batch" },
  "grad-acc": { type: "int", default: D.gradAcc, help: "micro-batches per optimizer step" },
  epochs: { type: "int", default: D.epochs, help: "epochs" },
  patience: { type: "int", default: D.patience, help: "early-stopping patience (epochs)" },
  "max-length": {
    type: "int",
    help: `longest side in tokens (default ${RECIPE_DEFAULTS.upstream.maxLength} upstream, ` +
      `${RECIPE_DEFAULTS.clean.maxLength} clean; upstream also pads to it)`,
  },
  "over-length": {
    type: "choice",
    choices: ["skip", "truncate"],
    help: "a longer side: skip the pair or truncate it (default truncate upstream, skip clean)",
  },
  "max-steps": {
    type: "int",
    default: D.maxSteps,
    help: "stop after N optimizer steps (0 = no limit)",
  },
  "no-kl": { type: "boolean", help: "drop the KL term" },
  "sec-weight": { type: "float", default: D.secWeight, help: "weight of the security loss" },
  "kl-weight": { type: "float", default: D.klWeight, help: "weight of the KL term" },
  dtype: {
    type: "choice",
    choices: ["f32", "bf16"],
    default: D.dtype,
    help: "base weights dtype (adapters/optimizer stay f32)",
  },
  device: { type: "device", default: D.device, help: "where training runs" },
  "grad-checkpointing": {
    type: "boolean",
    help: "recompute decoder layers in backward (less memory)",
  },
  seed: { type: "int", default: D.seed, help: "seed of initialisation, shuffles and dropout" },
  resume: { type: "boolean", help: "continue from OUT/checkpoint" },
  "save-every": { type: "int", default: D.saveEvery, help: "checkpoint every N steps" },
  "max-val-batches": {
    type: "int",
    default: D.maxValBatches,
    help: "validation batches (0 = all)",
  },
  threads: { type: "int", default: D.threads, help: "libtorch threads (0 = libtorch's default)" },
  quiet: { type: "boolean", help: "no progress bar" },
} as const;

/** The training configuration the flags ask for; a bad value is a {@link UsageError}. */
function configOf(v: FlagValues<typeof spec>): TrainConfig {
  try {
    return resolveConfig(flagConfig(v));
  } catch (e) {
    if (e instanceof TrainConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The flags as a partial configuration: unset `--max-length` / `--over-length` take the recipe's. */
function flagConfig(v: FlagValues<typeof spec>): Parameters<typeof resolveConfig>[0] {
  return {
    model: v.model,
    data: v.data,
    out: v.out,
    aggregation: v.aggregation as TrainConfig["aggregation"],
    layers: v.layers,
    loraRank: v["lora-rank"],
    loraAlpha: v["lora-alpha"],
    loraDropout: v["lora-dropout"],
    targets: v.targets ?? null,
    lr: v.lr,
    weightDecay: v["weight-decay"],
    maxGradNorm: v["max-grad-norm"],
    warmupRatio: v["warmup-ratio"],
    batchSize: v["batch-size"],
    gradAcc: v["grad-acc"],
    epochs: v.epochs,
    patience: v.patience,
    recipe: v.recipe as TrainConfig["recipe"],
    maxLength: v["max-length"],
    overLength: v["over-length"],
    maxSteps: v["max-steps"],
    kl: !v["no-kl"],
    secWeight: v["sec-weight"],
    klWeight: v["kl-weight"],
    dtype: v.dtype,
    device: v.device,
    gradCheckpointing: v["grad-checkpointing"],
    seed: v.seed,
    resume: v.resume,
    saveEvery: v["save-every"],
    maxValBatches: v["max-val-batches"],
    threads: v.threads,
    beta1: D.beta1,
    beta2: D.beta2,
    eps: D.eps,
    margin: D.margin,
    analyzerDropout: D.analyzerDropout,
  };
}

// Ranges are checked by resolveConfig (TrainConfigError names the flag) before the file system.
const cli = defineFlags(spec, { name: "train", check: (v) => void configOf(v) });

/** `--method cosec` / `prefix` have their own flags (tasks/train_cosec.ts, train_prefix.ts). */
const methodArg = Deno.args.find((_, i) => Deno.args[i - 1] === "--method") ??
  Deno.args.find((a) => a.startsWith("--method="))?.slice("--method=".length);

if (methodArg === "cosec") await runCoSecTrain(Deno.args);
else if (methodArg === "prefix") await runPrefixTrain(Deno.args);
else await runMain(cli.usage, trainDeepGuard);

async function trainDeepGuard(): Promise<void> {
  const { values } = cli.parse(Deno.args);
  // A failure mid-run may leave the progress bar's line open: start the error on a fresh line.
  // Malformed training data is the user's to fix: a usage error naming file:line and field.
  const r = await train(configOf(values), { quiet: values.quiet }).catch((e) => {
    console.error();
    throw e instanceof DataError ? new UsageError(e.message) : e;
  });
  const summary = {
    steps: r.steps,
    steps_this_run: r.stepsThisRun,
    stopped_by: r.stoppedBy,
    first_loss: r.firstLoss,
    last_loss: r.lastLoss,
    best_val_loss: r.bestVal,
    best_dir: r.bestDir,
    train_pairs: r.trainPairs,
    skipped_train: r.skippedTrain,
    truncated_train: r.truncatedTrain,
    val_pairs: r.valPairs,
    skipped_val: r.skippedVal,
    truncated_val: r.truncatedVal,
    steps_per_second: r.stepsPerSecond,
  };
  console.log(JSON.stringify(summary));
}
