#!/usr/bin/env python3
"""Reference value and gradients of the DeepGuard training loss (fp32, dropout off).

    loss_ref.py --model DIR --adapter DIR --batch FILE.json --out GRADS.safetensors
                [--json LOSSES.json] [--fd-check K]

--model     a Hugging Face causal-LM checkpoint directory (qwen2 / llama).
--adapter   HF PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors) that also
            holds security_config.json and security_components.safetensors.
--batch     JSON {"secure_input_ids", "secure_attention_mask", "vulnerable_input_ids",
            "vulnerable_attention_mask"}: lists of equal-length rows, RIGHT padded.

Computation (models.md §0 and the "DeepGuard training" issue):
  gen   = next-token cross-entropy on the secure batch, targets with attention_mask[:, 1:] == 0 ignored;
  sec   = relu(0.5 - (s_sec - s_vul)), s_* = mean analyzer score over real tokens of the whole batch;
          the vulnerable base+LoRA forward runs under no_grad, aggregator and analyzer get gradient
          from both sides;
  kl    = min(1, mean over real secure tokens of KL(p_ref || p_cur)), p_ref from the same model with
          the adapter disabled (no_grad);
  total = gen + 0.5 * sec + 1.0 * kl.

Outputs: --json {"gen","sec","kl","total","s_sec","s_vul","kl_unclamped"}; --out float32 gradients of
total, keyed by PEFT names without the adapter name
(base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight) and by security component names
(aggregator.q_proj.weight, analyzer.fc1.weight, ...). --fd-check K compares K gradient entries
against central finite differences computed in float64 and prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from peft import PeftConfig, PeftModel
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForCausalLM
from _common import LOSS_INPUTS, add_paths, make_parser, require_loss_inputs

AGGREGATIONS = ("attention", "weighted", "concat", "average", "last_layer")
SECURITY_EMBED_DIM = 128
SEC_MARGIN = 0.5
SEC_WEIGHT = 0.5
KL_WEIGHT = 1.0
KL_CLAMP = 1.0
BATCH_KEYS = ("secure_input_ids", "secure_attention_mask", "vulnerable_input_ids", "vulnerable_attention_mask")


class Aggregator(nn.Module):
    """Combines the last L hidden states [B,T,H] into one [B,T,H] tensor."""

    def __init__(self, kind: str, num_layers: int, hidden: int) -> None:
        super().__init__()
        if kind not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {kind!r}; expected one of {AGGREGATIONS}")
        self.kind = kind
        self.hidden = hidden
        if kind == "attention":
            # created and registered in this order: q, k, v, o
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(hidden, hidden) for _ in range(4))
        elif kind == "weighted":
            self.layer_logits = nn.Parameter(torch.zeros(num_layers))
        elif kind == "concat":
            self.proj = nn.Linear(num_layers * hidden, hidden)

    def forward(self, hidden_states: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(hidden_states)  # [L,B,T,H]
        if self.kind == "attention":
            q = self.q_proj(stacked.mean(0))  # [B,T,H]
            k = self.k_proj(stacked)  # [L,B,T,H]
            v = self.v_proj(stacked)
            scores = (k * q.unsqueeze(0)).sum(-1) / math.sqrt(self.hidden)  # [L,B,T]
            weights = scores.softmax(dim=0)
            return self.o_proj((weights.unsqueeze(-1) * v).sum(0))
        if self.kind == "weighted":
            w = self.layer_logits.softmax(dim=0)
            return (w.view(-1, 1, 1, 1) * stacked).sum(0)
        if self.kind == "concat":
            return self.proj(torch.cat(hidden_states, dim=-1))
        if self.kind == "average":
            return stacked.mean(0)
        return hidden_states[-1]


class Analyzer(nn.Module):
    """Per-token security score in (0, 1) from the aggregated state and a token embedding."""

    def __init__(self, hidden: int, vocab: int, embed_dim: int = SECURITY_EMBED_DIM) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, embed_dim)
        self.fc1 = nn.Linear(hidden + embed_dim, 512)
        self.norm1 = nn.LayerNorm(512, eps=1e-5)
        self.fc2 = nn.Linear(512, 256)
        self.norm2 = nn.LayerNorm(256, eps=1e-5)
        self.fc3 = nn.Linear(256, 128)
        self.out = nn.Linear(128, 1)

    def forward(self, aggregated: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        x = torch.cat([aggregated, self.token_embedding(input_ids)], dim=-1)
        x = F.relu(self.norm1(self.fc1(x)))
        x = F.relu(self.norm2(self.fc2(x)))
        x = F.relu(self.fc3(x))
        return torch.sigmoid(self.out(x)).squeeze(-1)  # [B,T]


class SecurityComponents(nn.Module):
    """state_dict() keys are exactly the tensor names of security_components.safetensors."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        if config.get("security_embed_dim", SECURITY_EMBED_DIM) != SECURITY_EMBED_DIM:
            raise ValueError(f"security_embed_dim must be {SECURITY_EMBED_DIM}")
        self.num_layers = int(config["num_layers"])
        self.aggregator = Aggregator(config["aggregation"], self.num_layers, int(config["hidden_size"]))
        self.analyzer = Analyzer(int(config["hidden_size"]), int(config["vocab_size"]))
        self.register_buffer("token_security_stats", torch.zeros(int(config["vocab_size"])))


