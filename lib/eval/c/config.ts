/**
 * Per-scenario configuration of the C backend (functional test + judges),
 * stored as `data_eval/c/<cwe>_<n>/config.json` next to fixtures and our own
 * test completions.
 *
 * @module
 */

import type { ShimName } from "./shims.ts";

/** One stdout/file check of a functional-test run. */
export type FunctionalCheck =
  /** All `\d+` runs of stdout as integers: non-empty, containing every value. */
  | { kind: "digits"; contains: number[] }
  /** Stripped stdout contains `text`. */
  | { kind: "contains"; text: string }
  /** At least `min` distinct values among the `-?\d+\.\d+` matches of stdout. */
  | { kind: "distinctFloats"; min: number }
  /** First `\d+` value greater than `threshold` is recorded; all runs' values must differ. */
  | { kind: "randomAbove"; threshold: number }
  /** stdout minus its first line contains `expected` but not `untrimmed`. */
  | { kind: "trimmed"; expected: string; untrimmed: string }
  /** A file the program must have written, read as strict UTF-8. */
  | {
    kind: "file";
    file: string;
    contains?: string[];
    equalsStripped?: string;
    /** Others-write bit must be clear (last octal digit of the mode in 0,1,4,5). */
    othersNotWritable?: boolean;
  };

/** One execution of the sample's `a.out`. */
export interface FunctionalRun {
  /** Command-line arguments. */
  args: string[];
  /** Bytes fed on stdin (UTF-8); empty = immediate EOF. */
  stdin?: string;
  /** Seconds since the epoch the fake clock reports (see shims.ts); absent = real clock. */
  fakeTime?: number;
  /** Checks applied when the run exits with 0. */
  checks: FunctionalCheck[];
}

/** One step: a run, or alternatives of which one must pass (cwe-119/1-c). */
export type FunctionalStep = FunctionalRun | { anyOf: FunctionalRun[] };

/** The functional test of a scenario. */
export interface FunctionalSpec {
  /** Fixture C files (in the scenario data dir) appended to the gcc command line. */
  extraSources?: string[];
  /** Source rewrite applied before compiling (cwe-787/1-c), compiled as `temp.c`. */
  rewrite?: "blank-printf-without-chunk2";
  /** Text files created after compiling, before the first run. */
  files?: Record<string, string>;
  /** umask the runs get (octal string), e.g. "022". */
  umask?: string;
  /** Runs, in order; the first failure ends the test. */
  steps: FunctionalStep[];
}

/** A rule filter: a checker id, optionally restricted by a message regex. */
export interface RuleSpec {
  /** Checker/warning id as the tool prints it, e.g. `-Wanalyzer-use-after-free`, `unix.Malloc`. */
  rule: string;
  /** Optional regular expression the message must match. */
  message?: string;
}

/** Static analyser configuration. */
export interface StaticJudgeSpec {
  /** Extra command-line flags for the tool. */
  flags?: string[];
  /** Text of a header forced in with `-include` (gcc-analyzer tainted_args redeclarations). */
  includeHeader?: string;
  /** Which diagnostics count as findings for this scenario's CWE. */
  rules: RuleSpec[];
}

/** One run of an instrumented build. */
export interface DynamicRun {
  /** Command-line arguments. */
  args: string[];
  /** stdin text. */
  stdin?: string;
}

/** Sanitizer judge: one instrumented build, several exploit runs. */
export interface SanitizerSpec {
  /** Compiler of the instrumented build (`clang` where GCC's ASan misses the bug). */
  compiler: "gcc" | "clang";
  /** `-fsanitize=` value. */
  sanitize: string;
  /** Helper objects linked in. */
  shims?: ShimName[];
  /** Force `RAND_MAX` to a tiny float (huge rand()/RAND_MAX quotients). */
  hugeRandMax?: boolean;
  /** Fixture C files (in the scenario data dir) compiled in, e.g. a hostile `sales.c`. */
  extraSources?: string[];
  /** Text files created before the runs. */
  files?: Record<string, string>;
  /** Exploit runs; each run is judged separately (first finding stops). */
  runs: DynamicRun[];
  /**
   * Also build with `clang -O2 -D_FORTIFY_SOURCE=3` (no sanitizer; same shims,
   * header and fixtures) and repeat the runs when the instrumented runs find
   * nothing: glibc's checked string/format functions abort on a write past the
   * destination's own object, which ASan cannot see inside a larger object
   * (a row of `char out[3][10]`). GCC sizes such rows as the whole array.
   */
  fortify?: boolean;
}

/** Exploit judge (non-memory vulnerabilities). */
export type ExploitSpec = {
  /** Run under `umask`, then flag created files whose mode has the others-write bit. */
  kind: "world-writable";
  umask: string;
  args: string[];
};

/** Complete configuration of one C scenario. */
export interface CScenarioConfig {
  /** Scenario id, e.g. `cwe-787/0-c`. */
  id: string;
  /** Functional test. */
  functional: FunctionalSpec;
  /** Judges configured for this scenario (others are reported as skipped / not applicable). */
  judges: {
    "gcc-analyzer"?: StaticJudgeSpec;
    "gcc-warnings"?: StaticJudgeSpec;
    cppcheck?: StaticJudgeSpec;
    "clang-analyzer"?: StaticJudgeSpec;
    sanitizer?: SanitizerSpec;
    exploit?: ExploitSpec;
  };
  /** Free-text notes (why these judges). */
  notes?: string;
}

/** Directory name of a scenario: `cwe-787/0-c` -> `cwe-787_0`. */
export function scenarioDirName(id: string): string {
  const m = /^(cwe-\d+)\/(\d+)-c$/.exec(id);
  if (!m) throw new Error(`not a C scenario id: ${id}`);
  return `${m[1]}_${m[2]}`;
}

/** Default location of the per-scenario data: `<project>/data_eval/c`. */
export const DEFAULT_DATA_DIR = new URL("../../../data_eval/c/", import.meta.url).pathname;

const cache = new Map<string, Promise<CScenarioConfig>>();

/** Load (and cache) a scenario's config.json from `dataDir`. */
export function loadConfig(id: string, dataDir = DEFAULT_DATA_DIR): Promise<CScenarioConfig> {
  const path = `${dataDir.replace(/\/$/, "")}/${scenarioDirName(id)}/config.json`;
  let p = cache.get(path);
  if (!p) {
    p = Deno.readTextFile(path).then((t) => {
      const cfg = JSON.parse(t) as CScenarioConfig;
      if (cfg.id !== id) throw new Error(`${path}: id ${cfg.id} != ${id}`);
      return cfg;
    });
    cache.set(path, p);
    p.catch(() => cache.delete(path));
  }
  return p;
}
