/**
 * SVEN prefix training examples, as upstream unknownhl/DeepGuard `sven/dataset.py` builds them
 * (`DatasetBase` L14-59, `PrefixDataset` L70-108) with `diff_level` "mix" (runs/train.py L37):
 *
 * - each pair gives two examples, in this order: the secure side (`func_src_after`, control 0,
 *   changes `char_changes.added`) and the vulnerable side (`func_src_before`, control 1, changes
 *   `line_changes.deleted`) (L43-56);
 * - tokenised with the tokenizer's special tokens (`encode_plus`, L81); longer than `maxTokens`
 *   → skipped (L83-84);
 * - weight 1 on tokens `char_to_token(char_start)` … `char_to_token(char_end − 1)` of each change,
 *   a change whose either end maps to no token is ignored (L88-102), no nearest-token search;
 * - skipped when no token or every token is changed (L86, L104-107: `min_changed_tokens` 1).
 *
 * Token character spans come from {@link tokenCharSpans} (byte-level BPE, as for CoSec).
 * @module
 */
import type { Tokenizer } from "../model/tokenizer.ts";
import { tokenCharSpans } from "../cosec/data.ts";
import { type ChangeSpan, changeSpans, splitRecords } from "../train/data.ts";

/** One training example. */
export interface PrefixExample {
  /** Token ids of the function. */
  ids: number[];
  /** 0/1 per token: 1 where a change covers it. */
  weights: number[];
  /** 0 = sec (secure side), 1 = vul (vulnerable side). */
  control: 0 | 1;
  /** `file:line` it came from. */
  origin: string;
}

/** Examples of a split and what was dropped (counted per side). */
export interface PrefixSplit {
  examples: PrefixExample[];
  /** Sides longer than the token limit. */
  tooLong: number;
  /** Sides with no changed token or no unchanged one. */
  noSignal: number;
  /** Pairs read. */
  pairs: number;
}

/** Upstream's 0/1 weights for one function (see the module doc); null = skipped. */
export function svenWeights(
  spans: readonly ([number, number] | null)[],
  changes: readonly ChangeSpan[],
): number[] | null {
  const charToToken = (c: number) => {
    const i = spans.findIndex((s) => s !== null && s[0] <= c && c < s[1]);
    return i < 0 ? null : i;
  };
  const weights = new Array<number>(spans.length).fill(0);
  const last = spans.length - 1;
  for (const { char_start: cs, char_end: ce } of changes) {
    const s = charToToken(cs);
    const e = ce > 0 ? charToToken(ce - 1) : null;
    if (s === null || e === null) continue;
    const from = Math.max(0, Math.min(s, last)), to = Math.max(0, Math.min(e, last));
    for (let t = from; t <= to; t++) weights[t] = 1;
  }
  return weights.includes(1) && weights.includes(0) ? weights : null; // ≥ 1 changed, ≥ 1 not
}

/** Loads and tokenises a split (files in name order, lines in file order, sec then vul). */
export async function loadPrefixSplit(
  dataDir: string,
  split: "train" | "val",
  tokenizer: Tokenizer,
  maxTokens: number,
): Promise<PrefixSplit> {
  const out: PrefixSplit = { examples: [], tooLong: 0, noSignal: 0, pairs: 0 };
  for (const { value: r, where } of await splitRecords(dataDir, split)) {
    out.pairs++;
    const sides = [
      [r.func_src_after as string, changeSpans(r, "char_changes.added", where)],
      [r.func_src_before as string, changeSpans(r, "line_changes.deleted", where)],
    ] as const;
    sides.forEach(([src, changes], control) => {
      const ids = tokenizer.encode(src);
      if (ids.length > maxTokens) {
        out.tooLong++;
        return;
      }
      const weights = svenWeights(tokenCharSpans(tokenizer, src, ids, where), changes);
      if (weights === null) out.noSignal++;
      else out.examples.push({ ids, weights, control: control as 0 | 1, origin: where });
    });
  }
  return out;
}
