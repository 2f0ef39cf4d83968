#!/usr/bin/env python3
"""Logits of a base model with a LoRA adapter, as HF PEFT computes them.

    peft_logits.py --model DIR --adapter DIR --ids IDS.json --out LOGITS.safetensors [--merged]

--ids     JSON list of lists of token ids, all rows the same length (no padding, no attention mask;
          positions 0..T-1).
--merged  merge_and_unload() the adapter into the base weights first.

Output: safetensors with one float32 tensor "logits" [B,T,V], metadata {"format": "pt"}.
The model runs in float32, eval mode (LoRA dropout off), eager attention.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM
from _common import add_paths, make_parser, require_files


def read_ids(path: Path, vocab: int) -> torch.Tensor:
    rows = json.loads(path.read_text())
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise ValueError(f"{path}: expected a non-empty list of non-empty lists of ids")
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"{path}: rows have different lengths {sorted({len(r) for r in rows})}")
    ids = torch.tensor(rows, dtype=torch.long)
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        raise ValueError(f"{path}: ids must lie in [0, {vocab})")
    return ids


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, model="base checkpoint directory", adapter="PEFT adapter directory")
    add_paths(parser, ids="JSON [[id, ...], ...]", out="output .safetensors")
    parser.add_argument("--merged", action="store_true", help="merge_and_unload before the forward")
    args = parser.parse_args()
    require_files(args.model / "config.json", args.adapter / "adapter_config.json", args.ids)

    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    try:
        ids = read_ids(args.ids, base.config.vocab_size)
    except ValueError as err:
        sys.exit(f"error: {err}")
    model = PeftModel.from_pretrained(base, str(args.adapter))
    if args.merged:
        model = model.merge_and_unload()
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"logits": logits.to(torch.float32).contiguous()}, str(args.out), metadata={"format": "pt"})
    print(f"wrote {args.out}: logits {list(logits.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
