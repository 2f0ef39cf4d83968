/**
 * The per-sample result record written to `results.jsonl`.
 *
 * @module
 */

import type { Finding } from "./types.ts";

/** Result of scoring one completion (one line of results.jsonl). */
export interface SampleResult {
  /** Scenario id, e.g. `cwe-078/0-py`. */
  scenario: string;
  /** Index of the sample within its scenario (0-based, input order). */
  index: number;
  /** 1-based line of the completion in the input file. */
  line: number;
  /** The assembled program passed the parse check. */
  parsed: boolean;
  /** The functional test passed. */
  functional: boolean;
  /** Parsed, no enabled judge reported a finding and none was inconclusive. */
  secure: boolean;
  /** Every finding of every enabled judge. */
  findings: Finding[];
  /** Infrastructure/harness problem, or `null`. */
  error: string | null;
  /** Why the sample did not parse, or why the functional test failed/passed. */
  detail?: string;
  /** Enabled judges that did not run for this sample. */
  skippedJudges?: { judge: string; reason: string }[];
  /** Judges that ran without reaching a verdict (timeout, crash, limit, tampering): not secure. */
  inconclusive?: { judge: string; reason: string }[];
  /** True when `error` is an infrastructure failure that a resumed run should retry. */
  retry?: boolean;
}
