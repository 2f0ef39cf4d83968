"""Python oracle for CoSec co-decoding: a transcription of upstream unknownhl/DeepGuard
`cosec/CustomizedGeneration.py` `sample_with_experts` (L1147-1337) with the warpers
`generate_with_experts` builds for the expert (L919-927: top_k 0, top_p, min_p 0.0,
temperature exp_temp), run with transformers (+ PEFT for an adapter expert).

Usage: cosec_ref.py decode SPEC.json  ->  one JSON line {"tokens": [[...]], "accepted": [[...]]}
       cosec_ref.py loss SPEC.json    ->  one JSON line {"loss", "lm", "kl", "grads": {name: [...]}}
       cosec_ref.py train SPEC.json   ->  one JSON line {"losses": [...], "weights": {name: [...]}}
       cosec_ref.py data SPEC.json    ->  one JSON line {"examples": [ids, weights] or null per line}

SPEC: base, expert (HF dir or PEFT adapter dir), expert_base (for an adapter), prompt_ids,
rows, max_new_tokens, eos_id, pad_id, threshold, exp_temp, exp_top_p, and either
"uniforms" [step][row][2] (draw = inverse CDF: index of the first cumulative probability
above u; [.., 0] for the expert, [.., 1] for the base) or "seed" (torch.manual_seed, then
torch.multinomial as upstream).
"""
import json
import sys

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)


def load(spec):
    base = AutoModelForCausalLM.from_pretrained(spec["base"], dtype=torch.float32)
    # sven/evaler.py L298, L310-312: the expert base is resized to its tokenizer's length, then
    # PEFT. The shrink is emulated by dropping the logits past that length, keeping the rows
    # so that a base token in them can still be fed to the expert; upstream would fail on one
    # (trained checkpoints give those ids ~0 probability, random tiny ones do not).
    expert_dir = spec.get("expert_base") or spec["expert"]
    expert = AutoModelForCausalLM.from_pretrained(expert_dir, dtype=torch.float32)
    n_tok = len(AutoTokenizer.from_pretrained(expert_dir))
    if spec.get("expert_base"):
        from peft import PeftModel

        expert = PeftModel.from_pretrained(expert, spec["expert"])
    return base.eval(), expert.eval(), n_tok


def decode(spec):
    base, expert, n_tok = load(spec)
    rows = spec["rows"]
    uniforms = spec.get("uniforms")
    if uniforms is None:
        torch.manual_seed(spec["seed"])

    def draw(probs, step, which):
        if uniforms is None:
            return torch.multinomial(probs, num_samples=1)
        u = torch.tensor([[uniforms[step][r][which]] for r in range(rows)], dtype=torch.float32)
        idx = (probs.cumsum(-1) < u).sum(-1, keepdim=True)
        return idx.clamp(max=probs.shape[-1] - 1)

    # L919-927 + L979-986: temperature, (top_k 0: none), top_p, min_p 0.0
    warper = LogitsProcessorList([
        TemperatureLogitsWarper(spec["exp_temp"]),
        TopPLogitsWarper(top_p=spec["exp_top_p"], min_tokens_to_keep=1),
        MinPLogitsWarper(min_p=0.0, min_tokens_to_keep=1),
    ])
    input_ids = torch.tensor([spec["prompt_ids"]] * rows)
    pad = spec["pad_id"]
    eos = spec["eos_id"]
    unfinished = torch.ones(rows, dtype=torch.long)
    past_b = past_e = None
    step_input = input_ids
    out_tokens, out_acc = [], []
    with torch.no_grad():
        for step in range(spec["max_new_tokens"]):
            ob = base(step_input, past_key_values=past_b, use_cache=True)
            oe = expert(step_input, past_key_values=past_e, use_cache=True)
            past_b, past_e = ob.past_key_values, oe.past_key_values
            next_token_logits = ob.logits[:, -1, :].float()
            next_token_logits_expert = oe.logits[:, -1, :n_tok].float()
            next_token_logits_expert = warper(input_ids, next_token_logits_expert)  # L1236
            exp_probs = F.softmax(next_token_logits_expert, dim=-1)  # L1238
            temp_token = draw(exp_probs, step, 0)  # L1239
            lm_probs = F.softmax(next_token_logits, dim=-1)  # L1276
            choose_token = torch.full_like(temp_token, -1)
            r = torch.ones(rows) * spec["threshold"]  # L1280
            ratio = torch.gather(lm_probs, 1, temp_token) / (
                torch.gather(exp_probs, 1, temp_token) + 1e-10)  # L1283-1287
            mask_ac = (r < torch.min(torch.tensor([1.0]), ratio.squeeze(1))).unsqueeze(1)
            choose_token[mask_ac] = temp_token[mask_ac]
            temp_lm_token = draw(lm_probs, step, 1)  # L1292
            choose_token[~mask_ac] = temp_lm_token[~mask_ac]
            next_tokens = choose_token.squeeze(1)
            next_tokens = next_tokens * unfinished + pad * (1 - unfinished)  # L1306
            input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
            out_tokens.append(next_tokens.tolist())
            out_acc.append(mask_ac.squeeze(1).tolist())
            unfinished = unfinished & (next_tokens != eos).long()
            if unfinished.max() == 0:
                break
            step_input = next_tokens[:, None]
    print(json.dumps({"tokens": out_tokens, "accepted": out_acc}))


