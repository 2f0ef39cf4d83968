#!/usr/bin/env python3
"""Tokenizer and model parity references for the TypeScript runtime.

Writes, under --out DIR (all random/tiny, nothing downloaded):

  tokenizers/qwen2/          Qwen2-style byte-level BPE (NFC + Qwen2 split regex), no BOS.
  tokenizers/llama/          DeepSeek-Coder-style byte-level BPE, TemplateProcessing adds BOS.
  tokenizers/llama_nopost/   same vocabulary, tokenizer.json WITHOUT post-processor while
                             tokenizer_config.json says add_bos_token=true.
    each with tokenizer.json, tokenizer_config.json, special_tokens_map.json (as transformers
    saves them) and cases.json: [{"text", "ids", "ids_no_special", "decoded", "decoded_skip"}]
    computed with AutoTokenizer.
  qwen2/  llama/             tiny random checkpoints saved by transformers (llama sharded) plus the
                             matching tokenizer files, reference.json and reference.safetensors.
  qwen2_legacy_config.json   the same configs in the transformers-4 layout
  llama_legacy_config.json   (rope_theta / rope_scaling top-level, torch_dtype).
  summary.json               what was verified while generating (agreement checks, BOS behaviour).

reference.safetensors (float32): single.<i>.logits [T,V], single.<i>.hidden.<k> [T,H],
batch.logits [B,T,V], batch.hidden.<k> [B,T,H] for k = 0..N (N+1 hidden states, transformers
semantics: entry N is the final-normed output).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.processors import TemplateProcessing
from tokenizers.trainers import BpeTrainer
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2Tokenizer,
)

QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
]
# U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER ONE EIGHTH BLOCK, as in DeepSeek-Coder.
LLAMA_BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
LLAMA_EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
LLAMA_SPECIALS = [
    LLAMA_BOS,
    LLAMA_EOS,
    "<\uff5cfim\u2581hole\uff5c>",
    "<\uff5cfim\u2581begin\uff5c>",
    "<\uff5cfim\u2581end\uff5c>",
]
BPE_VOCAB_SIZE = 500  # before special tokens; 256 byte symbols + merges
ATTN_IMPLEMENTATION = "eager"
GREEDY_NEW_TOKENS = 32
GREEDY_NOTE = (
    "greedy = model.generate(do_sample=False, max_new_tokens=32) with a GenerationConfig copy whose "
    "eos_token_id is None, so EOS never stops generation and exactly 32 tokens come back; checked "
    "against a no-cache argmax loop. Random weights: greedy ids may be embedding padding rows "
    "(>= tokenizer size, < vocab_size)"
)

NOPOST_NOTE = (
    "AutoTokenizer (transformers 5) ignores add_bos_token/add_eos_token in tokenizer_config.json whenever a "
    "tokenizer.json exists (PreTrainedTokenizerBase._from_pretrained pops them); the tokenizer.json "
    "post-processor alone decides, so with none no BOS is added. transformers 4's LlamaTokenizerFast "
    "rebuilt the post-processor from add_bos_token instead (adds BOS)."
)

CORPUS = r'''
import os
import sys
from typing import List, Optional


def read_config(path: str) -> dict:
    """Read a key=value config file."""
    result = {}
    with open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip()
    return result


class UserStore:
    def __init__(self, db):
        self.db = db

    def find_user(self, name: str) -> Optional[dict]:
        # Use a parameterised query: never format user input into SQL.
        cursor = self.db.execute("SELECT id, name FROM users WHERE name = ?", (name,))
        row = cursor.fetchone()
        return {"id": row[0], "name": row[1]} if row else None

    def list_users(self, limit: int = 100) -> List[dict]:
        rows = self.db.execute("SELECT id, name FROM users LIMIT ?", (limit,)).fetchall()
        return [{"id": r[0], "name": r[1]} for r in rows]


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        print("usage: tool.py CONFIG", file=sys.stderr)
        return 2
    config = read_config(argv[1])
    for key, value in sorted(config.items()):
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# Unicode: café, naïve, résumé, Ünïcödé — 中文注释，代码示例。日本語のコメント 🚀 ✓ λ → ∑
message = "Grüße aus München! Привет, мир! 你好，世界！"
'''.strip() + "\n\n" + r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE 256

typedef struct {
    char name[64];
    int age;
} person_t;

static int copy_name(person_t *p, const char *src) {
    size_t n = strlen(src);
    if (n >= sizeof(p->name)) {
        return -1; /* too long: refuse instead of overflowing */
    }
    memcpy(p->name, src, n + 1);
    return 0;
}

int main(int argc, char **argv) {
    char buffer[BUFFER_SIZE];
    person_t person = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 1;
    }
    snprintf(buffer, sizeof(buffer), "%s", argv[1]);
    if (copy_name(&person, buffer) != 0) {
        fprintf(stderr, "name too long\n");
        return 1;
    }
    for (int i = 0; i < 10; i++) {
        person.age += i * 2;
    }
    printf("%s is %d years old\n", person.name, person.age);
    free(NULL);
    return 0;
}
/* Ünïcödé in C comments: 中文 → ok; emoji 😀 */
'''

TOKENIZER_CASES = [
    "def add(a, b):\n    return a + b\n",
    '#include <stdio.h>\n\nint main(void) {\n\tprintf("hi %d\\n", 42);\n\treturn 0;\n}\n',
    "# café résumé — 中文注释 🚀🔥 naïve\ns = \"日本語\"\n",
    "if x:\n\t\treturn y  \n\n\n        pass   \n\t \n",
    "x = 1234567890 + 3.14159e-10 * 0x1F\n",
    "print('a')<|endoftext|>print('b')",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "int a;\r\nint b;\r\n\r\nreturn a+b;\r\n",
    "it's don't I'LL we've THEY'RE",
    "e\u0301te\u0301 cafe\u0301 Å",
    f"{LLAMA_BOS}x = 1{LLAMA_EOS}",
    "",
    "   \n\n  ",
    "for (size_t i = 0; i < n; ++i) { buf[i] = src[i]; }  // 😀 emoji!",
]

MODEL_PROMPTS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    '#include <string.h>\n\nvoid copy(char *dst, const char *src, size_t n) {\n    strncpy(dst,',
    "x = [",
]


def train_bpe(pre_tokenizer: pre_tokenizers.PreTokenizer, normalizer: normalizers.Normalizer | None,
              specials: list[str]) -> Tokenizer:
    """Train a byte-level BPE on CORPUS; special tokens are appended after the learned vocabulary."""
    tok = Tokenizer(BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator([CORPUS], trainer=trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def build_qwen2_tokenizer(out: Path) -> None:
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw = train_bpe(pre, normalizers.NFC(), QWEN2_SPECIALS)
    hf = Qwen2Tokenizer(
        tokenizer_object=raw,
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=QWEN2_SPECIALS[1:],
        model_max_length=32768,
        add_bos_token=False,
        clean_up_tokenization_spaces=False,
    )
    hf.save_pretrained(out)
    write_special_tokens_map(out, {"eos_token": QWEN2_SPECIALS[0], "pad_token": QWEN2_SPECIALS[0]},
                             additional=QWEN2_SPECIALS[1:])


def llama_raw_tokenizer() -> Tokenizer:
    """DeepSeek-Coder-like pipeline: a sequence of isolated splits, then byte-level (no regex)."""
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[\r\n]"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"\s?\p{L}+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"\s?\p{P}+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    raw = train_bpe(pre, None, LLAMA_SPECIALS)
    bos_id = raw.token_to_id(LLAMA_BOS)
    raw.post_processor = TemplateProcessing(
        single=f"{LLAMA_BOS}:0 $A:0",
        pair=f"{LLAMA_BOS}:0 $A:0 {LLAMA_BOS}:1 $B:1",
        special_tokens=[(LLAMA_BOS, bos_id)],
    )
    return raw


def build_llama_tokenizers(out_post: Path, out_nopost: Path) -> None:
    hf = PreTrainedTokenizerFast(
        tokenizer_object=llama_raw_tokenizer(),
        bos_token=LLAMA_BOS,
        eos_token=LLAMA_EOS,
        pad_token=LLAMA_EOS,
        unk_token=None,
        add_bos_token=True,
        add_eos_token=False,
        model_max_length=16384,
        clean_up_tokenization_spaces=False,
        legacy=True,
    )
    hf.save_pretrained(out_post)
    # transformers 5 writes neither add_bos_token nor the class name deepseek-coder publishes;
    # put them back so the files look like deepseek-coder's.
    patch_json(out_post / "tokenizer_config.json",
               {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "add_eos_token": False})
    write_special_tokens_map(out_post, {"bos_token": LLAMA_BOS, "eos_token": LLAMA_EOS, "pad_token": LLAMA_EOS})

    shutil.copytree(out_post, out_nopost)
    tj = json.loads((out_nopost / "tokenizer.json").read_text(encoding="utf-8"))
    tj["post_processor"] = None
    (out_nopost / "tokenizer.json").write_text(
        json.dumps(tj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_special_tokens_map(out: Path, named: dict[str, str], additional: list[str] | None = None) -> None:
    """special_tokens_map.json in the transformers-4 layout (transformers 5 no longer writes it)."""
    def entry(content: str) -> dict[str, Any]:
        return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}

    data: dict[str, Any] = {}
    if additional:
        data["additional_special_tokens"] = list(additional)
    data.update({key: entry(value) for key, value in named.items()})
    (out / "special_tokens_map.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")


def patch_json(path: Path, updates: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(updates)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def make_cases(tok_dir: Path) -> dict[str, Any]:
    """Write cases.json from AutoTokenizer; cross-check encode/decode against the bare tokenizer.json."""
    tok = AutoTokenizer.from_pretrained(tok_dir)
    backend = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    cases = []
    backend_disagreements = []
    for text in TOKENIZER_CASES:
        ids = tok(text)["input_ids"]
        ids_ns = tok(text, add_special_tokens=False)["input_ids"]
        cases.append({
            "text": text,
            "ids": ids,
            "ids_no_special": ids_ns,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
        case = cases[-1]
        if (backend.encode(text, add_special_tokens=True).ids != ids
                or backend.decode(ids, skip_special_tokens=False) != case["decoded"]
                or backend.decode(ids, skip_special_tokens=True) != case["decoded_skip"]):
            backend_disagreements.append(text)
        if backend.encode(text, add_special_tokens=False).ids != ids_ns:
            raise RuntimeError(f"{tok_dir}: tokenizer.json and AutoTokenizer differ without specials on {text!r}")
    (tok_dir / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {
        "auto_tokenizer_class": type(tok).__name__,
        "len": len(tok),
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "adds_bos": bool(tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id]),
        "bare_tokenizer_json_agrees": not backend_disagreements,
        "texts_where_bare_tokenizer_json_differs": backend_disagreements,
    }


def vocab_rows(n_tokens: int) -> int:
    """Embedding rows: the next multiple of 8 strictly above the tokenizer size (always padding rows)."""
    return (n_tokens // 8 + 1) * 8


def randomize_extra(model: PreTrainedModel, gen: torch.Generator) -> None:
    """Random nonzero biases and non-unit RMSNorm weights so every parameter matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.2)