def load_components(adapter_dir: Path) -> SecurityComponents:
    config = json.loads((adapter_dir / "security_config.json").read_text())
    missing = {"aggregation", "num_layers", "hidden_size", "vocab_size"} - set(config)
    if missing:
        raise ValueError(f"{adapter_dir}/security_config.json lacks {sorted(missing)}")
    components = SecurityComponents(config)
    tensors = load_file(str(adapter_dir / "security_components.safetensors"))
    expected = set(components.state_dict())
    if set(tensors) != expected:
        raise ValueError(
            f"security_components.safetensors names differ: missing {sorted(expected - set(tensors))}, "
            f"unexpected {sorted(set(tensors) - expected)}")
    components.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
    return components


def load_peft_model(model_dir: Path, adapter_dir: Path) -> PeftModel:
    """Base model in fp32 eval mode with the LoRA adapter loaded trainable and lora_dropout = 0."""
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    config = PeftConfig.from_pretrained(str(adapter_dir))
    config.lora_dropout = 0.0
    model = PeftModel.from_pretrained(base, str(adapter_dir), config=config, is_trainable=True)
    return model.eval()


def read_batch(path: Path) -> dict[str, torch.Tensor]:
    data = json.loads(path.read_text())
    missing = [k for k in BATCH_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    batch = {k: torch.tensor(data[k], dtype=torch.long) for k in BATCH_KEYS}
    for side in ("secure", "vulnerable"):
        ids, mask = batch[f"{side}_input_ids"], batch[f"{side}_attention_mask"]
        if ids.dim() != 2 or ids.shape != mask.shape:
            raise ValueError(f"{path}: {side} ids/mask must be equal-shape [B,T] lists")
        if not bool((mask[:, 0] == 1).all()) or bool((mask[:, 1:] > mask[:, :-1]).any()):
            raise ValueError(f"{path}: {side} rows must be right padded (mask 1…1 0…0, first token real)")
    return batch


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half precision to float32; keep float32/float64 (the finite-difference check runs in float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def vulnerable_hidden_states(model: PeftModel, comps: SecurityComponents,
                             batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Last L hidden states of the vulnerable batch, computed without gradient (constants for the loss)."""
    with torch.no_grad():
        out = model(input_ids=batch["vulnerable_input_ids"], attention_mask=batch["vulnerable_attention_mask"],
                    output_hidden_states=True)
    return [at_least_fp32(h.detach()) for h in out.hidden_states[-comps.num_layers:]]


def deepguard_loss(model: PeftModel, comps: SecurityComponents, batch: dict[str, torch.Tensor],
                   vul_hidden: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """All loss terms; vul_hidden (default: computed here) is a constant of the loss."""
    sec_ids, sec_mask = batch["secure_input_ids"], batch["secure_attention_mask"]
    vul_ids, vul_mask = batch["vulnerable_input_ids"], batch["vulnerable_attention_mask"]
    n_layers = comps.num_layers
    if vul_hidden is None:
        vul_hidden = vulnerable_hidden_states(model, comps, batch)

    out = model(input_ids=sec_ids, attention_mask=sec_mask, output_hidden_states=True)
    logits = out.logits
    labels = sec_ids[:, 1:].masked_fill(sec_mask[:, 1:] == 0, -100)
    gen = F.cross_entropy(at_least_fp32(logits[:, :-1]).reshape(-1, logits.shape[-1]), labels.reshape(-1),
                          ignore_index=-100)

    sec_hidden = [at_least_fp32(h) for h in out.hidden_states[-n_layers:]]  # components run in fp32
    sec_scores = comps.analyzer(comps.aggregator(sec_hidden), sec_ids)
    vul_scores = comps.analyzer(comps.aggregator(vul_hidden), vul_ids)
    s_sec = (sec_scores * sec_mask).sum() / sec_mask.sum()
    s_vul = (vul_scores * vul_mask).sum() / vul_mask.sum()
    sec = F.relu(SEC_MARGIN - (s_sec - s_vul))

    with torch.no_grad(), model.disable_adapter():
        ref_logits = model(input_ids=sec_ids, attention_mask=sec_mask).logits
    logp_ref = F.log_softmax(at_least_fp32(ref_logits), dim=-1)
    logp_cur = F.log_softmax(at_least_fp32(logits), dim=-1)
    kl_tok = (logp_ref.exp() * (logp_ref - logp_cur)).sum(-1)  # [B,T]
    kl_unclamped = (kl_tok * sec_mask).sum() / sec_mask.sum()
    kl = kl_unclamped.clamp(max=KL_CLAMP)

    total = gen + SEC_WEIGHT * sec + KL_WEIGHT * kl
    return {"gen": gen, "sec": sec, "kl": kl, "total": total, "s_sec": s_sec, "s_vul": s_vul,
            "kl_unclamped": kl_unclamped}


def trainable_parameters(model: PeftModel, comps: SecurityComponents) -> dict[str, nn.Parameter]:
    """Output name -> parameter, LoRA names with the adapter name removed."""
    params: dict[str, nn.Parameter] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            params[name.replace(".default.", ".")] = p
    for name, p in comps.named_parameters():
        params[name] = p
    return params


def finite_difference_check(model: PeftModel, comps: SecurityComponents, batch: dict[str, torch.Tensor],
                            grads: dict[str, torch.Tensor], count: int) -> list[dict[str, Any]]:
    """Central differences of total in float64 for the largest-|grad| entry of `count` tensors.

    The vulnerable hidden states are held at their unperturbed values, as the loss treats them as
    constants (no_grad forward). transformers computes RMSNorm and eager softmax in float32 even in a
    float64 model, so the loss carries ~1e-7 relative noise in LoRA directions: eps is 1e-3 there
    (agreement ~1e-4 relative) and 1e-6 for the security components, which sit downstream of the model."""
    model.double()
    comps.double()
    vul_hidden = vulnerable_hidden_states(model, comps, batch)
    params = trainable_parameters(model, comps)
    lora = sorted(n for n in grads if "lora_" in n)
    rest = sorted(n for n in grads if "lora_" not in n)
    # Spread the picks: one LoRA B, one LoRA A, then security components.
    preferred = [n for n in lora if ".lora_B." in n][:1] + [n for n in lora if ".lora_A." in n][:1] + rest
    picks = [n for n in preferred if grads[n].abs().max() > 1e-6][:count]
    results = []
    with torch.no_grad():
        for name in picks:
            p = params[name]
            eps = 1e-3 if "lora_" in name else 1e-6
            idx = int(grads[name].abs().argmax())
            flat = p.data.view(-1)
            orig = flat[idx].item()
            flat[idx] = orig + eps
            plus = deepguard_loss(model, comps, batch, vul_hidden)["total"].item()
            flat[idx] = orig - eps
            minus = deepguard_loss(model, comps, batch, vul_hidden)["total"].item()
            flat[idx] = orig
            fd = (plus - minus) / (2 * eps)
            analytic = grads[name].view(-1)[idx].item()
            results.append({"name": name, "index": idx, "analytic": analytic, "finite_difference": fd,
                            "rel_err": abs(fd - analytic) / max(abs(fd), abs(analytic), 1e-12)})
    return results


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, **LOSS_INPUTS, out="gradients .safetensors (float32)")
    parser.add_argument("--json", type=Path, help="write the loss values here")
    parser.add_argument("--fd-check", type=int, default=0, metavar="K",
                        help="also check K gradient entries with float64 finite differences")
    args = parser.parse_args()
    require_loss_inputs(args)

    torch.manual_seed(0)
    model = load_peft_model(args.model, args.adapter)
    comps = load_components(args.adapter)
    batch = read_batch(args.batch)
    vocab = model.get_base_model().config.vocab_size
    for key in ("secure_input_ids", "vulnerable_input_ids"):
        if int(batch[key].max()) >= vocab or int(batch[key].min()) < 0:
            sys.exit(f"error: {key} has ids outside [0, {vocab})")

    losses = deepguard_loss(model, comps, batch)
    losses["total"].backward()
    grads: dict[str, torch.Tensor] = {}
    for name, p in trainable_parameters(model, comps).items():
        if p.grad is None:
            print(f"warning: {name} received no gradient; writing zeros", file=sys.stderr)
            grads[name] = torch.zeros_like(p, dtype=torch.float32)
        else:
            grads[name] = p.grad.detach().to(torch.float32).contiguous()
    save_file(grads, str(args.out), metadata={"format": "pt"})

    values = {k: v.item() for k, v in losses.items()}
    if args.json:
        args.json.write_text(json.dumps(values, indent=1) + "\n")
    print(json.dumps(values))
    if args.fd_check:
        model.zero_grad(set_to_none=True)
        report = finite_difference_check(model, comps, batch, grads, args.fd_check)
        print(json.dumps({"finite_difference_check": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
