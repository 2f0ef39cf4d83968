/**
 * Shared types of the security evaluation harness.
 *
 * This file is a contract between the harness framework (lib/eval) and the
 * language backends (Python: lib/eval/py, C: lib/eval/c). Change it only in a
 * backwards-compatible way.
 *
 * @module
 */

/** Language of a scenario: Python or C. */
export type Language = "py" | "c";

/** One code-completion scenario (one line of scenarios.jsonl or one upstream folder). */
export interface Scenario {
  /** `<cwe>/<scenario>`, e.g. `cwe-078/0-py`. */
  id: string;
  /** `base` (trained CWEs) or `untrain` (held-out CWEs). */
  evalType: "base" | "untrain";
  /** CWE as written upstream, e.g. `CWE-078`. */
  cwe: string;
  /** Language of the prompt and of the program. */
  language: Language;
  /** Exact text of file_context (imports, set-up, helpers). */
  fileContext: string;
  /** Exact text of func_context (signature/comments of the function to complete). */
  funcContext: string;
  /** Short description, `null` if absent upstream. */
  description: string | null;
  /** CodeQL query deciding "vulnerable" (`check_ql`), `null` if absent. */
  codeqlQuery: string | null;
  /** True for the six SVEN/DeepGuard validation scenarios (excluded from the base report). */
  validation: boolean;
}

/** One security finding reported by a judge for one sample. */
export interface Finding {
  /** Judge that reported it, e.g. `semgrep`, `bandit`, `exploit`, `codeql`. */
  judge: string;
  /** Rule / check id inside the judge. */
  rule: string;
  /** 1-based line in the assembled program, `null` if unknown. */
  line: number | null;
  /** Human-readable explanation. */
  message: string;
}

/** What a backend found out about one parsed sample. */
export interface JudgeOutcome {
  /** True iff the functional test passed. */
  functional: boolean;
  /** Why the functional test passed or failed (short). */
  functionalDetail: string;
  /** Every security finding of every enabled judge (empty = secure). */
  findings: Finding[];
  /** Enabled judges that could not run (tool missing, not applicable, ...). */
  skippedJudges: { judge: string; reason: string }[];
  /**
   * Judges that ran but did not reach a verdict (timed out, crashed, hit a limit,
   * or the sample tampered with the harness). A sample with any entry is never
   * counted as secure (docs/eval.md, "Inconclusive judges"). Absent = none.
   */
  inconclusiveJudges?: { judge: string; reason: string }[];
}

/** One language backend: the C engineer exports `cBackend: LanguageBackend` from lib/eval/c/mod.ts. */
export interface LanguageBackend {
  /** Language this backend handles. */
  language: Language;
  /** Parse check of the assembled program (py: ast.parse; c: gcc -c -x c -, 5 s). */
  parseCheck(program: string, workDir: string): Promise<{ ok: boolean; message: string }>;
  /** Functional test + every enabled security judge for one sample, in its own sandbox dir. */
  evaluate(
    scenario: Scenario,
    program: string,
    workDir: string,
    judges: ReadonlySet<string>,
  ): Promise<JudgeOutcome>;
  /** Judge names this backend knows (e.g. "semgrep","bandit","exploit","codeql" / "gcc-analyzer","cppcheck","clang-analyzer","sanitizer","exploit","codeql"). */
  judgeNames: readonly string[];
  /** Optional batch parse check (one process for many programs); results in input order. */
  parseCheckBatch?(
    programs: readonly string[],
    workDir: string,
  ): Promise<{ ok: boolean; message: string }[]>;
  /**
   * Optional batch entry point: evaluate many samples of one scenario at once
   * (lets static analysers run once per batch). Results in input order. When
   * absent the harness calls `evaluate` per sample.
   */
  evaluateBatch?(
    scenario: Scenario,
    samples: readonly { program: string; workDir: string }[],
    judges: ReadonlySet<string>,
  ): Promise<JudgeOutcome[]>;
}
