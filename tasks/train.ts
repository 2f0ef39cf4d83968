/**
 * `deno task train --model DIR --data DIR --out DIR [flags]`: train a DeepGuard security-aware
 * LoRA adapter (see docs/training.md). Every hyper-parameter defaults to DeepGuard's value.
 *
 * @module
 */
import { DEFAULT_TRAIN_CONFIG as D, train, type TrainConfig } from "../lib/train/mod.ts";
import type { Aggregation } from "../lib/aggregator/mod.ts";
import type { Device } from "../ffi/mod.ts";
import { numberFlag, parseFlags, runMain, UsageError } from "../lib/util/cli.ts";

const USAGE = `usage: deno task train --model DIR --data DIR --out DIR [options]

  --model DIR              base model (HF layout: config.json, model.safetensors, tokenizer.json)
  --data DIR               SVEN layout: train/*.jsonl + val/*.jsonl, or train.jsonl + val.jsonl
  --out DIR                output: checkpoint/, best/, train_log.jsonl
  --aggregation NAME       attention | weighted | concat | average | last_layer (${D.aggregation})
  --layers N               last N hidden states aggregated (${D.layers})
  --lora-rank N            (${D.loraRank})      --lora-alpha X (${D.loraAlpha})
  --lora-dropout P         (${D.loraDropout})   --targets a,b,c (q_proj,v_proj for qwen2; q,k,v,o for llama)
  --lr X                   peak learning rate (${D.lr}); warm-up ${
  D.warmupRatio * 100
}% then linear decay
  --weight-decay X (${D.weightDecay})  --max-grad-norm X (${D.maxGradNorm})  --warmup-ratio X (${D.warmupRatio})
  --batch-size N (${D.batchSize})  --grad-acc N (${D.gradAcc})  --epochs N (${D.epochs})  --patience N (${D.patience})
  --max-length N           skip pairs with a side longer than N tokens (${D.maxLength})
  --max-steps N            stop after N optimizer steps (0 = no limit)
  --no-kl                  drop the KL term      --sec-weight X (${D.secWeight})  --kl-weight X (${D.klWeight})
  --dtype f32|bf16         base weights dtype (adapters/optimizer stay f32) (${D.dtype})
  --device cpu|cuda[:N]    (${D.device})
  --grad-checkpointing     recompute decoder layers in backward (less memory)
  --seed N (${D.seed})   --resume   --save-every N (${D.saveEvery})   --max-val-batches N (all)
  --threads N              libtorch threads (default: libtorch's)   --quiet
`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, {
    model: { type: "string" },
    data: { type: "string" },
    out: { type: "string" },
    aggregation: { type: "string" },
    layers: { type: "string" },
    "lora-rank": { type: "string" },
    "lora-alpha": { type: "string" },
    "lora-dropout": { type: "string" },
    targets: { type: "string" },
    lr: { type: "string" },
    "weight-decay": { type: "string" },
    "max-grad-norm": { type: "string" },
    "warmup-ratio": { type: "string" },
    "batch-size": { type: "string" },
    "grad-acc": { type: "string" },
    epochs: { type: "string" },
    patience: { type: "string" },
    "max-length": { type: "string" },
    "max-steps": { type: "string" },
    "no-kl": { type: "boolean" },
    "sec-weight": { type: "string" },
    "kl-weight": { type: "string" },
    dtype: { type: "string" },
    device: { type: "string" },
    "grad-checkpointing": { type: "boolean" },
    seed: { type: "string" },
    resume: { type: "boolean" },
    "save-every": { type: "string" },
    "max-val-batches": { type: "string" },
    threads: { type: "string" },
    quiet: { type: "boolean" },
  });
  const str = (name: string) => flags.values[name] as string | undefined;
  const model = str("model"), data = str("data"), out = str("out");
  if (!model || !data || !out) throw new UsageError("--model, --data and --out are required");
  // Numbers are only parsed here; ranges are checked by train() (TrainConfigError names the flag).
  const num = (name: string, dflt: number) => numberFlag(flags, name, dflt);
  const cfg: Partial<TrainConfig> & Pick<TrainConfig, "model" | "data" | "out"> = {
    model,
    data,
    out,
    aggregation: (str("aggregation") ?? D.aggregation) as Aggregation,
    layers: num("layers", D.layers),
    loraRank: num("lora-rank", D.loraRank),
    loraAlpha: num("lora-alpha", D.loraAlpha),
    loraDropout: num("lora-dropout", D.loraDropout),
    targets: str("targets") ? str("targets")!.split(",").map((s) => s.trim()) : null,
    lr: num("lr", D.lr),
    weightDecay: num("weight-decay", D.weightDecay),
    maxGradNorm: num("max-grad-norm", D.maxGradNorm),
    warmupRatio: num("warmup-ratio", D.warmupRatio),
    batchSize: num("batch-size", D.batchSize),
    gradAcc: num("grad-acc", D.gradAcc),
    epochs: num("epochs", D.epochs),
    patience: num("patience", D.patience),
    maxLength: num("max-length", D.maxLength),
    maxSteps: num("max-steps", D.maxSteps),
    kl: flags.values["no-kl"] !== true,
    secWeight: num("sec-weight", D.secWeight),
    klWeight: num("kl-weight", D.klWeight),
    dtype: (str("dtype") ?? D.dtype) as TrainConfig["dtype"],
    device: (str("device") ?? D.device) as Device,
    gradCheckpointing: flags.values["grad-checkpointing"] === true,
    seed: num("seed", D.seed),
    resume: flags.values.resume === true,
    saveEvery: num("save-every", D.saveEvery),
    maxValBatches: num("max-val-batches", D.maxValBatches),
    threads: num("threads", D.threads),
  };
  // A failure mid-run may leave the progress bar's line open: start the error on a fresh line.
  const r = await train(cfg, { quiet: flags.values.quiet === true }).catch((e) => {
    console.error();
    throw e;
  });
  const summary = {
    steps: r.steps,
    steps_this_run: r.stepsThisRun,
    stopped_by: r.stoppedBy,
    first_loss: r.firstLoss,
    last_loss: r.lastLoss,
    best_val_loss: r.bestVal,
    best_dir: r.bestDir,
    train_pairs: r.trainPairs,
    skipped_train: r.skippedTrain,
    val_pairs: r.valPairs,
    skipped_val: r.skippedVal,
    steps_per_second: r.stepsPerSecond,
  };
  console.log(JSON.stringify(summary));
});