def loss(spec):
    """cosec/train_lora_sec.py: main L245-274 (model, ref_model, resize, PEFT LoRA) and one
    step of train L158-202 (batch 1, gradient accumulation `grad_acc`). SPEC: model, adapter
    (PEFT dir with the starting LoRA weights), ids [T], weights [T], grad_acc."""
    from peft import PeftModel

    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    ref_model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer))  # L254
    ref_model.resize_token_embeddings(len(tokenizer))  # L255
    model = PeftModel.from_pretrained(model, spec["adapter"], is_trainable=True)
    model.train()
    ref_model.eval()
    inputs = torch.tensor([spec["ids"]])
    weights = torch.tensor([spec["weights"]])
    # --- L162-198, verbatim in substance ---
    shift_inputs = inputs[..., 1:].squeeze(0)
    shift_weights = weights[..., 1:].squeeze(0)
    outputs = model(inputs)
    shift_logits = outputs.logits[..., :-1, :]
    correct_logits = shift_logits.squeeze(0)
    loss_fct = torch.nn.CrossEntropyLoss(reduction="none")
    lm_loss = loss_fct(correct_logits, shift_inputs)
    lm_loss = lm_loss[shift_weights != 0]
    lm_loss = lm_loss.mean()
    kl_loss = 0
    shift_weights_ = 1 - shift_weights
    correct_log_probs = F.log_softmax(correct_logits, dim=-1)
    with torch.no_grad():
        ref_outputs = ref_model(inputs)
        ref_shift_logits = ref_outputs.logits[..., :-1, :]
        ref_logits = ref_shift_logits.squeeze(0)
    ref_log_probs = F.log_softmax(ref_logits, dim=-1)
    loss_fct = torch.nn.KLDivLoss(log_target=True, reduction="none")
    kl_loss_ = loss_fct(correct_log_probs, ref_log_probs)
    kl_loss_ = kl_loss_.sum(dim=1)
    kl_loss_ = kl_loss_[shift_weights_ != 0]
    kl_loss_ = kl_loss_.mean()
    kl_loss += kl_loss_
    loss_ = lm_loss + kl_loss
    out = {"loss": loss_.item(), "lm": lm_loss.item(), "kl": kl_loss.item()}
    if spec["grad_acc"] > 1:
        loss_ = loss_ / spec["grad_acc"]
    loss_.backward()
    grads = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = name.removeprefix("base_model.model.").replace(".default.", ".")
            grads[key] = p.grad.flatten().tolist()
    out["grads"] = grads
    print(json.dumps(out))


