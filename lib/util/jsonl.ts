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

/**
 * Reads a JSONL file that a killed run may have left with a torn last line (no trailing newline):
 * the torn part is cut off the file, so appending resumes cleanly. A missing file is empty.
 */
export function readResumableJsonl(
  path: string,
  invalid: (where: string, message: string) => Error,
): JsonLine[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const end = text.lastIndexOf("\n") + 1;
  if (end < text.length) {
    Deno.truncateSync(path, new TextEncoder().encode(text.slice(0, end)).length);
  }
  return parseJsonLines(text.slice(0, end), path, invalid);
}

/** Appends `records` to `path` as JSON lines in one write (a record is never split by a kill
 * between records). */
export function appendJsonl(path: string, records: readonly unknown[]): void {
  if (!records.length) return;
  const text = records.map((r) => JSON.stringify(r) + "\n").join("");
  Deno.writeTextFileSync(path, text, { append: true });
}
