#!/usr/bin/env python3
"""A plain LoRA adapter written by HF PEFT itself (no DeepGuard files), for the adapter-loading tests.

    peft_save_adapter.py --model DIR --out DIR [--r 8] [--alpha 16] [--targets q_proj,v_proj] [--seed 0]

Wraps the checkpoint with peft.get_peft_model(LoraConfig(..., init_lora_weights=False)) — A and B
both random, so the adapter changes the logits — and calls save_pretrained(OUT): adapter_config.json
and adapter_model.safetensors exactly as PEFT writes them, nothing else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
from _common import add_paths, make_parser, require_files


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, model="base checkpoint directory", out="adapter directory to write")
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--alpha", type=int, default=16)
    parser.add_argument("--targets", default="q_proj,v_proj", help="comma-separated module names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    require_files(args.model / "config.json")
    torch.manual_seed(args.seed)
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    cfg = LoraConfig(
        r=args.r,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        target_modules=args.targets.split(","),
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, cfg)
    model.save_pretrained(str(args.out))
    print(f"wrote {args.out}: {sorted(p.name for p in args.out.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