def train(spec):
    """cosec/train_lora_sec.py `train` (L123-217) from a saved adapter (`--resume_from_checkpoint`
    loads weights only, L276-289): AdamW (L137), HF linear warm-up schedule (L138-139), batch 1 in
    order, loss / grad_acc, clip after every backward (L204), step every grad_acc-th example of
    an epoch (L207-211). SPEC: model, adapter, examples [[ids, weights]], epochs, lr,
    warmup_steps, grad_acc, max_grad_norm, weight_decay. Prints the final LoRA weights."""
    from peft import PeftModel
    from torch.optim import AdamW
    from transformers import get_linear_schedule_with_warmup

    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    ref_model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer))
    ref_model.resize_token_embeddings(len(tokenizer))
    model = PeftModel.from_pretrained(model, spec["adapter"], is_trainable=True)
    examples = spec["examples"]
    grad_acc = spec["grad_acc"]
    total_steps = len(examples) // grad_acc * spec["epochs"]
    optimizer = AdamW(model.parameters(), lr=spec["lr"], eps=1e-8,
                      weight_decay=spec["weight_decay"])
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=spec["warmup_steps"],
                                                num_training_steps=total_steps)
    losses = []
    for _epoch in range(spec["epochs"]):
        model.train()
        ref_model.eval()
        for step, (ids, w) in enumerate(examples):
            inputs = torch.tensor([ids])
            weights = torch.tensor([w])
            shift_inputs = inputs[..., 1:].squeeze(0)
            shift_weights = weights[..., 1:].squeeze(0)
            outputs = model(inputs)
            correct_logits = outputs.logits[..., :-1, :].squeeze(0)
            lm_loss = torch.nn.CrossEntropyLoss(reduction="none")(correct_logits, shift_inputs)
            lm_loss = lm_loss[shift_weights != 0].mean()
            correct_log_probs = F.log_softmax(correct_logits, dim=-1)
            with torch.no_grad():
                ref_logits = ref_model(inputs).logits[..., :-1, :].squeeze(0)
            ref_log_probs = F.log_softmax(ref_logits, dim=-1)
            kl = torch.nn.KLDivLoss(log_target=True, reduction="none")(
                correct_log_probs, ref_log_probs).sum(dim=1)
            kl_loss = kl[(1 - shift_weights) != 0].mean()
            loss_ = lm_loss + kl_loss
            losses.append(loss_.item())
            if grad_acc > 1:
                loss_ = loss_ / grad_acc
            loss_.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec["max_grad_norm"])
            if (step + 1) % grad_acc == 0:
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step()
    weights = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = name.removeprefix("base_model.model.").replace(".default.", ".")
            weights[key] = p.detach().flatten().tolist()
    print(json.dumps({"losses": losses, "weights": weights}))


def data(spec):
    """cosec/data_proceess.py `add_data` (L62-109) with the fast tokenizer's char_to_token,
    over every line of SPEC["files"] in order; SPEC: model, files, max_num_tokens."""
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    out = []
    for path in spec["files"]:
        for line in open(path):
            if not line.strip():
                continue
            item = json.loads(line)
            src, changes = item["func_src_after"], item["char_changes"]["added"]
            encoded = tokenizer(src)  # encode_plus (L63), removed in transformers 5
            if len(encoded["input_ids"]) > spec["max_num_tokens"]:
                out.append(None)
                continue
            min_changed_tokens = 1  # L67: vul_type is a list, never 'cwe-invalid'/'cwe-valid'
            if len(changes) == 0:
                weights = [1] * len(encoded["input_ids"])
            else:
                weights = [0] * len(encoded["input_ids"])
            for change in changes:
                char_start = change["char_start"]
                char_start_idx = encoded.char_to_token(char_start)
                char_end = change["char_end"]
                char_end_idx = encoded.char_to_token(char_end - 1)
                if char_start_idx is None:
                    for i in range(char_start, min(char_end, len(src))):
                        char_start_idx = encoded.char_to_token(i)
                        if char_start_idx is not None:
                            break
                if char_end_idx is None:
                    for i in range(char_end - 1, max(char_start - 1, -1), -1):
                        char_end_idx = encoded.char_to_token(i)
                        if char_end_idx is not None:
                            break
                if char_start_idx is None or char_end_idx is None:
                    continue
                for char_idx in range(char_start_idx, char_end_idx + 1):
                    if char_idx < len(weights):
                        weights[char_idx] = 1
            if sum(weights) < min_changed_tokens:
                out.append(None)
                continue
            if len(encoded["input_ids"]) - sum(weights) < min_changed_tokens:
                out.append(None)
                continue
            out.append([encoded["input_ids"], weights])
    print(json.dumps({"examples": out}))


if __name__ == "__main__":
    {"decode": decode, "loss": loss, "data": data, "train": train}[sys.argv[1]](json.load(open(sys.argv[2])))
