/**
 * pass@k and sec-pass@k for k > 1 with the unbiased estimator of Chen et al. (2021):
 * per scenario with n samples of which c pass, pass@k = 1 − C(n−c, k) / C(n, k), then the mean
 * over scenarios. Evaluated as 1 − ∏_{i=n−c+1}^{n} (1 − k/i), which never forms the (huge)
 * binomial coefficients, so it stays exact to rounding for n in the thousands.
 *
 * @module
 */

/** The k values reported (those with k ≤ the smallest scenario's sample count). */
export const PASS_AT_K_KS: readonly number[] = [1, 2, 5, 10, 20, 50, 100];

/**
 * Unbiased pass@k estimate (a probability in [0, 1]) from n samples with c correct.
 * Throws a RangeError unless 0 ≤ c ≤ n and 1 ≤ k ≤ n (integers).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (![n, c, k].every(Number.isInteger) || c < 0 || c > n || k < 1 || k > n) {
    throw new RangeError(`pass@k needs integers 0 ≤ c ≤ n and 1 ≤ k ≤ n, got n=${n} c=${c} k=${k}`);
  }
  if (k === 1) return c / n; // the product below telescopes to this, up to rounding
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** Per-k values in percent, keyed by k (as a string, for JSON). */
export type PassAtKValues = Record<string, number>;

/** pass@k and sec-pass@k (percent) of one scenario or the mean of a group. */
export interface PassAtKRow {
  /** pass@k (c = functional samples). */
  pass: PassAtKValues;
  /** sec-pass@k (c = secure and functional samples). */
  secPass: PassAtKValues;
}

/** summary.json's `passAtK`: the ks used, each scenario, and the mean of each report group. */
export interface PassAtKSummary {
  /** The k values reported. */
  ks: number[];
  /** Per scenario id. */
  scenarios: Record<string, PassAtKRow>;
  /** Mean over each report group's scenarios (`base`, `untrain`, `validation`; null if empty). */
  groups: Record<string, PassAtKRow | null>;
}

/** Counts a pass@k row needs. */
export interface PassCounts {
  /** Scenario id. */
  id: string;
  /** Samples. */
  n: number;
  /** Functional samples. */
  functional: number;
  /** Secure and functional samples. */
  secureFunctional: number;
}

/** pass@k for the given scenarios and groups (group = list of scenario ids, mean over them). */
export function passAtKSummary(
  rows: readonly PassCounts[],
  groups: Record<string, readonly string[] | null>,
): PassAtKSummary {
  const minN = rows.length ? Math.min(...rows.map((r) => r.n)) : 0;
  const ks = PASS_AT_K_KS.filter((k) => k <= minN);
  const scenarios: Record<string, PassAtKRow> = {};
  for (const r of rows) {
    scenarios[r.id] = {
      pass: Object.fromEntries(ks.map((k) => [k, 100 * passAtK(r.n, r.functional, k)])),
      secPass: Object.fromEntries(ks.map((k) => [k, 100 * passAtK(r.n, r.secureFunctional, k)])),
    };
  }
  const mean = (ids: readonly string[], key: keyof PassAtKRow): PassAtKValues =>
    Object.fromEntries(
      ks.map((k) => [k, ids.reduce((a, id) => a + scenarios[id][key][k], 0) / ids.length]),
    );
  const out: Record<string, PassAtKRow | null> = {};
  for (const [name, ids] of Object.entries(groups)) {
    out[name] = ids?.length ? { pass: mean(ids, "pass"), secPass: mean(ids, "secPass") } : null;
  }
  return { ks, scenarios, groups: out };
}
