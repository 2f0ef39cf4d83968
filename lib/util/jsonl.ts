/**
 * JSON Lines parsing with file:line positions for error messages.
 *
 * @module
 */

/** One non-blank line of a JSONL text, parsed. */
export interface JsonLine {
  /** The parsed value. */
  value: unknown;
  /** 1-based line number. */
  line: number;
  /** `file:line`, for error messages. */
  where: string;
}

/**
 * Parse JSONL text: one JSON value per non-blank line. A line that is not valid JSON throws the
 * error `invalid(where, message)` returns, so each caller keeps its own typed error.
 */
export function parseJsonLines(
  text: string,
  file: string,
  invalid: (where: string, message: string) => Error,
): JsonLine[] {
  const out: JsonLine[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), line: i + 1, where });
    } catch (e) {
      throw invalid(where, (e as Error).message);
    }
  });
  return out;
}
