/** Shared helpers of the eval tests. */
import { DEFAULT_SCENARIOS } from "../lib/eval/scenarios.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import { pythonProblem } from "../lib/eval/py/paths.ts";

/** True iff ../shared/data/sec_eval/scenarios.jsonl exists. */
export const HAS_SHARED = (() => {
  try {
    Deno.statSync(DEFAULT_SCENARIOS);
    return true;
  } catch {
    return false;
  }
})();

/** Why sandboxed evaluation cannot run here, or null. */
export const SANDBOX_PROBLEM = sandboxProblem() ?? pythonProblem();

/** Print a clear skip message once per test file. */
export function announceSkip(file: string, reasons: (string | null | false)[]): boolean {
  const r = reasons.filter(Boolean);
  if (r.length) console.warn(`SKIPPING ${file}: ${r.join("; ")}`);
  return r.length > 0;
}

/** The skip reason for tests needing ../shared. */
export const NO_SHARED = HAS_SHARED ? null : `../shared missing (${DEFAULT_SCENARIOS})`;
