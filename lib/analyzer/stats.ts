/**
 * Token security statistics: one float per vocabulary id, nudged down by every occurrence in a
 * vulnerable sample and up by every occurrence in a secure one, clamped to [−1, 1].
 * @module
 */

/** Per-vocabulary-id security statistic (host memory; saved as `token_security_stats` [V] f32). */
export class TokenSecurityStats {
  /** The values, indexed by token id. */
  readonly values: Float32Array;
  /** Amount added per secure occurrence / subtracted per vulnerable occurrence. */
  readonly step: number;

  /**
   * Creates statistics for a vocabulary of V ids.
   * @param vocabSize V
   * @param step per-occurrence change (default 0.01)
   * @param values initial values (copied), default zeros
   */
  constructor(vocabSize: number, step = 0.01, values?: ArrayLike<number>) {
    this.values = new Float32Array(vocabSize);
    this.step = step;
    if (values) {
      if (values.length !== vocabSize) {
        throw new RangeError(`token stats have ${values.length} entries, expected ${vocabSize}`);
      }
      this.values.set(values);
    }
  }

  /** Number of entries V. */
  get size(): number {
    return this.values.length;
  }

  /**
   * Updates from one batch: −step per vulnerable-side real token, +step per secure-side one
   * (entries whose mask is 0 are padding and skipped), then clamps to [−1, 1].
   * Rows are [B][T] id and mask arrays.
   */
  update(
    vulnerableIds: readonly (readonly number[])[],
    vulnerableMask: readonly (readonly number[])[],
    secureIds: readonly (readonly number[])[],
    secureMask: readonly (readonly number[])[],
  ): void {
    const acc = new Float64Array(this.values.length);
    const add = (
      ids: readonly (readonly number[])[],
      mask: readonly (readonly number[])[],
      d: number,
    ) => {
      ids.forEach((row, b) =>
        row.forEach((id, t) => {
          if (mask[b][t] !== 1) return;
          if (id < 0 || id >= acc.length) {
            throw new RangeError(`token id ${id} outside the vocabulary [0, ${acc.length})`);
          }
          acc[id] += d;
        })
      );
    };
    add(vulnerableIds, vulnerableMask, -this.step);
    add(secureIds, secureMask, this.step);
    for (let i = 0; i < acc.length; i++) {
      if (acc[i] !== 0) this.values[i] = Math.min(1, Math.max(-1, this.values[i] + acc[i]));
    }
  }

  /** The statistic of one token id. */
  get(id: number): number {
    return this.values[id];
  }
}