# Shared by both tiny parity models: small, with random weights large enough to matter.
TINY_COMMON = dict(
    hidden_size=64,
    num_key_value_heads=2,
    rms_norm_eps=1e-6,
    initializer_range=0.2,
    attention_dropout=0.0,
)


def save_tiny(model_cls, config, tok_dir: Path, out: Path, seed: int, **save_kw) -> None:
    """Random-init `model_cls(config)` from `seed`, randomize biases and norms, save with the tokenizer."""
    torch.manual_seed(seed)
    model = model_cls(config)
    randomize_extra(model, torch.Generator().manual_seed(seed + 1))
    model.save_pretrained(out, **save_kw)
    copy_tokenizer(tok_dir, out)


# Per architecture: the rest of each tiny model's config (Qwen2: tied, GQA 4/2; Llama: untied,
# GQA 8/2, linear RoPE scaling x4, no biases).
QWEN2_SHAPE = dict(intermediate_size=128, num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=32768,
                   rope_theta=1e6, tie_word_embeddings=True, use_sliding_window=False)
LLAMA_SHAPE = dict(intermediate_size=160, num_hidden_layers=4, num_attention_heads=8, max_position_embeddings=16384,
                   rope_theta=1e5, rope_scaling={"type": "linear", "factor": 4.0}, tie_word_embeddings=False,
                   attention_bias=False, mlp_bias=False)


