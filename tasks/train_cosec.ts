/**
 * `deno task train --method cosec --model DIR --data DIR --out DIR`: train the CoSec security
 * expert (lib/cosec/train.ts). Every default is upstream's `cosec/train_lora_sec.py`; the
 * result's `checkpoint-last` is the `--expert` of `eval --method cosec`.
 * @module
 */
import { trainCoSec, UPSTREAM_COSEC_TRAIN as U } from "../lib/cosec/train.ts";
import { DataError } from "../lib/train/data.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";

const cli = defineFlags({
  method: { type: "choice", choices: ["cosec"], required: true, help: "cosec: the expert" },
  model: { type: "path", kind: "dir", required: true, help: "expert base model (HF layout)" },
  data: {
    type: "path",
    kind: "dir",
    required: true,
    help: "SVEN layout: train/*.jsonl or train.jsonl (func_src_after, char_changes)",
  },
  out: {
    type: "outDir",
    required: true,
    help: "output: checkpoint-epoch-N/ and checkpoint-last/ (PEFT adapter + tokenizer)",
  },
  epochs: { type: "int", min: 1, default: U.epochs, help: "epochs" },
  lr: { type: "float", above: 0, default: U.lr, help: "peak learning rate" },
  "weight-decay": { type: "float", min: 0, default: U.weightDecay, help: "AdamW weight decay" },
  "warmup-steps": { type: "int", min: 0, default: U.warmupSteps, help: "linear warm-up steps" },
  "grad-acc": { type: "int", min: 1, default: U.gradAcc, help: "examples per optimizer step" },
  "max-grad-norm": { type: "float", above: 0, default: U.maxGradNorm, help: "gradient clip" },
  "max-tokens": { type: "int", min: 2, default: U.maxTokens, help: "skip longer functions" },
  "lora-rank": { type: "int", min: 1, default: U.loraRank, help: "LoRA rank" },
  "lora-alpha": { type: "float", above: 0, default: U.loraAlpha, help: "LoRA alpha" },
  "lora-dropout": { type: "float", min: 0, max: 1, default: U.loraDropout, help: "LoRA dropout" },
  seed: { type: "int", min: 0, default: U.seed, help: "seed (LoRA init, dropout)" },
  "max-steps": { type: "int", min: 0, default: 0, help: "stop after N steps (0 = no limit)" },
  dtype: { type: "choice", choices: ["f32", "bf16"], default: "f32", help: "base weights dtype" },
  device: { type: "device", help: "where training runs" },
  "resume-from": {
    type: "path",
    kind: "dir",
    help: "start from this adapter's LoRA weights (upstream --resume_from_checkpoint)",
  },
}, { name: "train" });

/** Parses `args` and trains; prints a JSON summary. */
export async function runCoSecTrain(args: string[]): Promise<void> {
  await runMain(cli.usage, async () => {
    const { values: v } = cli.parse(args);
    const r = await trainCoSec({
      model: v.model,
      data: v.data,
      out: v.out,
      epochs: v.epochs,
      lr: v.lr,
      weightDecay: v["weight-decay"],
      warmupSteps: v["warmup-steps"],
      gradAcc: v["grad-acc"],
      maxGradNorm: v["max-grad-norm"],
      maxTokens: v["max-tokens"],
      loraRank: v["lora-rank"],
      loraAlpha: v["lora-alpha"],
      loraDropout: v["lora-dropout"],
      seed: v.seed,
      maxSteps: v["max-steps"],
      dtype: v.dtype,
      device: v.device,
      resumeFrom: v["resume-from"],
      onStep: (l) =>
        console.error(
          `step ${l.step}/${l.total} loss ${l.loss.toFixed(4)} (lm ${l.lm.toFixed(4)}, ` +
            `kl ${l.kl.toFixed(4)})`,
        ),
    }).catch((e) => {
      throw e instanceof DataError ? new UsageError(e.message) : e;
    });
    console.log(JSON.stringify(r));
  });
}
