#!/usr/bin/env python3
"""Upstream DeepGuard's training loss, transcribed from unknownhl/DeepGuard deepguard/train.py, as an
oracle for `--recipe upstream` (fp32, dropout off).

    loss_ref_upstream.py --model DIR --adapter DIR --batch FILE.json --out GRADS.safetensors
                         [--json LOSSES.json]

--model     a Hugging Face causal-LM checkpoint directory (qwen2 / llama) with its tokenizer.
--adapter   the TS-saved adapter directory: PEFT LoRA + security_config.json +
            security_components.safetensors. The components' tensors are copied into upstream's
            module layout (names mapped below), so the upstream init does not matter here.
--batch     JSON {"secure_input_ids", "secure_attention_mask", "vulnerable_input_ids",
            "vulnerable_attention_mask"}: rows as upstream's dataset yields them (padded with the
            tokenizer's pad token, right padded, every row the same length).

What is transcribed (line numbers of deepguard/train.py at commit c92430a):
  MultiLayerAggregator (:19-63, `attention` / `average` / `last_layer` only: upstream has no other),
  SecurityAnalyzer (:65-113: security_embeddings + context_processor Sequential),
  SecurityAwareLoRAModel.compute_loss (:195-282):
    labels = input_ids with pad_token_id -> -100, loss from the model's own `labels=` path;
    the vulnerable forward under no_grad; scores_*.mean() over EVERY position (padding included);
    security = relu(0.5 - (mean_sec - mean_vul));
    KL = sum ref_probs * (log(ref_probs + 1e-8) - log(current_probs + 1e-8)) from softmax
    probabilities, averaged over input_ids != pad_token_id, clamped at 1.0; total = gen + 0.5 sec
    (+ 1.0 kl when kl > 0).
The pad token is the tokenizer's, or its EOS when it has none (deepguard/train.py:525-526).

Outputs as tools/loss_ref.py: --json {"gen","sec","kl","total","s_sec","s_vul","kl_unclamped",
"pad_token_id"};
--out float32 gradients of total keyed by PEFT names without the adapter name and by the TS
component names (aggregator.q_proj.weight, analyzer.fc1.weight, ...).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import PeftConfig, PeftModel
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer
from _common import LOSS_INPUTS, add_paths, make_parser, require_loss_inputs

BATCH_KEYS = ("secure_input_ids", "secure_attention_mask", "vulnerable_input_ids", "vulnerable_attention_mask")

# TS component name -> upstream parameter name (inside SecurityAwareLoRAModel.security_analyzer).
NAME_MAP = {
    "aggregator.q_proj": "layer_aggregator.query",
    "aggregator.k_proj": "layer_aggregator.key",
    "aggregator.v_proj": "layer_aggregator.value",
    "aggregator.o_proj": "layer_aggregator.output_proj",
    "analyzer.token_embedding": "security_embeddings",
    "analyzer.fc1": "context_processor.0",
    "analyzer.norm1": "context_processor.1",
    "analyzer.fc2": "context_processor.4",
    "analyzer.norm2": "context_processor.5",
    "analyzer.fc3": "context_processor.8",
    "analyzer.out": "context_processor.10",
}


class MultiLayerAggregator(nn.Module):
    """deepguard/train.py:19-63."""

    def __init__(self, num_layers: int, hidden_size: int, aggregation_method: str = "attention"):
        super().__init__()
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.aggregation_method = aggregation_method
        if aggregation_method == "attention":
            self.query = nn.Linear(hidden_size, hidden_size)
            self.key = nn.Linear(hidden_size, hidden_size)
            self.value = nn.Linear(hidden_size, hidden_size)
            self.output_proj = nn.Linear(hidden_size, hidden_size)
        elif aggregation_method not in ("average", "last_layer"):
            raise ValueError(f"Unknown aggregation method: {aggregation_method}")

    def forward(self, hidden_states_list: list[torch.Tensor]) -> torch.Tensor:
        if self.aggregation_method == "last_layer":
            return hidden_states_list[-1]
        if self.aggregation_method == "average":
            return torch.stack(hidden_states_list, dim=0).mean(dim=0)
        stacked = torch.stack(hidden_states_list, dim=1)
        batch_size, num_layers, seq_len, hidden_size = stacked.shape
        stacked = stacked.permute(0, 2, 1, 3).reshape(-1, num_layers, hidden_size)
        query = self.query(stacked.mean(dim=1, keepdim=True))
        key = self.key(stacked)
        value = self.value(stacked)
        scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(hidden_size)
        attn_weights = F.softmax(scores, dim=-1)
        attended = torch.matmul(attn_weights, value).squeeze(1)
        attended = self.output_proj(attended)
        return attended.reshape(batch_size, seq_len, hidden_size)


class SecurityAnalyzer(nn.Module):
    """deepguard/train.py:65-113 (the init is irrelevant: the TS weights are loaded over it)."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 4, embed_dim: int = 128,
                 aggregation_method: str = "attention"):
        super().__init__()
        self.security_embeddings = nn.Embedding(vocab_size, embed_dim)
        self.aggregation_method = aggregation_method
        self.num_layers = num_layers
        self.layer_aggregator = MultiLayerAggregator(num_layers, hidden_size, aggregation_method)
        self.context_processor = nn.Sequential(
            nn.Linear(hidden_size + embed_dim, 512), nn.LayerNorm(512), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(512, 256), nn.LayerNorm(256), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid())

    def forward(self, hidden_states_list: list[torch.Tensor], input_ids: torch.Tensor) -> torch.Tensor:
        if self.aggregation_method == "last_layer" and len(hidden_states_list) > 1:
            hidden_states_list = [hidden_states_list[-1]]
        aggregated_hidden = self.layer_aggregator(hidden_states_list)
        security_embeds = self.security_embeddings(input_ids)
        combined = torch.cat([aggregated_hidden, security_embeds], dim=-1)
        return self.context_processor(combined).squeeze(-1)