def build_qwen2_model(tok_dir: Path, out: Path, seed: int) -> None:
    tok = AutoTokenizer.from_pretrained(tok_dir)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(vocab_size=vocab_rows(len(tok)), bos_token_id=eos, eos_token_id=eos, **QWEN2_SHAPE,
                         **TINY_COMMON)
    save_tiny(Qwen2ForCausalLM, config, tok_dir, out, seed)


def build_llama_model(tok_dir: Path, out: Path, seed: int) -> None:
    tok = AutoTokenizer.from_pretrained(tok_dir)
    config = LlamaConfig(vocab_size=vocab_rows(len(tok)), bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, **LLAMA_SHAPE, **TINY_COMMON)
    save_tiny(LlamaForCausalLM, config, tok_dir, out, seed, max_shard_size="100KB")
    if not (out / "model.safetensors.index.json").exists():
        raise RuntimeError("expected a sharded llama checkpoint")


def copy_tokenizer(tok_dir: Path, out: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok_dir / name).exists():
            shutil.copy(tok_dir / name, out / name)


def legacy_config(model_dir: Path, dest: Path) -> None:
    """Rewrite a transformers-5 config.json into the transformers-4 layout."""
    cfg = json.loads((model_dir / "config.json").read_text())
    rope = cfg.pop("rope_parameters", None) or {}
    cfg["rope_theta"] = rope.get("rope_theta")
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type == "default":
        cfg["rope_scaling"] = None
    else:
        cfg["rope_scaling"] = {"type": rope_type, "factor": rope["factor"]}
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    cfg.pop("layer_types", None)
    dest.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def load_model(model_dir: Path, attn: str = ATTN_IMPLEMENTATION) -> PreTrainedModel:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attn)
    return model.eval()


