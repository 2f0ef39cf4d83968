/**
 * Per-row token selection for a continuously batched decode step. Rows of one step belong to
 * different requests, so every knob is per row: guidance on/off and strength, the guidance boost
 * (which depends on the row's own step), greedy or sampled, temperature, top-p — and the random
 * draw, which comes from the request's own seeded generator (inverse-CDF sampling with a host
 * uniform), so a seeded request gives the same text however it is batched.
 *
 * Guidance is DeepGuard's bias: strength·n every step plus max(n, 0) at the boosted steps, with
 * n = stats / (max|stats| + 1e-8) (see the guided-decoding module, whose formulas this applies
 * row by row).
 * @module
 */
import { cat, type Tensor, tensor, tidy, zeros } from "../../ffi/mod.ts";
import { normalizeStats } from "./deps.ts";

/** Generated-token positions (0-based) that get the extra max(n, 0), as the seed's guidance. */
export const BOOST_STEPS: readonly number[] = [1, 2];

/** One row's selection settings for this step. */
export interface RowChoice {
  /** Argmax (temperature 0) instead of sampling. */
  greedy: boolean;
  /** Temperature (> 0; ignored when greedy). */
  temperature: number;
  /** Nucleus mass in (0, 1]. */
  topP: number;
  /** Uniform draw in [0, 1) from the row's generator (ignored when greedy). */
  u: number;
  /** Guidance strength (scale / s̄), or null when the row is unguided. */
  strength: number | null;
  /** The row's 0-based generated-token index (decides the boost). */
  step: number;
}

/** Selects next tokens for a batch of rows. Dispose to free the guidance direction. */
export class RowSampler implements Disposable {
  #dir: Tensor | null = null;
  #pos: Tensor | null = null;
  readonly #stats: Float32Array | null;

  /** @param stats token security statistics (null: guidance unavailable) */
  constructor(stats: Float32Array | null) {
    this.#stats = stats;
  }

  /** Picks one token id per row from float32 logits [B, V]. */
  pick(logits: Tensor, rows: readonly RowChoice[]): number[] {
    const B = rows.length;
    const V = logits.shape[1];
    if (logits.shape[0] !== B) {
      throw new RangeError(`${B} row settings for ${logits.shape[0]} rows`);
    }
    return tidy(() => {
      const dev = logits.device;
      const col = (f: (r: RowChoice) => number) =>
        tensor(new Float32Array(rows.map(f)), [B, 1], { device: dev });
      let s = logits;
      if (rows.some((r) => r.strength !== null)) {
        const [dir, pos] = this.#direction(V, logits);
        s = s.add(col((r) => r.strength ?? 0).mul(dir));
        s = s.add(col((r) => r.strength !== null && BOOST_STEPS.includes(r.step) ? 1 : 0).mul(pos));
      }
      const out = s.argmax(-1).toNumbers();
      if (rows.every((r) => r.greedy)) return out;
      const t = s.div(col((r) => r.greedy ? 1 : r.temperature));
      const { values, indices } = t.sort(-1, false);
      const removeSorted = values.softmax(-1).cumsum(-1).le(col((r) => 1 - r.topP));
      const keepBest = zeros([B, 1], { dtype: "bool", device: dev });
      const sortedMask = cat([removeSorted.narrow(-1, 0, V - 1), keepBest], -1);
      const probs = t.maskedFill(sortedMask.scatter(-1, indices, sortedMask), -Infinity)
        .softmax(-1);
      const cdf = probs.cumsum(-1);
      const target = col((r) => r.u).mul(cdf.narrow(-1, V - 1, 1));
      const drawn = cdf.lt(target).sum(-1).clamp(0, V - 1).toNumbers();
      return rows.map((r, i) => r.greedy ? out[i] : drawn[i]);
    });
  }

  /** n [1,V] and max(n, 0) [1,V] on the logits' device, built once. */
  #direction(V: number, like: Tensor): [Tensor, Tensor] {
    if (this.#dir === null || this.#pos === null) {
      if (this.#stats === null) throw new Error("guidance needs the adapter's token statistics");
      if (this.#stats.length !== V) {
        throw new RangeError(
          `security statistics cover ${this.#stats.length} token ids but the logits have ${V}`,
        );
      }
      const n = normalizeStats(this.#stats);
      this.#dir = tensor(n, [1, V], { device: like.device }).keep();
      this.#pos = tensor(n.map((x) => Math.max(x, 0)), [1, V], { device: like.device }).keep();
    }
    return [this.#dir, this.#pos];
  }

  /** Frees the guidance tensors. */
  dispose(): void {
    this.#dir?.dispose();
    this.#pos?.dispose();
    this.#dir = this.#pos = null;
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A small seeded generator (mulberry32) giving uniforms in [0, 1). */
export class Rng {
  #s: number;

  /** Seeds from an integer seed and a stream index (the choice number within a request). */
  constructor(seed: number, stream = 0) {
    const lo = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
    const hi = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed)) >> 32n));
    this.#s = (lo ^ Math.imul(hi + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(stream + 1, 0x9e3779b9)) >>>
      0;
  }

  /** Next uniform in [0, 1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
