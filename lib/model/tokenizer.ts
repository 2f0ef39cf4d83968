/**
 * HF tokenizer (tokenizer.json + tokenizer_config.json) through `@huggingface/tokenizers`, with
 * transformers' AutoTokenizer rules on top:
 *
 * - BOS/EOS (default rule, `"transformers5"`, as the pinned transformers 5.24 AutoTokenizer does):
 *   tokenizer.json's post-processor alone decides (Qwen2: nothing added; DeepSeek: BOS);
 *   `add_bos_token`/`add_eos_token` in tokenizer_config.json are ignored when tokenizer.json exists.
 * - `"transformers4"` rule (DeepGuard upstream pins transformers 4.41.2): when tokenizer_config.json
 *   states `add_bos_token` or `add_eos_token`, LlamaTokenizerFast rebuilt the post-processor as
 *   `[bos if add_bos_token] $A [eos if add_eos_token]` — so a tokenizer.json without post-processor
 *   plus `add_bos_token: true` still gets BOS.
 * - pad: `pad_token` of the config, else the EOS token (as DeepGuard sets it).
 *
 * @module
 */

// A full npm: specifier: a URL importer of this package does not see deno.json's import map.
// deno-lint-ignore no-import-prefix
import { Tokenizer as HfTokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import { requireModelDir, TokenizerError } from "./errors.ts";

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Add BOS/EOS as transformers does (default true). */
  addSpecialTokens?: boolean;
}

/** Which transformers version's BOS/EOS rule to follow (see the module doc). */
export type BosRule = "transformers5" | "transformers4";

/** Options of {@link Tokenizer.load}. */
export interface TokenizerOptions {
  /** BOS/EOS rule (default `"transformers5"`, the pinned version). */
  bosRule?: BosRule;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (default false). */
  skipSpecialTokens?: boolean;
}

/** A left-padded batch. */
export interface PaddedBatch {
  /** [B][T] ids, pad id on the left. */
  inputIds: number[][];
  /** [B][T] 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
}

type TokenSpec = string | { content: string } | null | undefined;

function tokenContent(t: TokenSpec): string | null {
  if (t === null || t === undefined) return null;
  if (typeof t === "string") return t;
  return typeof t.content === "string" ? t.content : null;
}

/** `model.type` values `@huggingface/tokenizers` implements. */
const MODEL_TYPES = ["BPE", "WordPiece", "Unigram"];

/**
 * Refuse a tokenizer.json the library would misread: an unknown `model.type` (the library would
 * silently guess another model from the keys present) or an empty `model.vocab` (every text would
 * encode to nothing). A missing `type` is left to the library, which infers it as the Rust
 * tokenizers crate does for old files.
 */
function checkTokenizerModel(json: unknown, file: string): void {
  const model = typeof json === "object" && json !== null
    ? (json as Record<string, unknown>).model
    : undefined;
  if (typeof model !== "object" || model === null || Array.isArray(model)) {
    throw new TokenizerError("bad_tokenizer_json", file, `"model" must be an object`);
  }
  const m = model as Record<string, unknown>;
  if (m.type !== undefined && !MODEL_TYPES.includes(m.type as string)) {
    throw new TokenizerError(
      "unknown_model_type",
      file,
      `"model.type" is ${JSON.stringify(m.type)}; supported: ${MODEL_TYPES.join(", ")}`,
    );
  }
  const vocab = m.vocab;
  const size = Array.isArray(vocab)
    ? vocab.length
    : typeof vocab === "object" && vocab !== null
    ? Object.keys(vocab).length
    : -1;
  if (size < 0) {
    throw new TokenizerError("bad_tokenizer_json", file, `"model.vocab" is missing`);
  }
  if (size === 0) {
    throw new TokenizerError(
      "empty_vocabulary",
      file,
      `"model.vocab" is empty: the tokenizer has no tokens to encode text with`,
    );
  }
}

/** A loaded tokenizer with transformers-compatible special-token handling. */
export class Tokenizer {
  /**
   * Underlying tokenizers.js object.
   * @internal
   */
  readonly hf: HfTokenizer;
  /** BOS id, or null when the tokenizer has none (Qwen2). */
  readonly bosTokenId: number | null;
  /** EOS id, or null. */
  readonly eosTokenId: number | null;
  /** Pad id: `pad_token`, else EOS, else 0. */
  readonly padTokenId: number;
  /** Ids of all special (added, special=true) tokens. */
  readonly specialIds: ReadonlySet<number>;
  /** Whether encode adds BOS itself (template rule) — null when tokenizer.json's post-processor decides. */
  readonly #template: { bos: boolean; eos: boolean } | null;
  readonly #cleanup: boolean;

