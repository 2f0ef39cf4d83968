/**
 * `deno task train --model DIR --data DIR --out DIR [flags]`: train a DeepGuard security-aware
 * LoRA adapter (see docs/training.md). Every hyper-parameter defaults to DeepGuard's value.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_TRAIN_CONFIG as D, train, type TrainConfig } from "../lib/train/mod.ts";
import type { Aggregation } from "../lib/aggregator/mod.ts";
import type { Device } from "../ffi/mod.ts";

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

function num(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) {
    throw new Error(`--${flag}: expected a number, got "${v}"`);
  }
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
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
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.model || !values.data || !values.out) {
    console.error(`error: --model, --data and --out are required\n\n${USAGE}`);
    return 2;
  }
  try {
    const cfg: Partial<TrainConfig> & Pick<TrainConfig, "model" | "data" | "out"> = {
      model: values.model,
      data: values.data,
      out: values.out,
      aggregation: (values.aggregation ?? D.aggregation) as Aggregation,
      layers: num("layers", values.layers, D.layers),
      loraRank: num("lora-rank", values["lora-rank"], D.loraRank),
      loraAlpha: num("lora-alpha", values["lora-alpha"], D.loraAlpha),
      loraDropout: num("lora-dropout", values["lora-dropout"], D.loraDropout),
      targets: values.targets ? values.targets.split(",").map((s) => s.trim()) : null,
      lr: num("lr", values.lr, D.lr),
      weightDecay: num("weight-decay", values["weight-decay"], D.weightDecay),
      maxGradNorm: num("max-grad-norm", values["max-grad-norm"], D.maxGradNorm),
      warmupRatio: num("warmup-ratio", values["warmup-ratio"], D.warmupRatio),
      batchSize: num("batch-size", values["batch-size"], D.batchSize),
      gradAcc: num("grad-acc", values["grad-acc"], D.gradAcc),
      epochs: num("epochs", values.epochs, D.epochs),
      patience: num("patience", values.patience, D.patience),
      maxLength: num("max-length", values["max-length"], D.maxLength),
      maxSteps: num("max-steps", values["max-steps"], D.maxSteps),
      kl: !values["no-kl"],
      secWeight: num("sec-weight", values["sec-weight"], D.secWeight),
      klWeight: num("kl-weight", values["kl-weight"], D.klWeight),
      dtype: (values.dtype ?? D.dtype) as TrainConfig["dtype"],
      device: (values.device ?? D.device) as Device,
      gradCheckpointing: values["grad-checkpointing"] ?? false,
      seed: num("seed", values.seed, D.seed),
      resume: values.resume ?? false,
      saveEvery: num("save-every", values["save-every"], D.saveEvery),
      maxValBatches: num("max-val-batches", values["max-val-batches"], D.maxValBatches),
      threads: num("threads", values.threads, D.threads),
    };
    const r = await train(cfg, { quiet: values.quiet });
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
    return 0;
  } catch (e) {
    const err = e as Error;
    console.error(`\nerror (${err.name}): ${err.message}`);
    return 1;
  }
}

Deno.exit(await main());
