/**
 * `deno task train --method prefix --model DIR --data DIR --out DIR`: train SVEN's security
 * prefix (lib/prefix/train.ts). Defaults are upstream's `runs/train.py`; n_prefix, epochs and the
 * KL ratio follow the model's parameter count unless given. The result's `checkpoint-last` is
 * the `--adapter` of `eval --method prefix`.
 * @module
 */
import { trainPrefix, UPSTREAM_PREFIX_TRAIN as U } from "../lib/prefix/train.ts";
import { DataError } from "../lib/train/data.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";

const cli = defineFlags({
  method: { type: "choice", choices: ["prefix"], required: true, help: "prefix: SVEN's prefix" },
  model: { type: "path", kind: "dir", required: true, help: "base model (HF layout)" },
  data: {
    type: "path",
    kind: "dir",
    required: true,
    help: "SVEN layout: train/ and val/ *.jsonl (func_src_*, char_changes, line_changes)",
  },
  out: {
    type: "outDir",
    required: true,
    help: "output: checkpoint-epoch-N/ and checkpoint-last/ (prefix_config.json + safetensors)",
  },
  "n-prefix": { type: "int", min: 1, help: "prefix positions (default by size: 5, 8 or 12)" },
  epochs: { type: "int", min: 1, help: "epochs (default by size: 8, 5 or 5)" },
  "kl-ratio": { type: "float", min: 0, help: "KL weight ×1000 (default by size: 1600 or 2000)" },
  "contrastive-ratio": {
    type: "float",
    min: 0,
    default: U.contrastiveRatio,
    help: "contrastive weight ×100",
  },
  lr: { type: "float", above: 0, default: U.lr, help: "peak learning rate (linear decay)" },
  "weight-decay": { type: "float", min: 0, default: U.weightDecay, help: "AdamW weight decay" },
  "grad-acc": { type: "int", min: 1, default: U.gradAcc, help: "examples per optimizer step" },
  "max-grad-norm": { type: "float", above: 0, default: U.maxGradNorm, help: "gradient clip" },
  "max-tokens": { type: "int", min: 2, default: U.maxTokens, help: "skip longer functions" },
  dropout: { type: "float", min: 0, max: 1, default: U.dropout, help: "prefix dropout" },
  seed: { type: "int", min: 0, default: U.seed, help: "seed (shuffle, dropout)" },
  "max-steps": { type: "int", min: 0, default: 0, help: "stop after N steps (0 = no limit)" },
  dtype: { type: "choice", choices: ["f32", "bf16"], default: "f32", help: "base weights dtype" },
  device: { type: "device", help: "where training runs" },
}, { name: "train" });

/** Parses `args` and trains; prints a JSON summary. */
export async function runPrefixTrain(args: string[]): Promise<void> {
  await runMain(cli.usage, async () => {
    const { values: v } = cli.parse(args);
    const r = await trainPrefix({
      model: v.model,
      data: v.data,
      out: v.out,
      nPrefix: v["n-prefix"],
      epochs: v.epochs,
      klRatio: v["kl-ratio"],
      contrastiveRatio: v["contrastive-ratio"],
      lr: v.lr,
      weightDecay: v["weight-decay"],
      gradAcc: v["grad-acc"],
      maxGradNorm: v["max-grad-norm"],
      maxTokens: v["max-tokens"],
      dropout: v.dropout,
      seed: v.seed,
      maxSteps: v["max-steps"],
      dtype: v.dtype,
      device: v.device,
      onStep: (l) =>
        console.error(
          `step ${l.step}/${l.total} loss ${l.loss.toFixed(4)} (lm ${l.lm.toFixed(4)}, ` +
            `contrastive ${l.contrastive.toFixed(4)}, kl ${l.kl.toFixed(6)})`,
        ),
      onEpoch: (e) =>
        console.error(
          `epoch ${e.epoch}: val ` +
            (e.val
              ? `loss ${e.val.loss.toFixed(4)} (lm ${e.val.lm.toFixed(4)}, contrastive ` +
                `${e.val.contrastive.toFixed(4)}, kl ${e.val.kl.toFixed(6)})`
              : "none (no usable val example)"),
        ),
    }).catch((e) => {
      throw e instanceof DataError ? new UsageError(e.message) : e;
    });
    console.log(JSON.stringify(r));
  });
}
