#!/usr/bin/env python3
"""Greedy generation throughput of transformers (default CPU, fp32), the baseline for the TS generator.

    bench_generate_hf.py --model DIR --batch B --new-tokens 64 [--prompt-len 32] [--seed 0]
                         [--runs 2] [--warmup-tokens 8] [--device cpu|cuda[:N]] [--dtype f32|bf16]
                         [--count-shim LIBDGTORCH.so]

Every row is the same seeded random prompt (ids drawn below the tokenizer size), attention mask all
ones. EOS stopping is disabled (generation config eos_token_id = None), so each run produces exactly
B x new_tokens tokens. One warm-up generate of --warmup-tokens new tokens, then --runs timed runs;
the minimum is reported. Uses the default intra-op thread count and the default (sdpa) attention.

Prints {"batch", "new_tokens", "prompt_len", "seconds", "tok_s" (= batch * new_tokens / seconds),
"threads", "attn_implementation"} (on CUDA also "cuda_peak_mb", the allocator's peak over the
whole run), and with --count-shim also "aten_ops" and "item_reads" of one
more (untimed) generate of --new-tokens tokens.

Counting uses the TS shim's own counter (docs/ffi.md, "Counting"): the library is loaded into this
process (it links the same libtorch as this torch) and its global RecordFunction callback counts
top-level ATen ops, the definition the TS side uses. "item_reads" counts the scalar reads
(aten::_local_scalar_dense: .item(), bool(tensor)) with torch.profiler, and
"profiler_top_level_ops" the profiler's top-level aten events of the same run: an independent
check of the shim's count.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import json
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from _common import add_paths, make_parser, require_files


def generate(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int) -> float:
    """Seconds for one greedy generate of exactly new_tokens tokens per row (CUDA synchronized)."""
    gen_cfg = copy.deepcopy(model.generation_config)
    gen_cfg.eos_token_id = None
    gen_cfg.pad_token_id = model.config.eos_token_id
    gen_cfg.do_sample = False
    gen_cfg.max_new_tokens = new_tokens
    start = time.perf_counter()
    out = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), generation_config=gen_cfg)
    if input_ids.is_cuda:
        torch.cuda.synchronize(input_ids.device)
    seconds = time.perf_counter() - start
    if out.shape[1] != input_ids.shape[1] + new_tokens:
        raise RuntimeError(f"generate returned {out.shape[1] - input_ids.shape[1]} tokens, expected {new_tokens}")
    return seconds


def count(model: PreTrainedModel, input_ids: torch.Tensor, new_tokens: int, shim: Path) -> dict:
    """Top-level ATen ops of one generate, by the shim's callback and by the profiler."""
    lib = ctypes.CDLL(str(shim))
    lib.dg_op_count.restype = ctypes.c_double
    if lib.dg_count_ops(1) != 0:
        raise RuntimeError("dg_count_ops(1) failed")
    before = lib.dg_op_count()
    generate(model, input_ids, new_tokens)
    ops = lib.dg_op_count() - before
    lib.dg_count_ops(0)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        generate(model, input_ids, new_tokens)
    events = [e for e in prof.events() if e.name.startswith("aten::")]
    return {
        "aten_ops": int(ops),
        "profiler_top_level_ops": sum(1 for e in events if e.cpu_parent is None),
        "item_reads": sum(1 for e in events if e.name == "aten::_local_scalar_dense"),
    }


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, model="checkpoint directory")
    parser.add_argument("--batch", required=True, type=int, help="rows generated together")
    parser.add_argument("--new-tokens", required=True, type=int, help="tokens generated per row")
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="seed of the prompt ids")
    parser.add_argument("--runs", type=int, default=2, help="timed runs (minimum reported)")
    parser.add_argument("--warmup-tokens", type=int, default=8, help="new tokens of the warm-up run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="f32", choices=("f32", "bf16"))
    parser.add_argument("--count-shim", type=Path, help="libdgtorch .so whose op counter to use")
    args = parser.parse_args()
    if min(args.batch, args.new_tokens, args.prompt_len, args.runs, args.warmup_tokens) < 1:
        sys.exit("error: --batch, --new-tokens, --prompt-len, --runs and --warmup-tokens must be >= 1")
    require_files(args.model / "config.json")

    tok = AutoTokenizer.from_pretrained(args.model)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but torch sees no CUDA device")
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device).eval()
    high = min(len(tok), model.config.vocab_size)
    prompt = torch.randint(0, high, (1, args.prompt_len), generator=torch.Generator().manual_seed(args.seed))
    input_ids = prompt.repeat(args.batch, 1).to(device)

    with torch.no_grad():
        generate(model, input_ids, min(args.warmup_tokens, args.new_tokens))
        seconds = min(generate(model, input_ids, args.new_tokens) for _ in range(args.runs))
        counts = count(model, input_ids, args.new_tokens, args.count_shim) if args.count_shim else {}
    print(json.dumps({
        "batch": args.batch,
        "new_tokens": args.new_tokens,
        "prompt_len": args.prompt_len,
        "seconds": round(seconds, 4),
        "tok_s": round(args.batch * args.new_tokens / seconds, 3),
        "threads": torch.get_num_threads(),
        "attn_implementation": model.config._attn_implementation,
        **counts,
        **({"cuda_peak_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)} if device.type == "cuda" else {}),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
