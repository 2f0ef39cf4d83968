/**
 * Seeded, deterministic bootstrap confidence intervals over samples for pass@1 and sec-pass@1.
 *
 * Each sample of a scenario is one of three outcomes: secure and functional, functional only, or
 * neither. Resampling a scenario's n samples with replacement is therefore a multinomial draw
 * with the observed proportions, so the counts of summary.json are all a bootstrap needs.
 * Scenarios are resampled independently (stratified), and any set of scenarios (a CWE, a report
 * group) is pooled per replicate, as in the OVERALL row. Percentile intervals.
 *
 * @module
 */

/** Counts of one scenario. */
export interface OutcomeCounts {
  /** Samples. */
  n: number;
  /** Functional samples. */
  functional: number;
  /** Secure and functional samples. */
  secureFunctional: number;
}

/** A confidence interval in percent. */
export interface Interval {
  /** Lower bound. */
  lo: number;
  /** Upper bound. */
  hi: number;
}

/** Replicates per bootstrap (the intervals' Monte Carlo error is well under 1 point). */
export const BOOTSTRAP_REPS = 2000;

/** Default seed of the comparison's bootstraps. */
export const BOOTSTRAP_SEED = 20240601;

/** mulberry32: a small, fast, seeded PRNG giving uniforms in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per-scenario resampled counts: `functional[s][r]`, `secureFunctional[s][r]` for replicate r. */
export interface Replicates {
  /** Replicates per scenario. */
  reps: number;
  /** Each scenario's sample count. */
  n: number[];
  /** Resampled functional counts, per scenario then replicate. */
  functional: Int32Array[];
  /** Resampled secure-and-functional counts, per scenario then replicate. */
  secureFunctional: Int32Array[];
}

/** Resamples every scenario `reps` times (deterministic for a given seed and input order). */
export function bootstrapScenarios(
  rows: readonly OutcomeCounts[],
  reps = BOOTSTRAP_REPS,
  seed = BOOTSTRAP_SEED,
): Replicates {
  const rand = seededRandom(seed);
  const functional: Int32Array[] = [];
  const secureFunctional: Int32Array[] = [];
  for (const r of rows) {
    const f = new Int32Array(reps), sf = new Int32Array(reps);
    const pSf = r.n ? r.secureFunctional / r.n : 0;
    const pF = r.n ? r.functional / r.n : 0;
    for (let k = 0; k < reps; k++) {
      let cf = 0, csf = 0;
      for (let i = 0; i < r.n; i++) {
        const u = rand();
        if (u < pSf) csf++;
        if (u < pF) cf++;
      }
      f[k] = cf;
      sf[k] = csf;
    }
    functional.push(f);
    secureFunctional.push(sf);
  }
  return { reps, n: rows.map((r) => r.n), functional, secureFunctional };
}

/** Pooled pass@1 and sec-pass@1 (percent) per replicate over the scenarios at `idx`. */
export function pooledReplicates(
  b: Replicates,
  idx: readonly number[],
): { pass1: Float64Array; secPass1: Float64Array } {
  const pass1 = new Float64Array(b.reps), secPass1 = new Float64Array(b.reps);
  const n = idx.reduce((a, i) => a + b.n[i], 0);
  for (let k = 0; k < b.reps; k++) {
    let f = 0, sf = 0;
    for (const i of idx) {
      f += b.functional[i][k];
      sf += b.secureFunctional[i][k];
    }
    pass1[k] = n ? (100 * f) / n : 0;
    secPass1[k] = n ? (100 * sf) / n : 0;
  }
  return { pass1, secPass1 };
}

/** Percentile interval (linear interpolation between order statistics). */
export function percentileInterval(xs: ArrayLike<number>, level = 0.95): Interval {
  const s = Float64Array.from(xs).sort();
  const q = (p: number) => {
    const h = (s.length - 1) * p;
    const lo = Math.floor(h);
    return s[lo] + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]) - s[lo]);
  };
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}

/** Elementwise difference of two replicate series (for a Δ interval). */
export function difference(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((x, i) => x - b[i]);
}

/** Mean over the scenarios at `idx` of per-scenario pass@1 and sec-pass@1, per replicate (AVERAGE). */
export function averageReplicates(
  b: Replicates,
  idx: readonly number[],
): { pass1: Float64Array; secPass1: Float64Array } {
  const pass1 = new Float64Array(b.reps), secPass1 = new Float64Array(b.reps);
  for (let k = 0; k < b.reps; k++) {
    let f = 0, sf = 0;
    for (const i of idx) {
      f += b.n[i] ? b.functional[i][k] / b.n[i] : 0;
      sf += b.n[i] ? b.secureFunctional[i][k] / b.n[i] : 0;
    }
    pass1[k] = idx.length ? (100 * f) / idx.length : 0;
    secPass1[k] = idx.length ? (100 * sf) / idx.length : 0;
  }
  return { pass1, secPass1 };
}
