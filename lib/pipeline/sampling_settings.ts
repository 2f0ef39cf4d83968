/**
 * The sampling settings of an evaluation run, apart from the sampler so that
 * run metadata (lib/eval) can name them without loading the model or tokenizer.
 * @module
 */

/** Sampling settings of an evaluation run. */
export interface SampleSettings {
  /** Samples per scenario (paper: 100). */
  samples: number;
  /** Sequences per generate call (paper: 20). */
  perCall: number;
  /** Temperature (paper: 0.1). */
  temperature: number;
  /** Nucleus top-p (paper: 0.95). */
  topP: number;
  /** New-token budget (paper: 300). */
  maxNewTokens: number;
  /** Base seed; call i uses seed + i (paper: 1). */
  seed: number;
}

/** The paper's sampling settings. */
export const PAPER_SAMPLING: Readonly<SampleSettings> = Object.freeze({
  samples: 100,
  perCall: 20,
  temperature: 0.1,
  topP: 0.95,
  maxNewTokens: 300,
  seed: 1,
});
