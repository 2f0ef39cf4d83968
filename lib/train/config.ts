/**
 * Training configuration: DeepGuard's defaults (the paper's hyper-parameters) in one object, each
 * overridable (the CLI maps one flag to each field).
 *
 * The recipe ({@link Recipe}) fixes the numerics that upstream DeepGuard and this toolkit's
 * `clean` variant disagree on (the full list in docs/fidelity.md): `upstream` pads and truncates
 * every side to 1024 tokens, pools the security score over every position, uses upstream's
 * softmax + 1e-8 KL, masks targets by the pad id, sizes the LR schedule as upstream and
 * initialises the aggregator as PyTorch does; `clean` pads each batch to its longest pair, pools
 * over real tokens, uses the exact KL, initialises the aggregator Xavier and skips (or, with
 * `--over-length truncate`, truncates) pairs longer than 512 tokens.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { type Aggregation, parseAggregation } from "../aggregator/mod.ts";
import { parseDevice } from "../util/device.ts";

/** Training recipe: upstream DeepGuard's numerics, or the toolkit's clean variant. */
export type Recipe = "upstream" | "clean";

/** What happens to a pair with a side longer than `maxLength` tokens. */
export type OverLength = "skip" | "truncate";

/** The settings each recipe fixes by default. */
export const RECIPE_DEFAULTS: Readonly<
  Record<Recipe, Readonly<{ maxLength: number; overLength: OverLength }>>
> = {
  // deepguard/train.py:912 (max_length 1024), :474-481 (truncation=True, padding="max_length")
  upstream: { maxLength: 1024, overLength: "truncate" },
  clean: { maxLength: 512, overLength: "skip" },
};

/** Everything `train()` needs. */
export interface TrainConfig {
  /** Recipe (upstream DeepGuard's numerics, or `clean`; see the module doc). */
  recipe: Recipe;
  /** Base model directory (HF layout). */
  model: string;
  /** Data directory (SVEN layout: train/ and val/ with *.jsonl, or train.jsonl / val.jsonl). */
  data: string;
  /** Output directory (checkpoint/, best/, train_log.jsonl). */
  out: string;
  /** Aggregation method. */
  aggregation: Aggregation;
  /** Number L of last hidden states aggregated. */
  layers: number;
  /** LoRA rank. */
  loraRank: number;
  /** LoRA α. */
  loraAlpha: number;
  /** LoRA dropout. */
  loraDropout: number;
  /** LoRA target modules; null = DeepGuard's default for the model type. */
  targets: string[] | null;
  /** Peak learning rate. */
  lr: number;
  /** AdamW weight decay. */
  weightDecay: number;
  /** AdamW β1. */
  beta1: number;
  /** AdamW β2. */
  beta2: number;
  /** AdamW ε. */
  eps: number;
  /** Fraction of optimizer steps spent in linear warm-up. */
  warmupRatio: number;
  /** Global gradient-norm clip. */
  maxGradNorm: number;
  /** Micro-batches per optimizer step. */
  gradAcc: number;
  /** Pairs per micro-batch. */
  batchSize: number;
  /** Epochs. */
  epochs: number;
  /** Early-stopping patience in epochs without validation improvement. */
  patience: number;
  /** Longest side in tokens (`upstream` also pads every side to it). */
  maxLength: number;
  /** Longer sides: skip the pair or truncate the side. */
  overLength: OverLength;
  /** Stop after this many optimizer steps (0 = no limit). */
  maxSteps: number;
  /** Use the KL term. */
  kl: boolean;
  /** Hinge margin. */
  margin: number;
  /** Weight of the security loss. */
  secWeight: number;
  /** Weight of the KL term. */
  klWeight: number;
  /** Analyzer dropout. */
  analyzerDropout: number;
  /** Base weight dtype (adapters, components and optimizer state are always f32). */
  dtype: "f32" | "bf16";
  /** Device. */
  device: Device;
  /** Recompute decoder layers during backward instead of storing activations. */
  gradCheckpointing: boolean;
  /** Seed of initialisation, shuffles and dropout. */
  seed: number;
  /** Continue from OUT/checkpoint. */
  resume: boolean;
  /** Write OUT/checkpoint every this many optimizer steps (and after each validation). */
  saveEvery: number;
  /** Validate on at most this many batches (0 = the whole validation split). */
  maxValBatches: number;
  /** libtorch intra-op threads (0 = leave libtorch's default). */
  threads: number;
}

