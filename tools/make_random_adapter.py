#!/usr/bin/env python3
"""Write a random DeepGuard adapter directory for a checkpoint (test input for loss_ref.py / peft_logits.py).

    make_random_adapter.py --model DIR --out DIR --aggregation {attention,weighted,concat,average,last_layer}
                           [--seed 0] [--r 16] [--alpha 32] [--num-layers 4] [--b-std 0.05]

Files (the formats DeepGuard-TS writes):
  adapter_config.json             HF PEFT LoraConfig keys of models.md §6 only; target modules
                                  q_proj,v_proj (qwen*) or q_proj,v_proj,k_proj,o_proj (llama).
  adapter_model.safetensors       base_model.model.model.layers.{i}.self_attn.{m}.lora_{A,B}.weight,
                                  float32, metadata {"format": "pt"}. A ~ U(-1/sqrt(in), 1/sqrt(in)),
                                  B ~ N(0, b_std) (nonzero, unlike PEFT's default init).
  security_components.safetensors aggregator.* / analyzer.* / token_security_stats, float32,
                                  metadata {"format": "pt"}.
  security_config.json            {"aggregation", "num_layers", "hidden_size", "vocab_size",
                                   "security_embed_dim": 128}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from loss_ref import AGGREGATIONS, SECURITY_EMBED_DIM, SecurityComponents
from _common import add_paths, make_parser, require_files


def target_modules(model_type: str) -> list[str]:
    if "qwen" in model_type:
        return ["q_proj", "v_proj"]
    if model_type == "llama":
        return ["q_proj", "v_proj", "k_proj", "o_proj"]
    raise ValueError(f"unsupported model_type {model_type!r}")


def projection_shapes(cfg: dict) -> dict[str, tuple[int, int]]:
    """(out_features, in_features) of each attention projection."""
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or hidden // heads
    kv = cfg.get("num_key_value_heads") or heads
    return {
        "q_proj": (heads * head_dim, hidden),
        "k_proj": (kv * head_dim, hidden),
        "v_proj": (kv * head_dim, hidden),
        "o_proj": (hidden, heads * head_dim),
    }


def lora_tensors(cfg: dict, modules: list[str], r: int, b_std: float, gen: torch.Generator) -> dict[str, torch.Tensor]:
    shapes = projection_shapes(cfg)
    tensors = {}
    for layer in range(cfg["num_hidden_layers"]):
        for module in modules:
            out_f, in_f = shapes[module]
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            bound = 1.0 / in_f ** 0.5
            tensors[f"{prefix}.lora_A.weight"] = (torch.rand(r, in_f, generator=gen) * 2 - 1) * bound
            tensors[f"{prefix}.lora_B.weight"] = torch.randn(out_f, r, generator=gen) * b_std
    return tensors


def security_tensors(sec_cfg: dict, seed: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """PyTorch default inits, plus random LayerNorm affine params and layer logits so all are nonzero."""
    torch.manual_seed(seed)
    comps = SecurityComponents(sec_cfg)
    state = {k: v.detach().clone() for k, v in comps.state_dict().items()}
    for name, value in state.items():
        if ".norm" in name and name.endswith(".weight"):
            state[name] = 1.0 + 0.1 * torch.randn(value.shape, generator=gen)
        elif ".norm" in name and name.endswith(".bias") or name.endswith("layer_logits"):
            state[name] = 0.1 * torch.randn(value.shape, generator=gen)
        elif name == "token_security_stats":
            state[name] = torch.rand(value.shape, generator=gen)
    return {k: v.to(torch.float32).contiguous() for k, v in state.items()}


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, model="checkpoint directory (config.json)", out="adapter directory to create")
    parser.add_argument("--aggregation", required=True, choices=AGGREGATIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--r", type=int, default=16, help="LoRA rank")
    parser.add_argument("--alpha", type=float, default=32, help="lora_alpha (scaling alpha/r)")
    parser.add_argument("--num-layers", type=int, default=4, help="hidden states the aggregator reads")
    parser.add_argument("--b-std", type=float, default=0.05, help="std of the random lora_B entries")
    args = parser.parse_args()

    config_path = args.model / "config.json"
    require_files(config_path)
    cfg = json.loads(config_path.read_text())
    if args.num_layers > cfg["num_hidden_layers"] + 1:
        sys.exit(f"error: --num-layers {args.num_layers} exceeds the {cfg['num_hidden_layers'] + 1} hidden states")
    modules = target_modules(cfg["model_type"])
    gen = torch.Generator().manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    adapter_config = {
        "alpha_pattern": {},
        "base_model_name_or_path": str(args.model),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": args.alpha,
        "lora_dropout": 0.1,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": args.r,
        "rank_pattern": {},
        "revision": None,
        "target_modules": modules,
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": False,
    }
    (args.out / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2) + "\n")
    save_file(lora_tensors(cfg, modules, args.r, args.b_std, gen), str(args.out / "adapter_model.safetensors"),
              metadata={"format": "pt"})

    sec_cfg = {
        "aggregation": args.aggregation,
        "num_layers": args.num_layers,
        "hidden_size": cfg["hidden_size"],
        "vocab_size": cfg["vocab_size"],
        "security_embed_dim": SECURITY_EMBED_DIM,
    }
    (args.out / "security_config.json").write_text(json.dumps(sec_cfg, indent=2) + "\n")
    save_file(security_tensors(sec_cfg, args.seed, gen), str(args.out / "security_components.safetensors"),
              metadata={"format": "pt"})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
