/**
 * Helpers for tests and tools of the C backend: reading the C scenarios from
 * the upstream `scenarios.jsonl` and our own completions from
 * `data_eval/c/<cwe>_<n>/completions.json`.
 *
 * @module
 */

import type { Scenario } from "../types.ts";
import { DEFAULT_DATA_DIR, scenarioDirName } from "./config.ts";

/** Default location of the upstream scenarios (`../shared` relative to the project root). */
export const DEFAULT_SCENARIOS_PATH =
  new URL("../../../../shared/data/sec_eval/scenarios.jsonl", import.meta.url).pathname;

/** One of our labelled completions (raw text after the prompt). */
export interface LabelledCompletion {
  /** Short identifier, unique within the scenario. */
  name: string;
  /** Expected functional-test verdict. */
  functional: boolean;
  /** Expected security verdict (at least one finding from the enabled judges). */
  vulnerable: boolean;
  /** Judges that must report a finding (when their tool is installed). */
  expectJudges?: string[];
  /** Why this completion is interesting. */
  note?: string;
  /** Completion text exactly as a model would write it after the prompt. */
  completion: string;
}

/** Read the C scenarios of a `scenarios.jsonl` file, or `null` when it is absent. */
export async function loadCScenarios(path = DEFAULT_SCENARIOS_PATH): Promise<Scenario[] | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const out: Scenario[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const d = JSON.parse(line);
    if (d.language !== "c") continue;
    out.push({
      id: d.id,
      evalType: d.eval_type,
      cwe: d.cwe,
      language: "c",
      fileContext: d.file_context,
      funcContext: d.func_context,
      description: d.description ?? null,
      codeqlQuery: d.codeql_query ?? null,
      validation: Boolean(d.validation),
    });
  }
  return out;
}

/** Our labelled completions of a scenario. */
export async function loadCompletions(
  id: string,
  dataDir = DEFAULT_DATA_DIR,
): Promise<LabelledCompletion[]> {
  const path = `${dataDir.replace(/\/$/, "")}/${scenarioDirName(id)}/completions.json`;
  return JSON.parse(await Deno.readTextFile(path)) as LabelledCompletion[];
}

/**
 * Upstream's program assembly: `file_context + func_context + completion`,
 * right-stripped, plus one newline.
 */
export function assembleProgram(scenario: Scenario, completion: string): string {
  return (scenario.fileContext + scenario.funcContext + completion).trimEnd() + "\n";
}
