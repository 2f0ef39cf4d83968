/**
 * Tiny random checkpoints in the exact HF directory layout (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json, generation_config.json), for tests and demos.
 *
 * The tokenizer is a small byte-level BPE trained here on a built-in code corpus (GPT-2
 * byte→unicode alphabet, Qwen2-style split regex). Only the tokenizer.json *file* is produced
 * here; encoding always goes through `@huggingface/tokenizers`. The tensor names and shapes come
 * from the decoder's own module tree (built once, uninitialised), so this file does not restate it.
 *
 * @module
 */

import { parseConfig } from "./config.ts";
import { DecoderLM } from "./qwen_llama.ts";
import { type WriteEntry, writeSafetensors } from "./safetensors.ts";

/** Architectures {@link makeTiny} can build. */
export type TinyArch = "qwen2" | "llama";

/** Options of {@link makeTiny}. */
export interface TinyOptions {
  /** PRNG seed for weights (default 0). */
  seed?: number;
  /** Number of BPE merges to learn (default 300). */
  merges?: number;
  /** Decoder layers (default {@link TINY_DEFAULT_LAYERS}). */
  layers?: number;
}

/**
 * Default decoder layers of a tiny checkpoint: 4, the number of hidden states `train` aggregates
 * by default, so a default tiny model trains with default flags.
 */
export const TINY_DEFAULT_LAYERS = 4;

/**
 * A minimal chat template (plain `role: content` lines, no special tokens), enough for
 * transformers' `apply_chat_template` and for chat-style prompts in tests.
 */
export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";

const CORPUS = `import os
import sys
import subprocess
from flask import Flask, request, redirect, escape

app = Flask(__name__)

def get_user(user_id):
    """Return the user row for user_id."""
    conn = get_db_connection()
    cursor = conn.cursor()
    cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))
    row = cursor.fetchone()
    conn.close()
    return row

@app.route("/ping")
def ping():
    url = request.args.get("url")
    result = subprocess.run(["ping", "-c", "1", url], capture_output=True)
    return str(result.returncode)

def read_file(path):
    base = os.path.abspath("/safe/dir")
    full = os.path.abspath(os.path.join(base, path))
    if not full.startswith(base):
        raise ValueError("path traversal")
    with open(full, "r") as f:
        return f.read()

for i in range(10):
    if i % 2 == 0:
        print(i, "even")
    else:
        print(i, "odd")

class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char *argv[]) {
    char buf[64];
    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME\\n", argv[0]);
        return 1;
    }
    strncpy(buf, argv[1], sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\\0';
    printf("hello %s\\n", buf);
    int *data = malloc(10 * sizeof(int));
    if (data == NULL) return 1;
    for (int i = 0; i < 10; i++) {
        data[i] = i * i;
    }
    free(data);
    return 0;
}

static size_t copy_string(char *dst, const char *src, size_t n) {
    size_t len = strlen(src);
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
    return len;
}
`;

/** Oniguruma pattern written into tokenizer.json (Qwen2's split regex). */
const SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** The same pattern in JavaScript syntax, used only for training. */
const SPLIT_JS =
  /'(?:[sStTmMdD]|[rR][eE]|[vV][eE]|[lL][lL])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** GPT-2 byte → printable unicode character table. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

/**
 * Train byte-level BPE merges on `corpus` (deterministic: most frequent pair, ties broken by
 * lexicographic order). Returns the vocab (bytes first, then merged symbols) and the merges.
 */
