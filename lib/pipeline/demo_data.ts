/**
 * The project's own demo training pairs (data_eval/demo/pairs.jsonl), written out at run time in
 * the SVEN layout the trainers read (train/ and val/ with one JSONL file each), with SVEN's
 * `char_changes` and `line_changes`, with which the CoSec expert and SVEN's prefix weight their
 * loss.
 * @module
 */
import { PROJECT_ROOT } from "../util/paths.ts";

/** Path of the demo pairs. */
export const DEMO_PAIRS = `${PROJECT_ROOT}/data_eval/demo/pairs.jsonl`;

/** Path of the demo scenarios (13 scenarios, one per CWE). */
export const DEMO_SCENARIOS = `${PROJECT_ROOT}/data_eval/demo/scenarios.jsonl`;

/** One demo pair. */
export interface DemoPair {
  cwe: string;
  language: string;
  description: string;
  vulnerable: string;
  secure: string;
}

/** Reads the demo pairs; every fifth pair goes to validation. */
export async function readDemoPairs(
  path = DEMO_PAIRS,
): Promise<{ train: DemoPair[]; val: DemoPair[] }> {
  const pairs = (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim()).map(
    (l, i) => {
      const p = JSON.parse(l) as DemoPair;
      if (typeof p.vulnerable !== "string" || typeof p.secure !== "string") {
        throw new Error(`${path}:${i + 1}: expected "vulnerable" and "secure" strings`);
      }
      return p;
    },
  );
  return {
    train: pairs.filter((_, i) => i % 5 !== 4),
    val: pairs.filter((_, i) => i % 5 === 4),
  };
}

/** A changed span in SVEN's `char_changes` layout (code-point offsets, end exclusive). */
export interface CharChange {
  char_start: number;
  char_end: number;
  chars: string;
}

/** A changed line in SVEN's `line_changes` layout (1-based line, code-point span with its "\n"). */
export interface LineChange {
  line_no: number;
  char_start: number;
  char_end: number;
  line: string;
}

/** Lengths of the longest common prefix and (not overlapping it) suffix of two sequences. */
function commonEnds<T>(a: readonly T[], b: readonly T[]): [number, number] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  const fits = () => suf < a.length - pre && suf < b.length - pre;
  while (fits() && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  return [pre, suf];
}

/**
 * SVEN's `char_changes` of a pair as one span per side: what lies between the longest common
 * prefix and the longest common suffix (code points) is deleted from `before` and added in `after`.
 * A side with nothing changed has no span.
 */
export function charChanges(
  before: string,
  after: string,
): { deleted: CharChange[]; added: CharChange[] } {
  const a = [...before], b = [...after];
  const [pre, suf] = commonEnds(a, b);
  const span = (cs: string[]) =>
    cs.length - suf > pre
      ? [{
        char_start: pre,
        char_end: cs.length - suf,
        chars: cs.slice(pre, cs.length - suf).join(""),
      }]
      : [];
  return { deleted: span(a), added: span(b) };
}

/**
 * SVEN's `line_changes` of a pair: the lines between the longest common prefix and suffix of
 * lines are deleted from `before` and added in `after`, each with its code-point span.
 */
export function lineChanges(
  before: string,
  after: string,
): { deleted: LineChange[]; added: LineChange[] } {
  const split = (t: string) => t.split(/(?<=\n)/).filter((l) => l !== "");
  const a = split(before), b = split(after);
  const [pre, suf] = commonEnds(a, b);
  const lines = (ls: string[]) => {
    let at = ls.slice(0, pre).reduce((n, l) => n + [...l].length, 0);
    return ls.slice(pre, ls.length - suf).map((line, i) => {
      const c = { line_no: pre + i + 1, char_start: at, char_end: at + [...line].length, line };
      at = c.char_end;
      return c;
    });
  };
  return { deleted: lines(a), added: lines(b) };
}

/** Writes `dir/train/demo.jsonl` and `dir/val/demo.jsonl` in SVEN's field layout. */
export async function writeDemoTrainingData(dir: string, path = DEMO_PAIRS): Promise<number> {
  const { train, val } = await readDemoPairs(path);
  for (const [split, pairs] of [["train", train], ["val", val]] as const) {
    await Deno.mkdir(`${dir}/${split}`, { recursive: true });
    const lines = pairs.map((p) =>
      JSON.stringify({
        func_name: p.description,
        func_src_before: p.vulnerable,
        func_src_after: p.secure,
        vul_type: p.cwe.toLowerCase(),
        line_changes: lineChanges(p.vulnerable, p.secure),
        char_changes: charChanges(p.vulnerable, p.secure),
      })
    );
    await Deno.writeTextFile(`${dir}/${split}/demo.jsonl`, lines.join("\n") + "\n");
  }
  return train.length + val.length;
}
