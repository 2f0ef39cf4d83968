/**
 * DeepGuard training, a client of `lib/deepguard`: the loss and its memory-saving backward, data
 * loading, checkpoints and the trainer behind `deno task train`.
 * @module
 */
export {
  type LossTerms,
  type LossValues,
  type PairBatchTensors,
  SecurityAwareLoRAModel,
  type SecurityModelOptions,
} from "./security_model.ts";
export { SecurityModelError } from "../deepguard/mod.ts";
export { checkpointedBackward, type CheckpointedInputs } from "./checkpointed.ts";
export { DEFAULT_LOSS, type LossWeights, type ScorePooling, UPSTREAM_LOSS } from "./loss.ts";
export {
  makeBatch,
  padRight,
  type PairBatchHost,
  type PairExample,
  type SideTensors,
  sideTensors,
} from "./batch.ts";
export {
  DataError,
  loadSplit,
  parseJsonl,
  type RawPair,
  splitFiles,
  tokenizePairs,
} from "./data.ts";
export {
  DEFAULT_TRAIN_CONFIG,
  type OverLength,
  type Recipe,
  RECIPE_DEFAULTS,
  resolveConfig,
  type TrainConfig,
  TrainConfigError,
} from "./config.ts";
export {
  type StepLog,
  train,
  TrainError,
  type TrainHooks,
  type TrainResult,
  type ValidationLog,
} from "./trainer.ts";
export { CheckpointStateError, type TrainerState } from "./checkpoint.ts";
export { gradCheck, type GradCheckEntry } from "./gradcheck.ts";
