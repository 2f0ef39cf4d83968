/**
 * Reads completion files: JSONL lines `{"scenario": "cwe-078/0-py", "completion": "..."}`.
 *
 * @module
 */

import { parseJsonLines } from "../util/jsonl.ts";

/** Malformed completions input, naming `file:line`. */
export class CompletionsError extends Error {
  override name = "CompletionsError";
}

/** One completion to score. */
export interface CompletionItem {
  /** Scenario id. */
  scenario: string;
  /** Raw completion text (after the prompt). */
  completion: string;
  /** 1-based line in the input. */
  line: number;
  /** Index of this completion among those of its scenario. */
  index: number;
}

/**
 * Parse JSONL text. Every non-empty line must be an object with string fields
 * `scenario` and `completion`; `known` (if given) restricts scenario ids.
 */
export function parseCompletions(
  text: string,
  file: string,
  known?: ReadonlySet<string>,
): CompletionItem[] {
  const out: CompletionItem[] = [];
  const counts = new Map<string, number>();
  const lines = parseJsonLines(
    text,
    file,
    (where, msg) => new CompletionsError(`${where}: invalid JSON: ${msg}`),
  );
  for (const { value: o, line, where } of lines) {
    if (typeof o !== "object" || o === null || Array.isArray(o)) {
      throw new CompletionsError(`${where}: expected a JSON object`);
    }
    const r = o as Record<string, unknown>;
    if (typeof r.scenario !== "string") {
      throw new CompletionsError(`${where}: field "scenario" must be a string`);
    }
    if (typeof r.completion !== "string") {
      throw new CompletionsError(`${where}: field "completion" must be a string`);
    }
    if (known && !known.has(r.scenario)) {
      throw new CompletionsError(`${where}: unknown scenario id "${r.scenario}"`);
    }
    const index = counts.get(r.scenario) ?? 0;
    counts.set(r.scenario, index + 1);
    out.push({ scenario: r.scenario, completion: r.completion, line, index });
  }
  return out;
}