  /**
   * Build from parsed files (see {@link Tokenizer.load} to read them from a directory).
   * @param tokenizerJson parsed tokenizer.json
   * @param config parsed tokenizer_config.json (may be `{}`)
   * @param opts BOS rule
   */
  constructor(
    tokenizerJson: Record<string, unknown>,
    config: Record<string, unknown>,
    opts: TokenizerOptions = {},
  ) {
    this.#cleanup = config.clean_up_tokenization_spaces === true;
    this.hf = new HfTokenizer(tokenizerJson, {
      ...config,
      clean_up_tokenization_spaces: this.#cleanup,
    });
    const id = (t: TokenSpec) => {
      const c = tokenContent(t);
      if (c === null) return null;
      return this.hf.token_to_id(c) ?? null;
    };
    this.bosTokenId = id(config.bos_token as TokenSpec);
    this.eosTokenId = id(config.eos_token as TokenSpec);
    this.padTokenId = id(config.pad_token as TokenSpec) ?? this.eosTokenId ?? 0;
    const special = new Set<number>();
    for (const t of (tokenizerJson.added_tokens ?? []) as { id: number; special?: boolean }[]) {
      if (t.special) special.add(t.id);
    }
    for (const x of [this.bosTokenId, this.eosTokenId]) if (x !== null) special.add(x);
    this.specialIds = special;
    const explicit = "add_bos_token" in config || "add_eos_token" in config;
    if (opts.bosRule === "transformers4" && explicit) {
      this.#template = {
        bos: config.add_bos_token === true && this.bosTokenId !== null,
        eos: config.add_eos_token === true && this.eosTokenId !== null,
      };
    } else {
      this.#template = null;
    }
  }

  /** Load `<dir>/tokenizer.json` and `<dir>/tokenizer_config.json`. */
  static async load(dir: string, opts: TokenizerOptions = {}): Promise<Tokenizer> {
    await requireModelDir(dir);
    const tj = `${dir}/tokenizer.json`;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await Deno.readTextFile(tj));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new TokenizerError(
          "missing_tokenizer_json",
          tj,
          "tokenizer.json not found (slow-tokenizer-only checkpoints are not supported; save it with a fast tokenizer)",
        );
      }
      throw new TokenizerError(
        "bad_tokenizer_json",
        tj,
        `unreadable tokenizer.json (${(e as Error).message})`,
      );
    }
    checkTokenizerModel(json, tj);
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new TokenizerError(
          "bad_tokenizer_config",
          `${dir}/tokenizer_config.json`,
          (e as Error).message,
        );
      }
    }
    try {
      return new Tokenizer(json, config, opts);
    } catch (e) {
      throw new TokenizerError(
        "bad_tokenizer_json",
        tj,
        `cannot build tokenizer (${(e as Error).message})`,
      );
    }
  }

  /** Encode text to ids (BOS/EOS per the rules above when `addSpecialTokens`). */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const add = opts.addSpecialTokens ?? true;
    if (!add || this.#template === null) {
      return this.hf.encode(text, { add_special_tokens: add }).ids;
    }
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    if (this.#template.bos) ids.unshift(this.bosTokenId!);
    if (this.#template.eos) ids.push(this.eosTokenId!);
    return ids;
  }

  /** Decode ids to text. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    // Ids past the tokenizer's vocabulary (embedding padding rows) decode to nothing, as in HF.
    const known = ids.filter((i) => this.hf.id_to_token(i) !== undefined);
    if (known.length === 0) return "";
    return this.hf.decode(known, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.#cleanup,
    });
  }

  /** Encode several texts and left-pad them to a common length with the pad id. */
  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): PaddedBatch {
    return this.padLeft(texts.map((t) => this.encode(t, opts)));
  }

  /** Left-pad id lists with {@link padTokenId}. */
  padLeft(seqs: readonly (readonly number[])[]): PaddedBatch {
    const T = Math.max(1, ...seqs.map((s) => s.length));
    return {
      inputIds: seqs.map((s) => [...new Array(T - s.length).fill(this.padTokenId), ...s]),
      attentionMask: seqs.map((
        s,
      ) => [...new Array(T - s.length).fill(0), ...new Array(s.length).fill(1)]),
    };
  }

  /** Token string → id. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Id → token string. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Vocabulary size including added tokens. */
  get vocabSize(): number {
    return this.hf.get_vocab(true).size;
  }
}
