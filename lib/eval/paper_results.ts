/**
 * The DeepGuard paper's reported numbers, shown beside ours in comparison.html when a run's
 * model is one of the paper's.
 *
 * Source: the upstream repository unknownhl/DeepGuard, README.md at commit
 * 40bc0e18ecae6bb97c15bb09fb718ac26ebab3a7, section "Experimental Results" — the only table of
 * numbers found there (no per-CWE or base-model numbers are published in the repository). It
 * gives, per base model, DeepGuard's pass@1 and its sec-pass@1 improvement ("Imp.") over the base
 * model, as printed (percent; the README does not say whether the improvement is in points or
 * relative, so it is shown verbatim and not recomputed).
 *
 * A model is recognised by its config.json shape (model_type, hidden size, layers, vocabulary),
 * the published architecture of each checkpoint (its public config.json, as tabulated in the
 * upstream-facts page shared/docs/models.md §1.1).
 *
 * @module
 */

import type { ModelMeta } from "./run_meta.ts";

/** One row of the paper's table. */
export interface PaperResult {
  /** Model name as the README prints it. */
  model: string;
  /** DeepGuard's pass@1 (percent). */
  deepguardPass1: number;
  /** sec-pass@1 improvement of DeepGuard over the base model, as printed ("Imp.", percent). */
  secPass1Improvement: number;
  /** config.json shape of the model's checkpoint, used to recognise it. */
  shape: { modelType: string; hiddenSize: number; layers: number; vocabSize: number };
}

/** Where {@link PAPER_RESULTS} comes from (shown under the table). */
export const PAPER_SOURCE =
  "unknownhl/DeepGuard README.md @ 40bc0e18, “Experimental Results” (sec-pass@1 (Imp.), pass@1)";

/**
 * The README's table, one row a model: name, DeepGuard's pass@1, sec-pass@1 improvement, then the
 * config.json shape (model_type, hidden size, layers, vocabulary).
 */
const TABLE: readonly [string, number, number, string, number, number, number][] = [
  ["Qwen2.5-Coder-3B", 86.65, 16.05, "qwen2", 2048, 36, 151936],
  ["Qwen2.5-Coder-7B", 83.18, 18.54, "qwen2", 3584, 28, 152064],
  ["DeepSeek-Coder-1.3B", 81.06, 20.74, "llama", 2048, 24, 32256],
  ["DeepSeek-Coder-6.7B", 88.47, 2.31, "llama", 4096, 32, 32256],
  ["SeedCoder-8B", 86.59, 30.68, "llama", 4096, 32, 155136],
];

/** The README's table, row by row. */
export const PAPER_RESULTS: readonly PaperResult[] = TABLE.map((
  [model, deepguardPass1, secPass1Improvement, modelType, hiddenSize, layers, vocabSize],
) => ({
  model,
  deepguardPass1,
  secPass1Improvement,
  shape: { modelType, hiddenSize, layers, vocabSize },
}));

/** The paper's row for a model, or null when the model is none of the paper's. */
export function paperResultFor(m: ModelMeta | null | undefined): PaperResult | null {
  if (!m) return null;
  return PAPER_RESULTS.find((p) =>
    p.shape.modelType === m.modelType && p.shape.hiddenSize === m.hiddenSize &&
    p.shape.layers === m.layers && p.shape.vocabSize === m.vocabSize
  ) ?? null;
}
