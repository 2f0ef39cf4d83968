/**
 * SVEN-format training data: `DIR/train/*.jsonl` and `DIR/val/*.jsonl` (one file per CWE), or a
 * single `DIR/train.jsonl` / `DIR/val.jsonl`. Each line is a JSON object with `func_src_before`
 * (vulnerable) and `func_src_after` (secure); `vul_type` names the CWE when present.
 * @module
 */
import type { Tokenizer } from "../model/tokenizer.ts";
import type { PairExample } from "./batch.ts";
import { isDir, isFile } from "../util/fs.ts";
import { parseJsonLines } from "../util/jsonl.ts";

/** Error for a missing data directory or malformed data (names the file and line). */
export class DataError extends Error {
  /** Error class name. */
  override name = "DataError";
}

/** One raw pair. */
export interface RawPair {
  /** Vulnerable source (func_src_before). */
  vulnerable: string;
  /** Secure source (func_src_after). */
  secure: string;
  /** CWE label (vul_type, else the file name). */
  cwe: string;
  /** `file:line` it came from. */
  origin: string;
}

/** The JSONL files of one split, sorted by name; throws {@link DataError} when there are none. */
export async function splitFiles(dataDir: string, split: "train" | "val"): Promise<string[]> {
  if (await isFile(dataDir)) {
    throw new DataError(
      `data directory ${dataDir} is a file; expected a directory holding ${split}/*.jsonl ` +
        `or ${split}.jsonl`,
    );
  }
  if (!(await isDir(dataDir))) throw new DataError(`data directory ${dataDir} does not exist`);
  const single = `${dataDir}/${split}.jsonl`;
  if (await isFile(single)) return [single];
  const sub = `${dataDir}/${split}`;
  if (await isDir(sub)) {
    const files: string[] = [];
    for await (const e of Deno.readDir(sub)) {
      if (e.isFile && e.name.endsWith(".jsonl")) files.push(`${sub}/${e.name}`);
    }
    if (files.length) return files.sort();
  }
  throw new DataError(
    `no ${split} data in ${dataDir}: expected ${split}/*.jsonl (SVEN layout, one file per CWE) ` +
      `or ${split}.jsonl`,
  );
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
}

/**
 * SVEN's `line_changes` / `char_changes`: `{"deleted": [...], "added": [...]}`, lists of objects.
 * Training does not read them, but a line where they have another shape is not SVEN data (a
 * wrong export or a hand edit), so it is refused rather than trained on.
 */
function checkChanges(v: unknown, field: string, where: string): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new DataError(
      `${where}: field "${field}" must be an object {"deleted": [...], "added": [...]}, ` +
        `got ${typeOf(v)}`,
    );
  }
  for (const side of ["deleted", "added"]) {
    const list = (v as Record<string, unknown>)[side];
    if (!Array.isArray(list) || list.some((x) => typeof x !== "object" || x === null)) {
      throw new DataError(
        `${where}: field "${field}.${side}" must be a list of objects, got ${typeOf(list)}`,
      );
    }
  }
}

/** Parses one JSONL file into pairs; a malformed line is a {@link DataError} naming file:line. */
export function parseJsonl(text: string, file: string): RawPair[] {
  const out: RawPair[] = [];
  const base = file.split("/").pop()!.replace(/\.jsonl$/, "");
  const lines = parseJsonLines(
    text,
    file,
    (where, msg) => new DataError(`${where}: malformed JSON line (${msg})`),
  );
  for (const { value: o, where } of lines) {
    if (typeof o !== "object" || o === null || Array.isArray(o)) {
      throw new DataError(`${where}: expected a JSON object`);
    }
    const r = o as Record<string, unknown>;
    for (const k of ["func_src_before", "func_src_after"]) {
      if (typeof r[k] !== "string") {
        throw new DataError(`${where}: missing or non-string "${k}"`);
      }
    }
    for (const k of ["line_changes", "char_changes"]) {
      if (r[k] !== undefined) checkChanges(r[k], k, where);
    }
    if (r.vul_type !== undefined && typeof r.vul_type !== "string") {
      throw new DataError(`${where}: field "vul_type" must be a string, got ${typeOf(r.vul_type)}`);
    }
    out.push({
      vulnerable: r.func_src_before as string,
      secure: r.func_src_after as string,
      cwe: typeof r.vul_type === "string" ? r.vul_type : base,
      origin: where,
    });
  }
  return out;
}