def upstream_name(ts_name: str) -> str:
    prefix, _, leaf = ts_name.rpartition(".")
    if prefix not in NAME_MAP:
        raise ValueError(f"security component {ts_name} has no upstream counterpart")
    return f"{NAME_MAP[prefix]}.{leaf}"


def load_analyzer(adapter_dir: Path) -> SecurityAnalyzer:
    config = json.loads((adapter_dir / "security_config.json").read_text())
    analyzer = SecurityAnalyzer(int(config["vocab_size"]), int(config["hidden_size"]),
                                int(config["num_layers"]), int(config.get("security_embed_dim", 128)),
                                config["aggregation"])
    tensors = load_file(str(adapter_dir / "security_components.safetensors"))
    state = {upstream_name(k): v.to(torch.float32) for k, v in tensors.items() if k != "token_security_stats"}
    analyzer.load_state_dict(state, strict=True)
    return analyzer.eval()


def compute_loss(model: PeftModel, analyzer: SecurityAnalyzer, num_layers: int, pad_token_id: int,
                 batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SecurityAwareLoRAModel.compute_loss (deepguard/train.py:195-282), use_kl_loss = True."""
    labels_secure = batch["input_ids_secure"].clone()
    labels_secure[labels_secure == pad_token_id] = -100
    outputs_secure = model(input_ids=batch["input_ids_secure"], attention_mask=batch["attention_mask_secure"],
                           labels=labels_secure, output_hidden_states=True, return_dict=True)
    generation_loss = outputs_secure.loss
    with torch.no_grad():
        outputs_vulnerable = model(input_ids=batch["input_ids_vulnerable"],
                                   attention_mask=batch["attention_mask_vulnerable"],
                                   output_hidden_states=True, return_dict=True)
    hidden_states_secure = list(outputs_secure.hidden_states[-num_layers:])
    hidden_states_vulnerable = list(outputs_vulnerable.hidden_states[-num_layers:])
    scores_secure = analyzer(hidden_states_secure, batch["input_ids_secure"])
    scores_vulnerable = analyzer(hidden_states_vulnerable, batch["input_ids_vulnerable"])
    security_loss = F.relu(0.5 - (scores_secure.mean() - scores_vulnerable.mean()))

    model.disable_adapter_layers()
    with torch.no_grad():
        ref_outputs = model(input_ids=batch["input_ids_secure"], attention_mask=batch["attention_mask_secure"],
                            output_hidden_states=False)
        ref_probs = F.softmax(ref_outputs.logits, dim=-1)
    model.enable_adapter_layers()
    current_probs = F.softmax(outputs_secure.logits, dim=-1)
    kl_div = torch.sum(ref_probs * (torch.log(ref_probs + 1e-8) - torch.log(current_probs + 1e-8)), dim=-1)
    valid_mask = (batch["input_ids_secure"] != pad_token_id).float()
    kl_unclamped = (kl_div * valid_mask).sum() / valid_mask.sum()
    kl_loss = torch.clamp(kl_unclamped, max=1.0)

    total_loss = generation_loss + 0.5 * security_loss
    if kl_loss > 0:
        total_loss = total_loss + 1.0 * kl_loss
    return {"gen": generation_loss, "sec": security_loss, "kl": kl_loss, "total": total_loss,
            "s_sec": scores_secure.mean(), "s_vul": scores_vulnerable.mean(), "kl_unclamped": kl_unclamped}


def main() -> int:
    parser = make_parser(__doc__)
    add_paths(parser, **LOSS_INPUTS, out="gradients .safetensors (float32)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    require_loss_inputs(args)

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    pad_token_id = tokenizer.pad_token_id
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    config = PeftConfig.from_pretrained(str(args.adapter))
    config.lora_dropout = 0.0
    model = PeftModel.from_pretrained(base, str(args.adapter), config=config, is_trainable=True).eval()
    analyzer = load_analyzer(args.adapter)

    data = json.loads(args.batch.read_text())
    missing = [k for k in BATCH_KEYS if k not in data]
    if missing:
        sys.exit(f"error: {args.batch}: missing keys {missing}")
    batch = {}
    for side in ("secure", "vulnerable"):
        batch[f"input_ids_{side}"] = torch.tensor(data[f"{side}_input_ids"], dtype=torch.long)
        batch[f"attention_mask_{side}"] = torch.tensor(data[f"{side}_attention_mask"], dtype=torch.long)

    losses = compute_loss(model, analyzer, analyzer.num_layers, pad_token_id, batch)
    losses["total"].backward()
    grads: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            grads[name.replace(".default.", ".")] = p.grad.detach().float().contiguous()
    inverse = {v: k for k, v in NAME_MAP.items()}
    for name, p in analyzer.named_parameters():
        prefix, _, leaf = name.rpartition(".")
        grads[f"{inverse[prefix]}.{leaf}"] = (
            p.grad if p.grad is not None else torch.zeros_like(p)).detach().float().contiguous()
    save_file(grads, str(args.out), metadata={"format": "pt"})
    values = {**{k: v.item() for k, v in losses.items()}, "pad_token_id": pad_token_id}
    if args.json:
        args.json.write_text(json.dumps(values, indent=1) + "\n")
    print(json.dumps(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
