/**
 * The scoping flags `eval` and `score` share (scenario file, CWEs, languages, id prefixes), the
 * mapping of their input errors to usage errors, and the scoring-rate estimate `--dry-run` uses.
 * @module
 */
import { CompletionsError } from "../lib/eval/completions.ts";
import { JudgeError } from "../lib/eval/judges.ts";
import { ScenarioError } from "../lib/eval/scenarios.ts";
import { UsageError } from "../lib/util/cli.ts";
import { PROJECT_ROOT } from "../lib/util/paths.ts";

/** `--scenarios`, `--cwe`, `--language`, `--scenario-ids`. */
export const SCOPE_FLAGS = {
  scenarios: {
    type: "path",
    kind: "any",
    help:
      "scenarios.jsonl or an upstream sec_eval folder\n(default ../shared/data/sec_eval/scenarios.jsonl)",
  },
  cwe: { type: "list", arg: "LIST", help: "only these CWEs, e.g. cwe-078,89" },
  language: { type: "list", choices: ["py", "c"], arg: "py,c", help: "only these languages" },
  "scenario-ids": {
    type: "list",
    arg: "LIST",
    help: "only these scenario ids or id prefixes (cwe-078 = every cwe-078 scenario)",
  },
} as const;

/**
 * Runs `f`, turning the user's input errors (bad scenario set, completions file, judge list,
 * selection) into a {@link UsageError} (exit 2, no stack trace).
 */
export async function asUsageError<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (
      e instanceof CompletionsError || e instanceof ScenarioError || e instanceof JudgeError ||
      e instanceof RangeError || e instanceof Deno.errors.NotFound
    ) {
      throw new UsageError(e.message);
    }
    throw e;
  }
}

/** Samples per second of the last `bench:score` on this checkout, if it was run. */
export async function scoreRateEstimate(): Promise<number | undefined> {
  try {
    const r = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/bench/results/score.json`));
    return typeof r.samples_per_s === "number" && r.samples_per_s > 0 ? r.samples_per_s : undefined;
  } catch {
    return undefined;
  }
}
