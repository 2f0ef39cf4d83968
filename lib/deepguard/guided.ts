/**
 * Security-guided decoding, as the seed's `generate_with_security`:
 *
 * 1. forward the prompt once with hidden states; s̄ = mean analyzer score over the prompt tokens;
 * 2. strength = 1 / s̄ (a prompt the analyzer finds insecure is steered harder);
 * 3. n = stats / (max|stats| + 1e-8) over the token security statistics learned in training;
 * 4. at every generation step add strength·n to the logits, and at the boosted positions (the
 *    2nd and 3rd generated tokens: steps 1 and 2 counted from 0) also add max(n, 0).
 *
 * The adjustment plugs into the generator's logits-processor hook.
 * @module
 */
import { type Tensor, tensor } from "../../ffi/mod.ts";
import type { LogitsProcessor } from "../model/generate.ts";

/** Knobs of the guidance (defaults reproduce the seed). */
export interface GuidanceOptions {
  /** Multiplies 1/s̄ (default 1). 0 turns the per-step bias off. */
  strengthScale?: number;
  /** 0-based generated-token positions that also get max(n, 0) (default [1, 2]). */
  boostPositions?: readonly number[];
}

/** The guidance as a logits processor holding two bias tensors; `dispose()` frees them. */
export type SecurityLogitsProcessor = LogitsProcessor & {
  /** Frees the bias tensors (built on the first call). */
  dispose(): void;
};

/** n = stats / (max|stats| + 1e-8). */
export function normalizeStats(stats: ArrayLike<number>): Float32Array {
  let maxAbs = 0;
  for (let i = 0; i < stats.length; i++) maxAbs = Math.max(maxAbs, Math.abs(stats[i]));
  const out = new Float32Array(stats.length);
  for (let i = 0; i < stats.length; i++) out[i] = stats[i] / (maxAbs + 1e-8);
  return out;
}

/** strength = scale / s̄; s̄ must be a mean analyzer score in (0, 1]. */
export function guidanceStrength(meanPromptScore: number, scale = 1): number {
  if (!(meanPromptScore > 0 && meanPromptScore <= 1)) {
    throw new RangeError(`mean prompt security score must be in (0, 1], got ${meanPromptScore}`);
  }
  return scale / meanPromptScore;
}

/**
 * The per-step logit bias for one step: strength·n, plus max(n, 0) at boosted positions.
 * Returned as host numbers (for tests and inspection).
 */
export function guidanceBias(
  normalized: ArrayLike<number>,
  strength: number,
  step: number,
  boostPositions: readonly number[] = [1, 2],
): Float32Array {
  const boost = boostPositions.includes(step);
  const out = new Float32Array(normalized.length);
  for (let i = 0; i < normalized.length; i++) {
    out[i] = strength * normalized[i] + (boost ? Math.max(normalized[i], 0) : 0);
  }
  return out;
}

/**
 * A logits processor adding the guidance bias. `strengths` holds one strength per generated row
 * (rows of prompt i share prompt i's s̄), or one number for all rows. The bias vectors live on
 * the logits' device and are built once; the caller disposes the processor's tensors with
 * `dispose()` when generation is done.
 */
export function securityLogitsProcessor(
  stats: ArrayLike<number>,
  strengths: number | readonly number[],
  options: GuidanceOptions = {},
): SecurityLogitsProcessor {
  const n = normalizeStats(stats);
  const boostPositions = options.boostPositions ?? [1, 2];
  const scale = options.strengthScale ?? 1;
  let plain: Tensor | null = null;
  let boosted: Tensor | null = null;
  const build = (logits: Tensor) => {
    const rows = logits.shape[0];
    const vocab = logits.shape[1];
    if (vocab !== n.length) {
      throw new RangeError(
        `security statistics cover ${n.length} token ids but the logits have ${vocab}`,
      );
    }
    const per = typeof strengths === "number" ? Array(rows).fill(strengths) : [...strengths];
    if (per.length !== rows) {
      throw new RangeError(`${per.length} guidance strengths for ${rows} generated rows`);
    }
    const a = new Float32Array(rows * vocab);
    const b = new Float32Array(rows * vocab);
    for (let r = 0; r < rows; r++) {
      a.set(guidanceBias(n, per[r] * scale, -1, []), r * vocab);
      b.set(guidanceBias(n, per[r] * scale, 0, [0]), r * vocab);
    }
    const device = logits.device;
    plain = tensor(a, [rows, vocab], { device }).keep();
    boosted = tensor(b, [rows, vocab], { device }).keep();
  };
  const processor = (_ids: number[][], logits: Tensor, step: number): Tensor => {
    if (plain === null) build(logits);
    return logits.add(boostPositions.includes(step) ? boosted! : plain!);
  };
  return Object.assign(processor, {
    dispose(): void {
      plain?.dispose();
      boosted?.dispose();
      plain = boosted = null;
    },
  });
}
