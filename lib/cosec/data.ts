/**
 * The CoSec expert's training examples, as upstream unknownhl/DeepGuard
 * `cosec/data_proceess.py` `LoRA_Dataset` builds them: the secure side only
 * (`func_src_after`, L32), tokenised with the tokenizer's special tokens (`encode_plus`, L63);
 * weight 1 on the tokens covering each `char_changes.added` span (L69-102; all tokens when
 * there is none); skipped when longer than `maxTokens` (L64) or when no token or every token is
 * changed (L104-107, `min_changed_tokens` = 1 as `vul_type` is a list there, L67). So a pair
 * without added characters is always skipped.
 *
 * `char_to_token` comes from byte-level BPE offsets: each token's bytes (its GPT-2 byte string)
 * are laid end to end and mapped back to code-point indices of the text, as the HF tokenizers'
 * untrimmed ByteLevel offsets (Qwen2's setting) give. A tokenizer whose tokens do not spell the
 * text this way (not byte-level, or a normalizer that changed it) is refused by name.
 * @module
 */
import { bytesToUnicode } from "../model/tiny.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { changeSpans, DataError, splitRecords } from "../train/data.ts";

/** One training example. */
export interface CoSecExample {
  /** Token ids of the secure function. */
  ids: number[];
  /** 0/1 per token: 1 where an added span covers it. */
  weights: number[];
  /** `file:line` it came from. */
  origin: string;
}

/** Examples of a split and what was dropped. */
export interface CoSecSplit {
  examples: CoSecExample[];
  /** Pairs longer than the token limit. */
  tooLong: number;
  /** Pairs with no changed token or no unchanged one. */
  noSignal: number;
  /** Pairs read. */
  total: number;
}

const BYTE_OF = new Map(bytesToUnicode().map((ch, b) => [ch, b]));

/**
 * Per token, the code-point index range [start, end) of `text` it covers (null for special
 * tokens). Throws a DataError when the tokens do not spell `text` byte for byte.
 */
export function tokenCharSpans(
  tokenizer: Tokenizer,
  text: string,
  ids: readonly number[],
  where: string,
): ([number, number] | null)[] {
  const textBytes = new TextEncoder().encode(text);
  const cpOfByte = new Int32Array(textBytes.length + 1);
  let b = 0, cp = 0;
  for (const ch of text) {
    const n = new TextEncoder().encode(ch).length;
    cpOfByte.fill(cp, b, b + n);
    b += n;
    cp++;
  }
  cpOfByte[b] = cp;
  let at = 0;
  return ids.map((id) => {
    if (tokenizer.specialIds.has(id)) return null;
    const tok = tokenizer.idToToken(id) ?? "";
    const start = at;
    for (const ch of tok) {
      const byte = BYTE_OF.get(ch);
      if (byte === undefined || textBytes[at] !== byte) {
        throw new DataError(
          `${where}: the tokenizer's tokens do not spell func_src_after byte for byte ` +
            "(CoSec's token weights need a byte-level BPE tokenizer without normalisation)",
        );
      }
      at++;
    }
    return [cpOfByte[start], at > start ? cpOfByte[at - 1] + 1 : cpOfByte[start]];
  });
}

/** Upstream's weights for one secure function (see the module doc); null = skipped. */
export function cosecWeights(
  spans: readonly ([number, number] | null)[],
  added: readonly { char_start: number; char_end: number }[],
  srcLength: number,
): number[] | null {
  const charToToken = (c: number) => {
    const i = spans.findIndex((s) => s !== null && s[0] <= c && c < s[1]);
    return i < 0 ? null : i;
  };
  const weights = new Array<number>(spans.length).fill(added.length === 0 ? 1 : 0);
  for (const { char_start: cs, char_end: ce } of added) {
    let s = charToToken(cs);
    let e = charToToken(ce - 1);
    for (let i = cs; s === null && i < Math.min(ce, srcLength); i++) s = charToToken(i);
    for (let i = ce - 1; e === null && i > Math.max(cs - 1, -1); i--) e = charToToken(i);
    if (s === null || e === null) continue;
    for (let t = s; t <= e; t++) if (t < weights.length) weights[t] = 1;
  }
  const changed = weights.reduce((a, x) => a + x, 0);
  if (changed < 1 || spans.length - changed < 1) return null;
  return weights;
}

/** Loads and tokenises a split for the expert (files in name order, lines in file order). */
export async function loadCoSecSplit(
  dataDir: string,
  split: "train" | "val",
  tokenizer: Tokenizer,
  maxTokens: number,
): Promise<CoSecSplit> {
  const out: CoSecSplit = { examples: [], tooLong: 0, noSignal: 0, total: 0 };
  for (const { value: r, where } of await splitRecords(dataDir, split)) {
    const src = r.func_src_after as string;
    const added = changeSpans(r, "char_changes.added", where);
    out.total++;
    const ids = tokenizer.encode(src);
    if (ids.length > maxTokens) {
      out.tooLong++;
      continue;
    }
    const weights = cosecWeights(
      tokenCharSpans(tokenizer, src, ids, where),
      added,
      [...src].length,
    );
    if (weights === null) out.noSignal++;
    else out.examples.push({ ids, weights, origin: where });
  }
  return out;
}
