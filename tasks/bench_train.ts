/**
 * `deno task bench:train [--pairs 2] [--seq-len 128] [--steps 3] [--checkpointing] [--model DIR]
 *  [--out FILE]`
 *
 * Step time of one DeepGuard training step, TS vs transformers + PEFT, on a random checkpoint with
 * a real model's shape (default: the Qwen2.5-Coder-0.5B-shaped fp32 one of `bench:generate`, CPU;
 * `--shape`, `--dtype bf16` and `--device cuda` for the GPU runs of docs/gpu.md). Both sides train the same
 * adapter (r 16, α 32, q/v targets, attention aggregation over the last 4 layers, saved by the TS
 * side and loaded by tools/bench_train_ref.py) on the same batch of `--pairs` seeded random
 * (secure, vulnerable) rows of `--seq-len` tokens. A step: the loss (secure forward with hidden
 * states, vulnerable forward without gradient, adapter-free reference forward for KL), backward,
 * clipping to 1.0, AdamW. Dropout off on both sides. Each side: one warm-up step, then `--steps`
 * timed steps; the TS steps run first, then the Python process (never concurrently). Each side
 * also reports its process's peak resident memory (Linux: VmHWM / ru_maxrss; model load
 * included) and, on CUDA, its caching allocator's peak (`deno_peak_gpu_mb`, `torch_peak_gpu_mb`).
 * `--checkpointing` turns on gradient checkpointing on both sides (transformers'
 * non-reentrant `gradient_checkpointing_enable` in Python). Writes bench/results/train.json (or
 * `--out`).
 *
 * @module
 */

import { cuda, getNumThreads, manualSeed, randint, tidy } from "../ffi/mod.ts";
import { AdamW } from "../lib/nn/mod.ts";
import { batchJson, makeBatch, sideTensors } from "../lib/train/batch.ts";
import { SecurityAwareLoRAModel } from "../lib/train/security_model.ts";
import { BENCH_MODEL_FLAGS, benchModelFromFlags } from "./bench_model.ts";
import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";
import { venvPythonJson } from "../lib/util/python.ts";
import { cudaIndex } from "../lib/util/device.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  pairs: { type: "int", min: 1, default: 2, help: "(secure, vulnerable) pairs in the batch" },
  "seq-len": { type: "int", min: 1, default: 128, help: "tokens per row" },
  steps: { type: "int", min: 1, default: 3, help: "timed steps per side after one warm-up step" },
  checkpointing: { type: "boolean", help: "gradient checkpointing on both sides" },
  ...BENCH_MODEL_FLAGS,
  out: { type: "outFile", default: `${ROOT}/bench/results/train.json`, help: "report" },
}, { name: "bench:train" });

interface RefResult {
  step_seconds: number[];
  min_s: number;
  median_s: number;
  threads: number;
  attn_implementation: string;
  loss: number;
  peak_rss_mb: number;
  peak_gpu_mb: number | null;
}

/** Peak resident memory of this process in MiB (VmHWM), or null off Linux. */
function peakRssMb(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Median (mean of the two middle values for an even count, as Python's statistics.median). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values } = cli.parse(Deno.args);
    const { pairs, steps } = values;
    const seqLen = values["seq-len"];
    const { dir: modelDir, name, device, dtype } = await benchModelFromFlags(values);
    const work = await Deno.makeTempDir({ prefix: "dg_bench_train_" });
    try {
      manualSeed(0);
      const m = await SecurityAwareLoRAModel.create(modelDir, {
        aggregation: "attention",
        layers: 4,
        lora: { dropout: 0 },
        analyzerDropout: 0,
        dtype,
        device,
      });
      m.train(false);
      await m.save(`${work}/adapter`);
      const high = Math.min(m.tokenizer.vocabSize, m.lm.config.vocabSize);
      const row = () => randint(0, high, [seqLen]).toNumbers();
      const host = makeBatch(
        Array.from({ length: pairs }, (_, index) => ({
          index,
          secure: row(),
          vulnerable: row(),
          cwe: "bench",
        })),
        m.tokenizer.padTokenId ?? 0,
      );
      await Deno.writeTextFile(
        `${work}/batch.json`,
        batchJson(host),
      );
      const opt = new AdamW(m.trainableParameters(), { lr: 2e-5, weightDecay: 0.01 });
      const step = () =>
        tidy(() => {
          const b = {
            secure: sideTensors(host.secure, device),
            vulnerable: sideTensors(host.vulnerable, device),
          };
          const v = m.lossAndBackward(b, 1, values.checkpointing);
          opt.clipGradNorm(1.0);
          opt.step();
          opt.zeroGrad();
          const gpu = cudaIndex(device);
          if (gpu !== null) cuda.synchronize(gpu);
          return v.total;
        });
      let loss = step();
      const denoSeconds: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        loss = step();
        denoSeconds.push((performance.now() - t0) / 1000);
        console.error(`deno step ${i + 1}/${steps}: ${denoSeconds[i].toFixed(2)} s, loss ${loss}`);
      }
      const denoPeakRss = peakRssMb();
      // the caching allocator's peak over the whole run (load, warm-up and timed steps)
      const gpuIndex = cudaIndex(device);
      const denoPeakGpu = gpuIndex === null
        ? null
        : Number((cuda.memory(gpuIndex).peak / 2 ** 20).toFixed(1));
      m.dispose();

      const ref = await venvPythonJson<RefResult>("tools/bench_train_ref.py", [
        `${ROOT}/tools/bench_train_ref.py`,
        "--model",
        modelDir,
        "--adapter",
        `${work}/adapter`,
        "--batch",
        `${work}/batch.json`,
        "--steps",
        String(steps),
        ...(values.checkpointing ? ["--checkpointing"] : []),
        "--device",
        device,
        "--dtype",
        dtype,
      ]);
      console.error(`transformers+peft steps: ${ref.step_seconds.join(", ")} s, loss ${ref.loss}`);
      const report = {
        shape: name,
        device,
        dtype,
        pairs,
        seq_len: seqLen,
        gradient_checkpointing: values.checkpointing,
        deno_threads: getNumThreads(),
        torch_threads: ref.threads,
        torch_attn_implementation: ref.attn_implementation,
        cpus: navigator.hardwareConcurrency,
        load_average_at_end: Deno.loadavg(),
        deno_step_seconds: denoSeconds.map((s) => Number(s.toFixed(3))),
        torch_step_seconds: ref.step_seconds,
        deno_median_s: Number(median(denoSeconds).toFixed(3)),
        torch_median_s: ref.median_s,
        speedup: Number((ref.median_s / median(denoSeconds)).toFixed(3)),
        deno_loss_after: loss,
        torch_loss_after: ref.loss,
        deno_peak_rss_mb: denoPeakRss,
        deno_peak_gpu_mb: denoPeakGpu,
        torch_peak_rss_mb: ref.peak_rss_mb,
        torch_peak_gpu_mb: ref.peak_gpu_mb,
        note:
          "one DeepGuard step (3 forwards, backward, clip, AdamW), dropout off; median of the " +
          "timed steps after a warm-up step; speedup = torch / deno; the two losses are after " +
          "steps+1 updates of the same adapter on the same batch and should agree closely",
      };
      await Deno.mkdir(values.out.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
      console.log(JSON.stringify(report, null, 2));
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
}