export function trainBpe(
  corpus: string,
  numMerges: number,
): { vocab: string[]; merges: [string, string][] } {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of corpus.matchAll(SPLIT_JS)) {
    const w = [...enc.encode(m[0])].map((b) => b2u[b]).join("\u0000");
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts].map(([w, c]) => ({ syms: w.split("\u0000"), c }));
  const vocab = [...b2u];
  const merges: [string, string][] = [];
  for (let k = 0; k < numMerges; k++) {
    const pairs = new Map<string, number>();
    for (const { syms, c } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = syms[i] + "\u0000" + syms[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + c);
      }
    }
    let best: string | null = null;
    let bestC = 1;
    for (const [p, c] of pairs) {
      if (c > bestC || (c === bestC && best !== null && p < best)) {
        best = p;
        bestC = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split("\u0000");
    merges.push([a, b]);
    vocab.push(a + b);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return { vocab, merges };
}

/** Seeded PRNG (mulberry32) with a Box–Muller normal sampler. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  uniform(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

function byteLevel(): Record<string, unknown> {
  return { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
}

/**
 * Write a tiny random `qwen2` or `llama` checkpoint to `out` (created if needed).
 * qwen2: q/k/v bias, tied embeddings, GQA 4/2, no BOS. llama: linear RoPE scaling ×2, GQA 4/2,
 * untied lm_head, BOS added by a TemplateProcessing post-processor.
 */
export async function makeTiny(arch: TinyArch, out: string, opts: TinyOptions = {}): Promise<void> {
  const seed = opts.seed ?? 0;
  const layers = opts.layers ?? TINY_DEFAULT_LAYERS;
  const { vocab, merges } = trainBpe(CORPUS, opts.merges ?? 300);
  const specials = arch === "qwen2"
    ? ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
    : [
      "<s>",
      "</s>",
    ];
  const vocabMap: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabMap[t] = i));
  const added = specials.map((content, i) => ({
    id: vocab.length + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const nTok = vocab.length + specials.length;
  const vocabSize = Math.ceil(nTok / 64) * 64;
  const bosId = vocab.length;
  const eosId = arch === "qwen2" ? vocab.length : vocab.length + 1;
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: arch === "qwen2" ? { type: "NFC" } : null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: SPLIT_REGEX }, behavior: "Isolated", invert: false },
        byteLevel(),
      ],
    },
    post_processor: arch === "qwen2" ? byteLevel() : {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [bosId], tokens: ["<s>"] } },
    },
    decoder: byteLevel(),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabMap,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const tokCfg = arch === "qwen2"
    ? {
      tokenizer_class: "Qwen2Tokenizer",
      bos_token: null,
      eos_token: "<|endoftext|>",
      pad_token: "<|endoftext|>",
      clean_up_tokenization_spaces: false,
      model_max_length: 512,
      chat_template: TINY_CHAT_TEMPLATE,
    }
    : {
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: "<s>",
      eos_token: "</s>",
      clean_up_tokenization_spaces: false,
      model_max_length: 512,
      chat_template: TINY_CHAT_TEMPLATE,
    };
  const hidden = 64, heads = 4, kv = 2, inter = 128;
  const config: Record<string, unknown> = {
    architectures: [arch === "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: arch,
    hidden_size: hidden,
    intermediate_size: inter,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kv,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-6,
    hidden_act: "silu",
    vocab_size: vocabSize,
    attention_dropout: 0.0,
    bos_token_id: bosId,
    eos_token_id: eosId,
    torch_dtype: "float32",
    ...(arch === "qwen2"
      ? {
        rope_theta: 1000000.0,
        rope_scaling: null,
        tie_word_embeddings: true,
        use_sliding_window: false,
      }
      : {
        rope_theta: 10000.0,
        rope_scaling: { type: "linear", factor: 2.0 },
        tie_word_embeddings: false,
        attention_bias: false,
        mlp_bias: false,
        pretraining_tp: 1,
      }),
  };
  const rng = new Rng(seed * 7919 + (arch === "qwen2" ? 1 : 2));
  const entries: WriteEntry[] = [];
  const add = (name: string, shape: number[], kind: "w" | "b" | "norm") => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = kind === "norm" ? 1 + 0.1 * rng.normal() : (kind === "w" ? 0.08 : 0.02) * rng.normal();
    }
    entries.push({ name, dtype: "F32", shape, bytes: new Uint8Array(a.buffer) });
  };
  // names and shapes from the module tree itself; norms ~1, weights and biases ~0
  const tree = new DecoderLM(parseConfig(config, `${out}/config.json`), {
    fuse: false,
    layout: "row",
  });
  try {
    for (const [name, t] of tree.namedParameters()) {
      const kind = name.endsWith(".bias") ? "b" : t.ndim === 1 ? "norm" : "w";
      add(name, [...t.shape], kind);
    }
  } finally {
    tree.dispose();
  }

  await Deno.mkdir(out, { recursive: true });
  const j = (o: unknown) => JSON.stringify(o, null, 2) + "\n";
  await Deno.writeTextFile(`${out}/config.json`, j(config));
  await Deno.writeTextFile(`${out}/tokenizer.json`, j(tokenizerJson));
  await Deno.writeTextFile(`${out}/tokenizer_config.json`, j(tokCfg));
  await Deno.writeTextFile(
    `${out}/generation_config.json`,
    j({ bos_token_id: bosId, eos_token_id: eosId, do_sample: false }),
  );
  await writeSafetensors(`${out}/model.safetensors`, entries);
}
