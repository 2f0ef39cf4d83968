/**
 * Post-processing of raw completions exactly as described in
 * sec_eval/README.md ("How samples are generated and post-processed"), and
 * program assembly.
 *
 * @module
 */

import type { Language } from "./types.ts";

const isSpace = (c: string) => /\s/.test(c);

/**
 * Python rule: cut just before the first line break whose next character is not
 * whitespace; else, if the completion contains "\n" + exactly four spaces + "#",
 * cut just before the last such line break; else keep it.
 */
export function truncatePython(completion: string): string {
  for (let i = completion.indexOf("\n"); i >= 0; i = completion.indexOf("\n", i + 1)) {
    const next = completion[i + 1];
    if (next !== undefined && !isSpace(next)) return completion.slice(0, i);
  }
  const comment = "\n    #";
  const last = completion.lastIndexOf(comment);
  if (last >= 0) return completion.slice(0, last);
  return completion;
}

/**
 * C rule: keep up to and including the first closing brace at the start of a
 * line; else keep up to the last `;` followed by a line break and append "\n}";
 * else cut before the last 4-space indented `//` comment line (failing that, `/*`),
 * strip trailing whitespace and append "\n}"; else keep it.
 */
export function truncateC(completion: string): string {
  const brace = completion.indexOf("\n}");
  if (brace >= 0) return completion.slice(0, brace + 2);
  const semi = completion.lastIndexOf(";\n");
  if (semi >= 0) return completion.slice(0, semi + 1) + "\n}";
  for (const marker of ["\n    //", "\n    /*"]) {
    const last = completion.lastIndexOf(marker);
    if (last >= 0) return completion.slice(0, last).trimEnd() + "\n}";
  }
  return completion;
}

/** Cut at the first end-of-sequence marker (if given), then apply the language rule. */
export function postprocess(completion: string, language: Language, eos?: string): string {
  let c = completion;
  if (eos) {
    const i = c.indexOf(eos);
    if (i >= 0) c = c.slice(0, i);
  }
  return language === "py" ? truncatePython(c) : truncateC(c);
}

/** `file_context + func_context + completion`, right-stripped, plus one newline. */
export function assembleProgram(
  fileContext: string,
  funcContext: string,
  completion: string,
): string {
  return (fileContext + funcContext + completion).trimEnd() + "\n";
}
