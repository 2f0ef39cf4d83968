/**
 * DeepGuard training: the security-aware LoRA model and its loss, data loading, checkpoints and
 * the trainer behind `deno task train`.
 * @module
 */
export {
  baseConfigHash,
  type LossTerms,
  type LossValues,
  type PairBatchTensors,
  SecurityAwareLoRAModel,
  SecurityModelError,
  type SecurityModelOptions,
  type TokenScore,
} from "./security_model.ts";
export { DEFAULT_LOSS, type LossWeights } from "./loss.ts";
export { makeBatch, padRight, type PairBatchHost, type PairExample, sideTensors } from "./batch.ts";
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