/** DeepGuard's defaults (model/data/out must be given). */
export const DEFAULT_TRAIN_CONFIG: Readonly<Omit<TrainConfig, "model" | "data" | "out">> = {
  recipe: "upstream",
  aggregation: "attention",
  layers: 4,
  loraRank: 16,
  loraAlpha: 32,
  loraDropout: 0.1,
  targets: null,
  lr: 2e-5,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  warmupRatio: 0.1,
  maxGradNorm: 1.0,
  gradAcc: 2,
  batchSize: 8,
  epochs: 5,
  patience: 3,
  ...RECIPE_DEFAULTS.upstream,
  maxSteps: 0,
  kl: true,
  margin: 0.5,
  secWeight: 0.5,
  klWeight: 1.0,
  analyzerDropout: 0.1,
  dtype: "f32",
  device: "cpu",
  gradCheckpointing: false,
  seed: 42,
  resume: false,
  saveEvery: 50,
  maxValBatches: 0,
  threads: 0,
};

/** Error for an invalid training configuration (names the flag). */
export class TrainConfigError extends Error {
  /** Error class name. */
  override name = "TrainConfigError";
}

/**
 * Fills defaults (the recipe's `maxLength` / `overLength` unless given) and validates; throws
 * {@link TrainConfigError} naming the offending flag.
 */
export function resolveConfig(
  partial: Partial<TrainConfig> & Pick<TrainConfig, "model" | "data" | "out">,
): TrainConfig {
  const bad = (flag: string, msg: string): never => {
    throw new TrainConfigError(`--${flag}: ${msg}`);
  };
  const recipe = partial.recipe ?? DEFAULT_TRAIN_CONFIG.recipe;
  if (recipe !== "upstream" && recipe !== "clean") {
    bad("recipe", `must be upstream or clean, got ${recipe}`);
  }
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined),
  ) as Partial<TrainConfig>;
  const c: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    ...RECIPE_DEFAULTS[recipe],
    ...defined,
  } as TrainConfig;
  if (c.overLength !== "skip" && c.overLength !== "truncate") {
    bad("over-length", `must be skip or truncate, got ${c.overLength}`);
  }

  try {
    parseAggregation(c.aggregation);
  } catch (e) {
    bad("aggregation", (e as Error).message);
  }
  const posInt: [string, number][] = [
    ["layers", c.layers],
    ["lora-rank", c.loraRank],
    ["batch-size", c.batchSize],
    ["grad-acc", c.gradAcc],
    ["epochs", c.epochs],
    ["max-length", c.maxLength],
    ["patience", c.patience],
    ["save-every", c.saveEvery],
  ];
  for (const [f, v] of posInt) {
    if (!Number.isSafeInteger(v) || v < 1) bad(f, `must be a positive integer, got ${v}`);
  }
  for (
    const [f, v] of [["max-steps", c.maxSteps], ["max-val-batches", c.maxValBatches], [
      "threads",
      c.threads,
    ]] as const
  ) {
    if (!Number.isSafeInteger(v) || v < 0) bad(f, `must be a non-negative integer, got ${v}`);
  }
  if (!Number.isSafeInteger(c.seed) || c.seed < 0) {
    bad("seed", `must be an integer in [0, 2^53), got ${c.seed}`);
  }
  for (
    const [f, v] of [
      ["weight-decay", c.weightDecay],
      ["sec-weight", c.secWeight],
      ["kl-weight", c.klWeight],
      ["margin", c.margin],
    ] as const
  ) {
    if (!(Number.isFinite(v) && v >= 0)) bad(f, `must be a non-negative number, got ${v}`);
  }
  if (!(c.lr > 0 && Number.isFinite(c.lr))) bad("lr", `must be a positive number, got ${c.lr}`);
  if (!(c.loraAlpha > 0)) bad("lora-alpha", `must be positive, got ${c.loraAlpha}`);
  for (
    const [f, v] of [["lora-dropout", c.loraDropout], [
      "analyzer-dropout",
      c.analyzerDropout,
    ]] as const
  ) {
    if (!(v >= 0 && v < 1)) bad(f, `must be in [0, 1), got ${v}`);
  }
  if (!(c.warmupRatio >= 0 && c.warmupRatio <= 1)) bad("warmup-ratio", `must be in [0, 1]`);
  if (!(c.maxGradNorm > 0)) bad("max-grad-norm", `must be positive`);
  if (c.dtype !== "f32" && c.dtype !== "bf16") bad("dtype", `must be f32 or bf16, got ${c.dtype}`);
  if (!parseDevice(c.device)) {
    bad("device", `must be cpu, cuda or cuda:N, got ${c.device}`);
  }
  if (c.targets !== null && (!c.targets.length || c.targets.some((t) => !/^\w+$/.test(t)))) {
    bad("targets", `must be a comma-separated list of module names, got ${c.targets.join(",")}`);
  }
  return c;
}
