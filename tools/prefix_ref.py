"""Python oracle for SVEN's prefix: a transcription of upstream unknownhl/DeepGuard
`sven/model.py` (`Qwen2Prefix` / `CodeLlamaPrefix`: prefix_params, get_past_from_prefix),
`sven/trainer.py` (`get_logits_from_lm` L162-171, `token_weighted_loss` L173-187,
`PrefixTrainer.step` L206-256) and `sven/dataset.py` (`PrefixDataset.get_tensor` L80-108), run
with transformers. The prefix is read from a directory written by lib/prefix/params.ts
(prefix_config.json + prefix.safetensors, tensors `prefix_params.{i}` in upstream's order).

Usage: prefix_ref.py loss SPEC.json      ->  {"loss", "lm", "contrastive", "kl", "grads": {name: [...]}}
       prefix_ref.py generate SPEC.json  ->  {"tokens": [...]}  (greedy)
       prefix_ref.py data SPEC.json      ->  {"examples": [[ids, weights, control] or null, ...]}
       prefix_ref.py train SPEC.json     ->  {"losses": [...], "params": {name: [...]}}

The past is handed to transformers 5 as a DynamicCache filled with the same tensors (upstream's
legacy tuple of (key, value) per layer is no longer accepted); the model places the input after
it (positions from the past length), as upstream's forward did.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache


class Prefix(torch.nn.Module):
    """sven/model.py L187-205: prefix_params ParameterList + dropout."""

    def __init__(self, prefix_dir):
        super().__init__()
        self.config = json.load(open(f"{prefix_dir}/prefix_config.json"))
        tensors = load_file(f"{prefix_dir}/prefix.safetensors")
        n = self.config["n_control"] * self.config["num_hidden_layers"] * 2
        self.prefix_params = torch.nn.ParameterList(
            [torch.nn.Parameter(tensors[f"prefix_params.{i}"].float()) for i in range(n)]
        )
        self.dropout = torch.nn.Dropout(self.config["prefix_dropout"])

    def get_past_from_prefix(self, control_ids):
        """L207-216, returned as a DynamicCache."""
        layers = self.config["num_hidden_layers"]
        cache = DynamicCache()
        for layer in range(layers):
            key_list, val_list = [], []
            for cid in control_ids:
                idx = cid * layers * 2 + layer * 2
                key_list.append(self.dropout(self.prefix_params[idx]))
                val_list.append(self.dropout(self.prefix_params[idx + 1]))
            cache.update(torch.stack(key_list), torch.stack(val_list), layer)
        return cache


def load(spec):
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    if spec.get("resize", True):
        model.resize_token_embeddings(len(tokenizer))  # sven/model.py L461
    for p in model.parameters():
        p.requires_grad = False  # PrefixTrainer.load_model L192-200
    return tokenizer, model, Prefix(spec["prefix"])


def get_logits_from_lm(lm, prefix, inputs, control_ids):
    """trainer.py L162-171."""
    past = prefix.get_past_from_prefix(control_ids) if control_ids is not None else None
    outputs = lm(inputs, past_key_values=past)
    shift_logits = outputs.logits[..., :-1, :]
    shift_labels = inputs[..., 1:].unsqueeze(-1)
    shift_probs = F.softmax(shift_logits, dim=-1)
    return shift_logits.squeeze(0), torch.gather(shift_probs, 2, shift_labels).squeeze(-1).squeeze(0)


def token_weighted_loss(loss_type, inputs, targets, weights):
    """trainer.py L173-187."""
    if loss_type == "cross_entropy":
        loss_fct = torch.nn.CrossEntropyLoss(reduction="none")
    elif loss_type == "nll":
        loss_fct = torch.nn.NLLLoss(reduction="none")
    elif loss_type == "kl":
        loss_fct = torch.nn.KLDivLoss(log_target=True, reduction="none")
    loss = loss_fct(inputs, targets)
    if loss_type == "kl":
        loss = loss.sum(dim=1)
    loss = loss[weights != 0]
    return loss.mean()


def prefix_step(model, prefix, ids, weights, control, spec):
    """PrefixTrainer.step (L206-256): the loss and its three terms."""
    inputs = torch.tensor([ids])
    weights = torch.tensor([weights])
    control_ids = torch.tensor([control])
    shift_inputs = inputs[..., 1:].squeeze(0)
    shift_weights = weights[..., 1:].squeeze(0)

    correct_logits, correct_label_probs = get_logits_from_lm(model, prefix, inputs, control_ids)
    lm_loss = token_weighted_loss("cross_entropy", correct_logits, shift_inputs, shift_weights)
    lm_loss *= spec["lm_ratio"]

    incorrect_control_ids = -1 * (control_ids - 1)
    incorrect_logits, incorrect_label_probs = get_logits_from_lm(
        model, prefix, inputs, incorrect_control_ids
    )
    contrastive_probs = torch.stack((correct_label_probs, incorrect_label_probs), dim=1)
    contrastive_probs = F.normalize(contrastive_probs, p=1, dim=-1)
    contrastive_log_probs = torch.log(contrastive_probs)
    contrastive_labels = torch.zeros(shift_inputs.shape, dtype=torch.int64)
    contrastive_loss = token_weighted_loss(
        "nll", contrastive_log_probs, contrastive_labels, shift_weights
    )
    contrastive_loss *= spec["contrastive_ratio"] / 100

    correct_log_probs = F.log_softmax(correct_logits, dim=-1)
    model.eval()
    with torch.no_grad():
        ref_logits, _ = get_logits_from_lm(model, prefix, inputs, None)
    model.train()
    ref_log_probs = F.log_softmax(ref_logits, dim=-1)
    kl_loss = token_weighted_loss("kl", correct_log_probs, ref_log_probs, 1 - shift_weights)
    incorrect_log_probs = F.log_softmax(incorrect_logits, dim=-1)
    kl_loss = kl_loss + token_weighted_loss(
        "kl", incorrect_log_probs, ref_log_probs, 1 - shift_weights
    )
    kl_loss = kl_loss * spec["kl_ratio"] / 1000
    return lm_loss + contrastive_loss + kl_loss, (lm_loss, contrastive_loss, kl_loss)


def loss(spec):
    """One PrefixTrainer.step + the division by grad_acc and backward (L110-115).
    SPEC: model, prefix, ids [T], weights [T], control, lm_ratio, contrastive_ratio, kl_ratio,
    grad_acc."""
    _, model, prefix = load(spec)
    model.train()
    prefix.train()
    total, (lm_loss, contrastive_loss, kl_loss) = prefix_step(
        model, prefix, spec["ids"], spec["weights"], spec["control"], spec
    )
    (total / spec["grad_acc"]).backward()
    grads = {
        f"prefix_params.{i}": p.grad.flatten().tolist()
        for i, p in enumerate(prefix.prefix_params)
    }
    print(json.dumps({
        "loss": total.item(),
        "lm": lm_loss.item(),
        "contrastive": contrastive_loss.item(),
        "kl": kl_loss.item(),
        "grads": grads,
    }))


def hf_adamw_step(params, state, lr, eps, weight_decay, betas=(0.9, 0.999)):
    """transformers 4.41.2 `AdamW.step` (correct_bias True), the optimizer of trainer.py L8, L86."""
    beta1, beta2 = betas
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            st = state.setdefault(id(p), {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            st["step"] += 1
            st["m"].mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
            st["v"].mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
            denom = st["v"].sqrt().add_(eps)
            step_size = lr * math.sqrt(1.0 - beta2 ** st["step"]) / (1.0 - beta1 ** st["step"])
            p.addcdiv_(st["m"], denom, value=-step_size)
            if weight_decay > 0.0:
                p.add_(p, alpha=(-lr * weight_decay))


def train(spec):
    """TrainerBase.run (L65-151) for the examples in the given per-epoch orders, up to max_steps
    optimizer steps: loss / grad_acc, backward, clip_grad_norm_ after every backward, an AdamW
    step every grad_acc-th example of an epoch at HF's linear schedule without warm-up.
    SPEC: model, prefix (the starting prefix), examples [[ids, weights, control]], orders
    [[index]], lr, weight_decay, grad_acc, max_grad_norm, max_steps, epochs, and the loss ratios."""
    _, model, prefix = load(spec)
    model.train()
    prefix.train()
    params = list(prefix.prefix_params)
    state = {}
    n, acc = len(spec["examples"]), spec["grad_acc"]
    total = n // acc * spec["epochs"]
    global_step, losses = 0, []
    for order in spec["orders"]:
        for step, idx in enumerate(order):
            ids, weights, control = spec["examples"][idx]
            loss_value, _ = prefix_step(model, prefix, ids, weights, control, spec)
            (loss_value / acc).backward()
            torch.nn.utils.clip_grad_norm_(params, spec["max_grad_norm"])
            losses.append(loss_value.item())
            if (step + 1) % acc == 0:
                lr = spec["lr"] * max(0.0, (total - global_step) / max(1, total))
                hf_adamw_step(params, state, lr, 1e-8, spec["weight_decay"])
                for p in params:
                    p.grad = None
                global_step += 1
                if global_step >= spec["max_steps"]:
                    break
        if global_step >= spec["max_steps"]:
            break
    print(json.dumps({
        "losses": losses,
        "params": {f"prefix_params.{i}": p.detach().flatten().tolist() for i, p in enumerate(params)},
    }))


def generate(spec):
    """Greedy decoding after the control's past (PrefixEvaler L194-196 with do_sample off): the
    prompt is fed after the past, then one token per step. SPEC: model, prefix, control,
    prompt_ids, max_new_tokens."""
    _, model, prefix = load({**spec, "resize": False})
    model.eval()
    prefix.eval()
    out = []
    with torch.no_grad():
        cache = prefix.get_past_from_prefix([spec["control"]])
        step_input = torch.tensor([spec["prompt_ids"]])
        for _ in range(spec["max_new_tokens"]):
            o = model(step_input, past_key_values=cache, use_cache=True)
            cache = o.past_key_values
            nxt = int(o.logits[0, -1].argmax())
            out.append(nxt)
            step_input = torch.tensor([[nxt]])
    print(json.dumps({"tokens": out}))


def data(spec):
    """DatasetBase (dataset.py L14-59, diff_level "mix") + PrefixDataset.get_tensor (L80-108)
    over every line of SPEC["files"]; SPEC: model, files, max_num_tokens."""
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    records = [json.loads(l) for path in spec["files"] for l in open(path) if l.strip()]
    sides = [
        (control_id, src, changes)
        for d in records
        for control_id, (src, changes) in enumerate(zip(
            [d["func_src_after"], d["func_src_before"]],
            [d["char_changes"]["added"], d["line_changes"]["deleted"]],
        ))
    ]
    out = []
    for control_id, src, changes in sides:
        be = tokenizer(src)  # encode_plus, removed in transformers 5
        tokens = be["input_ids"]
        if len(tokens) > spec["max_num_tokens"]:
            out.append(None)
            continue
        weights = [0] * len(tokens)
        for change in changes:
            char_start_idx = be.char_to_token(change["char_start"])
            char_end = change["char_end"]
            char_end_idx = be.char_to_token(char_end - 1) if char_end > 0 else None
            if char_start_idx is None or char_end_idx is None:
                continue
            start = max(0, min(char_start_idx, len(weights) - 1))
            end = max(0, min(char_end_idx, len(weights) - 1))
            for char_idx in range(start, end + 1):
                weights[char_idx] = 1
        keep = 1 <= sum(weights) <= len(tokens) - 1  # min_changed_tokens 1, both ways
        out.append([tokens, weights, control_id] if keep else None)
    print(json.dumps({"examples": out}))


if __name__ == "__main__":
    {"loss": loss, "generate": generate, "data": data, "train": train}[sys.argv[1]](json.load(open(sys.argv[2])))