/** All pairs of a split, files in name order, lines in file order. */
export async function loadSplit(dataDir: string, split: "train" | "val"): Promise<RawPair[]> {
  const out: RawPair[] = [];
  for (const f of await splitFiles(dataDir, split)) {
    out.push(...parseJsonl(await Deno.readTextFile(f), f));
  }
  if (!out.length) throw new DataError(`${dataDir}: the ${split} split has no pairs`);
  return out;
}

/**
 * Every JSON object of a split with its `file:line` (files in name order, lines in file order),
 * after the format checks of {@link parseJsonl}: for readers of fields beyond the two sources
 * (the change lists of CoSec and the SVEN prefix).
 */
export async function splitRecords(
  dataDir: string,
  split: "train" | "val",
): Promise<{ value: Record<string, unknown>; where: string }[]> {
  const out: { value: Record<string, unknown>; where: string }[] = [];
  for (const file of await splitFiles(dataDir, split)) {
    const text = await Deno.readTextFile(file);
    parseJsonl(text, file);
    for (const l of parseJsonLines(text, file, (w, m) => new DataError(`${w}: ${m}`))) {
      out.push({ value: l.value as Record<string, unknown>, where: l.where });
    }
  }
  return out;
}

/** A change span of SVEN's data: code-point offsets [char_start, char_end) of the function. */
export interface ChangeSpan {
  char_start: number;
  char_end: number;
}

/**
 * The spans of `field` ("char_changes.added", "line_changes.deleted", …) of one record; a
 * {@link DataError} naming `where` and the field when it is missing or a span lacks integer
 * offsets.
 */
export function changeSpans(
  r: Record<string, unknown>,
  field: string,
  where: string,
): ChangeSpan[] {
  const [group, side] = field.split(".");
  const list = (r[group] as Record<string, unknown> | undefined)?.[side];
  if (!Array.isArray(list)) throw new DataError(`${where}: this method needs "${field}"`);
  return list.map((c, i) => {
    const o = c as Record<string, unknown>;
    if (!Number.isInteger(o.char_start) || !Number.isInteger(o.char_end)) {
      throw new DataError(`${where}: ${field}[${i}] needs integer char_start and char_end`);
    }
    return { char_start: o.char_start as number, char_end: o.char_end as number };
  });
}

/** Tokenised pairs of a split and how many were skipped or truncated for length. */
export interface TokenizedSplit {
  examples: PairExample[];
  /** Pairs skipped: a side longer than maxLength (`skip`), or shorter than 2 tokens. */
  skipped: number;
  /** Pairs kept with a side cut to maxLength tokens (`truncate`). */
  truncated: number;
  /** Pairs read. */
  total: number;
}

/**
 * Tokenises pairs (tokenizer's special-token rules). A side longer than `maxLength` tokens is
 * cut to its first `maxLength` tokens (`truncate`, as upstream's `truncation=True`) or skips the
 * pair (`skip`); pairs with a side shorter than 2 tokens are skipped. Both are counted. `index`
 * is the pair's position in `pairs`.
 */
export function tokenizePairs(
  pairs: readonly RawPair[],
  tokenizer: Tokenizer,
  maxLength: number,
  overLength: "skip" | "truncate" = "skip",
): TokenizedSplit {
  const examples: PairExample[] = [];
  let skipped = 0, truncated = 0;
  pairs.forEach((p, index) => {
    let secure = tokenizer.encode(p.secure);
    let vulnerable = tokenizer.encode(p.vulnerable);
    const long = secure.length > maxLength || vulnerable.length > maxLength;
    if (long && overLength === "truncate") {
      secure = secure.slice(0, maxLength);
      vulnerable = vulnerable.slice(0, maxLength);
      truncated++;
    }
    const ok = (s: number[]) => s.length >= 2 && s.length <= maxLength;
    if (ok(secure) && ok(vulnerable)) examples.push({ index, secure, vulnerable, cwe: p.cwe });
    else {
      skipped++;
      if (long && overLength === "truncate") truncated--;
    }
  });
  return { examples, skipped, truncated, total: pairs.length };
}
