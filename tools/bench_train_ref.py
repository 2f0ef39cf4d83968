#!/usr/bin/env python3
"""Step time of one DeepGuard training step in transformers + PEFT, the baseline for `bench:train`.

    bench_train_ref.py --model DIR --adapter DIR --batch FILE.json [--steps 3] [--lr 2e-5]
                       [--checkpointing]

--model / --adapter / --batch as in loss_ref.py (the adapter is the one DeepGuard-TS saved for the
same base model). A step is what the TS trainer does: zero the gradients, the DeepGuard loss
(loss_ref.deepguard_loss: secure forward with hidden states, vulnerable forward without gradient,
adapter-free reference forward for the KL term), backward, global-norm clipping to 1.0, AdamW
(weight decay 0.01). Dropout is off on both sides (eval mode, lora_dropout 0). The model uses the
default attention implementation (sdpa) and the default intra-op thread count. One warm-up step, then
--steps timed steps. --checkpointing: transformers' gradient checkpointing (non-reentrant); the
model is then put in train mode, which it needs for checkpointing (every dropout is 0 here).

Prints {"step_seconds": [...], "min_s", "median_s", "threads", "attn_implementation", "loss",
"peak_rss_mb"} (peak resident memory of this process, model load included).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from peft import PeftConfig, PeftModel
from transformers import AutoModelForCausalLM

from loss_ref import deepguard_loss, load_components, read_batch, trainable_parameters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="base checkpoint directory")
    parser.add_argument("--adapter", required=True, type=Path, help="PEFT adapter + security components dir")
    parser.add_argument("--batch", required=True, type=Path, help="batch JSON (right padded)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    args = parser.parse_args()
    if args.steps < 1:
        sys.exit("error: --steps must be >= 1")
    for path in (args.model / "config.json", args.adapter / "adapter_config.json", args.batch):
        if not path.exists():
            sys.exit(f"error: {path} not found")

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    config = PeftConfig.from_pretrained(str(args.adapter))
    config.lora_dropout = 0.0
    model = PeftModel.from_pretrained(base, str(args.adapter), config=config, is_trainable=True).eval()
    if args.checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
    comps = load_components(args.adapter).eval()
    batch = read_batch(args.batch)
    params = list(trainable_parameters(model, comps).values())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = deepguard_loss(model, comps, batch)["total"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    loss = step()
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = step()
        seconds.append(time.perf_counter() - start)
    print(json.dumps({
        "step_seconds": [round(s, 4) for s in seconds],
        "min_s": round(min(seconds), 4),
        "median_s": round(statistics.median(seconds), 4),
        "threads": torch.get_num_threads(),
        "attn_implementation": base.config._attn_implementation,
        "loss": loss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