def greedy(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Greedy continuation of exactly GREEDY_NEW_TOKENS tokens (EOS does not stop)."""
    gen_cfg: GenerationConfig = copy.deepcopy(model.generation_config)
    gen_cfg.eos_token_id = None
    gen_cfg.do_sample = False
    gen_cfg.max_new_tokens = GREEDY_NEW_TOKENS
    gen_cfg.pad_token_id = model.config.eos_token_id
    out = model.generate(input_ids, attention_mask=attention_mask, generation_config=gen_cfg)
    new = out[:, input_ids.shape[1]:]
    if new.shape[1] != GREEDY_NEW_TOKENS:
        raise RuntimeError(f"generate returned {new.shape[1]} new tokens, expected {GREEDY_NEW_TOKENS}")
    return new


def argmax_loop(model: PreTrainedModel, ids: list[int]) -> list[int]:
    """No-cache greedy decoding for one unpadded prompt (cross-check of generate)."""
    seq = list(ids)
    for _ in range(GREEDY_NEW_TOKENS):
        logits = model(torch.tensor([seq])).logits
        seq.append(int(logits[0, -1].argmax()))
    return seq[len(ids):]


def make_reference(model_dir: Path) -> dict[str, Any]:
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load_model(model_dir)
    pad_id = model.config.eos_token_id
    tensors: dict[str, torch.Tensor] = {}
    singles = []
    checks: dict[str, Any] = {}
    with torch.no_grad():
        encoded = [tok(p)["input_ids"] for p in MODEL_PROMPTS]
        for i, (text, ids) in enumerate(zip(MODEL_PROMPTS, encoded)):
            x = torch.tensor([ids])
            out = model(x, output_hidden_states=True)
            tensors[f"single.{i}.logits"] = out.logits[0]
            for k, h in enumerate(out.hidden_states):
                tensors[f"single.{i}.hidden.{k}"] = h[0]
            g = greedy(model, x, torch.ones_like(x))[0].tolist()
            if g != argmax_loop(model, ids):
                raise RuntimeError(f"{model_dir}: generate() disagrees with the argmax loop on prompt {i}")
            singles.append({"text": text, "input_ids": ids, "greedy": g})

        t_max = max(len(ids) for ids in encoded)
        input_ids = torch.tensor([[pad_id] * (t_max - len(ids)) + ids for ids in encoded])
        mask = torch.tensor([[0] * (t_max - len(ids)) + [1] * len(ids) for ids in encoded])
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids, attention_mask=mask, position_ids=position_ids, output_hidden_states=True)
        tensors["batch.logits"] = out.logits
        for k, h in enumerate(out.hidden_states):
            tensors[f"batch.hidden.{k}"] = h
        batch_greedy = greedy(model, input_ids, mask).tolist()

        # Consistency checks on real (unpadded) positions.
        max_diff = 0.0
        for i, ids in enumerate(encoded):
            real = slice(t_max - len(ids), t_max)
            max_diff = max(max_diff, (out.logits[i, real] - tensors[f"single.{i}.logits"]).abs().max().item())
        checks["batch_vs_single_max_abs_logit_diff"] = max_diff
        checks["batch_greedy_equals_single_greedy"] = [
            batch_greedy[i] == singles[i]["greedy"] for i in range(len(encoded))]

        other = "sdpa" if ATTN_IMPLEMENTATION == "eager" else "eager"
        alt = load_model(model_dir, other)
        alt_out = alt(input_ids, attention_mask=mask, position_ids=position_ids)
        real_mask = mask.bool()
        checks[f"{other}_vs_{ATTN_IMPLEMENTATION}_max_abs_logit_diff_real_positions"] = (
            (alt_out.logits - out.logits)[real_mask].abs().max().item())

    num_hidden = model.config.num_hidden_layers + 1
    ref = {
        "prompts": MODEL_PROMPTS,
        "single": singles,
        "batch": {
            "input_ids": input_ids.tolist(),
            "attention_mask": mask.tolist(),
            "position_ids": position_ids.tolist(),
            "greedy": batch_greedy,
            "padding": "left, pad id = eos id; logits/hidden at pad positions are not meaningful, "
                       "compare only where attention_mask is 1",
        },
        "note": GREEDY_NOTE,
        "num_hidden_states": num_hidden,
        "vocab_size": model.config.vocab_size,
        "pad_token_id": pad_id,
        "attn_implementation": ATTN_IMPLEMENTATION,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()},
              str(model_dir / "reference.safetensors"), metadata={"format": "pt"})
    (model_dir / "reference.json").write_text(json.dumps(ref, indent=1, ensure_ascii=False) + "\n")
    return checks


def check_legacy_config(model_dir: Path, legacy: Path) -> float:
    """Load the checkpoint with the transformers-4 layout config; return max |logit diff|."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        for f in model_dir.iterdir():
            if f.name != "config.json":
                (tmp_dir / f.name).symlink_to(f.resolve())
        shutil.copy(legacy, tmp_dir / "config.json")
        a, b = load_model(model_dir), load_model(tmp_dir)
        x = torch.tensor([list(range(1, 40))])
        with torch.no_grad():
            return (a(x).logits - b(x).logits).abs().max().item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output directory (created; must be empty)")
    parser.add_argument("--seed", type=int, default=0, help="seed for model initialisation")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        sys.exit(f"error: --out {out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)

    tok_root = out / "tokenizers"
    build_qwen2_tokenizer(tok_root / "qwen2")
    build_llama_tokenizers(tok_root / "llama", tok_root / "llama_nopost")
    summary: dict[str, Any] = {"tokenizers": {}, "models": {}}
    for name in ("qwen2", "llama", "llama_nopost"):
        summary["tokenizers"][name] = make_cases(tok_root / name)
    summary["tokenizers"]["llama_nopost"]["note"] = NOPOST_NOTE

    build_qwen2_model(tok_root / "qwen2", out / "qwen2", args.seed)
    build_llama_model(tok_root / "llama", out / "llama", args.seed)
    for arch in ("qwen2", "llama"):
        checks = make_reference(out / arch)
        legacy = out / f"{arch}_legacy_config.json"
        legacy_config(out / arch, legacy)
        checks["legacy_config_max_abs_logit_diff"] = check_legacy_config(out / arch, legacy)
        summary["models"][arch] = checks
    summary["attn_implementation"] = ATTN_IMPLEMENTATION
    summary["transformers_version"] = transformers.__version__
    summary["torch_version"] = torch.__version__
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
