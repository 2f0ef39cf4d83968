#!/usr/bin/env python3
"""Random fp32 checkpoint with a real model's shape, for throughput benchmarks (no download).

    make_bench_model.py --out DIR [--shape qwen2.5-coder-0.5b|qwen2.5-coder-1.5b|qwen2.5-coder-7b]
                        [--dtype f32|bf16] [--seed 0]

Writes DIR/config.json, generation_config.json, model.safetensors (float32, saved by transformers;
tied embeddings are stored once) and the qwen2-style tokenizer of parity_ref.py (its ids are far
below vocab_size). Weights ~ N(0, 0.02) (initializer_range), norms 1, biases 0. The 0.5B shape is
~2 GB on disk and needs ~2.5 GB of RAM to build; the 7B shape needs ~31 GB of RAM to build and is
15 GB on disk with --dtype bf16 (weights saved in that dtype; built in fp32 either way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from parity_ref import build_qwen2_tokenizer

# Qwen2.5-Coder config numbers (models.md §1).
SHAPES: dict[str, dict] = {
    "qwen2.5-coder-0.5b": {
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "max_window_layers": 24,
        "tie_word_embeddings": True,
    },
    "qwen2.5-coder-1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "max_window_layers": 28,
        "tie_word_embeddings": True,
    },
    "qwen2.5-coder-7b": {
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 152064,
        "max_position_embeddings": 32768,
        "max_window_layers": 28,
        "tie_word_embeddings": False,
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory to create")
    parser.add_argument("--shape", default="qwen2.5-coder-0.5b", choices=sorted(SHAPES))
    parser.add_argument("--dtype", default="f32", choices=("f32", "bf16"), help="dtype of the saved weights")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"error: --out {args.out} exists and is not empty")
    args.out.mkdir(parents=True, exist_ok=True)

    build_qwen2_tokenizer(args.out)
    tok = AutoTokenizer.from_pretrained(args.out)
    config = Qwen2Config(
        **SHAPES[args.shape],
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        use_sliding_window=False,
        attention_dropout=0.0,
        initializer_range=0.02,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(args.seed)
    with torch.no_grad():
        model = Qwen2ForCausalLM(config).to(torch.bfloat16 if args.dtype == "bf16" else torch.float32).eval()
    model.save_pretrained(args.out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {args.shape} ({args.dtype}), {n_params / 1e6:.1f} M parameters, "
          f"tokenizer size {len(tok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
