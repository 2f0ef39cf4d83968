#!/usr/bin/env python3
"""Step time of one DeepGuard training step in transformers + PEFT, the baseline for `bench:train`.

    bench_train_ref.py --model DIR --adapter DIR --batch FILE.json [--steps 3] [--lr 2e-5]
                       [--checkpointing] [--device cpu|cuda[:N]] [--dtype f32|bf16]

--model / --adapter / --batch as in loss_ref.py (the adapter is the one DeepGuard-TS saved for the
same base model). A step is what the TS trainer does: zero the gradients, the DeepGuard loss
(loss_ref.deepguard_loss: secure forward with hidden states, vulnerable forward without gradient,
adapter-free reference forward for the KL term), backward, global-norm clipping to 1.0, AdamW
(weight decay 0.01). Dropout is off on both sides (eval mode, lora_dropout 0). The model uses the
default attention implementation (sdpa) and the default intra-op thread count. One warm-up step, then
--steps timed steps. --checkpointing: transformers' gradient checkpointing (non-reentrant); the
model is then put in train mode, which it needs for checkpointing (every dropout is 0 here).

--dtype bf16 loads the base weights in bfloat16 (LoRA, components and optimizer state stay fp32, as
DeepGuard-TS does); --device cuda runs everything on the GPU (timings synchronize first).

Prints {"step_seconds": [...], "min_s", "median_s", "threads", "attn_implementation", "loss",
"peak_rss_mb", "peak_gpu_mb"} (peak resident memory of this process, model load included; peak
allocated CUDA memory, or null on the CPU).
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
from _common import LOSS_INPUTS, add_paths, make_parser, require_loss_inputs


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, **LOSS_INPUTS)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="f32", choices=("f32", "bf16"), help="base weight dtype")
    args = parser.parse_args()
    if args.steps < 1:
        sys.exit("error: --steps must be >= 1")
    require_loss_inputs(args)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but torch sees no CUDA device")
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device)
    config = PeftConfig.from_pretrained(str(args.adapter))
    config.lora_dropout = 0.0
    model = PeftModel.from_pretrained(base, str(args.adapter), config=config, is_trainable=True).eval()
    for p in model.parameters():  # adapters in fp32 next to bf16 base weights
        if p.requires_grad:
            p.data = p.data.to(torch.float32)
    if args.checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
    comps = load_components(args.adapter).eval().to(device)
    batch = {k: v.to(device) for k, v in read_batch(args.batch).items()}
    params = list(trainable_parameters(model, comps).values())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = deepguard_loss(model, comps, batch)["total"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
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
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
