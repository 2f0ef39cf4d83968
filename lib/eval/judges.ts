/**
 * Judge selection (`--judges a,b,c`).
 *
 * @module
 */

import type { LanguageBackend } from "./types.ts";

/** An unknown judge name was requested. */
export class JudgeError extends Error {
  override name = "JudgeError";
}

/**
 * Parse a comma-separated judge list against the backends' judge names.
 * `undefined` or `"all"` selects every judge of every backend; `"none"` selects
 * none (functional testing only).
 */
export function parseJudges(
  spec: string | undefined,
  backends: readonly Pick<LanguageBackend, "judgeNames">[],
): Set<string> {
  const known = new Set(backends.flatMap((b) => [...b.judgeNames]));
  if (spec === undefined || spec.trim() === "all") return known;
  if (spec.trim() === "none") return new Set();
  const out = new Set<string>();
  for (const raw of spec.split(",")) {
    const j = raw.trim();
    if (!j) continue;
    if (!known.has(j)) {
      throw new JudgeError(`unknown judge "${j}"; known judges: ${[...known].sort().join(", ")}`);
    }
    out.add(j);
  }
  return out;
}
