/**
 * `deno task bench:generate [--batches 1,20] [--new-tokens 64] [--prompt-len 32] [--runs 2] [--reps 2]
 *  [--seed 0] [--model DIR] [--out FILE]`
 *
 * Greedy generation throughput, TS vs transformers, on the same random Qwen2.5-Coder-0.5B-shaped
 * fp32 checkpoint (built once by tools/make_bench_model.py and cached under $TMPDIR/dg_bench/),
 * CPU, EOS stopping off, every row the same seeded random prompt (the TS prompt is drawn with
 * libtorch's generator exactly as tools/bench_generate_hf.py draws it, so both generate from the
 * same ids). This is the paper's sampling setting (n samples of one prompt): TS is given the prompt
 * once with `numReturnSequences: batch`, so it prefills once and repeats the cache rows, while HF
 * prefills all rows (what its `num_return_sequences` does too). For batch > 1 the TS time with the
 * rows passed separately (prefilled `batch` times, HF's work) is reported as well
 * (`deno_rows_tok_s`). Each side: a warm-up generate of 8 tokens, then `--reps` × `--runs` timed runs,
 * minimum reported. The two sides never run concurrently; they alternate (TS runs, HF process,
 * TS runs, HF process, …) so machine load from other jobs hits both. `--seed` seeds the prompt
 * on both sides.
 *
 * Counting (untimed, one more generate per side and batch, after the timed runs):
 * `aten_ops_per_token` — top-level ATen ops of a whole generate (prefill included) divided by the
 * tokens generated (batch × new tokens), TS and transformers counted by the same RecordFunction
 * callback of the shim (docs/ffi.md, "Counting"); `host_reads_per_token` — the TS side's
 * device→host reads through the shim, and transformers' `.item()`-style scalar reads as its
 * profiler sees them. `*_per_step` are the same over new tokens only (one step makes a token per
 * row).
 * `sdpa_backend_decode`: the kernel libtorch picks for a decode step's attention (one query
 * position, no mask); on CUDA, `ts_cuda_peak_mb`: the caching allocator's peak over the counted
 * generate.
 * `--cuda-graphs`: the TS side is also timed with the decode step replayed as a CUDA graph, in the
 * same interleaving (`deno_graphs_tok_s`, `graphs_speedup` = graphs / eager), and one greedy
 * generate with graphs is compared token for token with the static step run eagerly (the same
 * kernels: `graphs_tokens_identical`) and with the normal step
 * (`graphs_tokens_identical_normal_step`: the static step attends with a mask over the whole
 * cache, which in bf16 may pick another attention kernel, so a near-tie may flip); each run's
 * `cuda_graphs` says "on", or "off: <reason>" (no CUDA device, a shim without graphs, a failed
 * capture: then nothing more is timed).
 * Writes bench/results/generate.json (or `--out`).
 *
 * @module
 */

import {
  countOps,
  cuda,
  type Device,
  ensureShim,
  getNumThreads,
  manualSeed,
  randint,
  randn,
  sdpaBackend,
  tidy,
} from "../ffi/mod.ts";
import type { ModelConfig } from "../lib/model/config.ts";
import { CUDA_GRAPHS_FLAG, cudaIndex } from "../lib/util/device.ts";
import { generate, type GenerateOptions } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";
import { venvPythonJson } from "../lib/util/python.ts";
import { BENCH_MODEL_FLAGS, benchModelFromFlags } from "./bench_model.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  batches: { type: "intList", min: 1, default: [1, 20], help: "comma-separated batch sizes" },
  "new-tokens": { type: "int", min: 1, default: 64, help: "generated tokens per row" },
  "prompt-len": { type: "int", min: 1, default: 32, help: "random prompt length" },
  runs: { type: "int", min: 1, default: 2, help: "timed runs per side per rep" },
  reps: { type: "int", min: 1, default: 2, help: "alternations TS / transformers" },
  seed: { type: "int", min: 0, default: 0, help: "seed of the prompt ids, both sides" },
  ...BENCH_MODEL_FLAGS,
  ...CUDA_GRAPHS_FLAG,
  out: {
    type: "outFile",
    default: `${ROOT}/bench/results/generate.json`,
    help: "report",
  },
}, { name: "bench:generate" });

interface HfResult {
  tok_s: number;
  seconds: number;
  threads: number;
  attn_implementation: string;
  aten_ops: number;
  profiler_top_level_ops: number;
  item_reads: number;
  cuda_peak_mb?: number;
}

function hfBench(
  model: string,
  batch: number,
  newTokens: number,
  promptLen: number,
  runs: number,
  seed: number,
  device: string,
  dtype: string,
): Promise<HfResult> {
  return venvPythonJson<HfResult>("tools/bench_generate_hf.py", [
    `${ROOT}/tools/bench_generate_hf.py`,
    "--model",
    model,
    "--batch",
    String(batch),
    "--new-tokens",
    String(newTokens),
    "--prompt-len",
    String(promptLen),
    "--runs",
    String(runs),
    "--seed",
    String(seed),
    "--device",
    device,
    "--dtype",
    dtype,
    "--count-shim",
    ensureShim(),
  ]);
}

/** The SDPA kernel of a decode step of `batch` rows attending over `len` cached positions. */
function decodeSdpaBackend(cfg: ModelConfig, batch: number, len: number, device: Device): string {
  const { numHeads: H, numKvHeads: K, headDim: d } = cfg;
  return tidy(() =>
    sdpaBackend(
      randn([batch, H, 1, d], { device }),
      randn([batch, K, len, d], { device }),
      randn([batch, K, len, d], { device }),
      { enableGqa: K !== H },
    )
  );
}

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values } = cli.parse(Deno.args);
    const { batches, runs, reps, seed } = values;
    const newTokens = values["new-tokens"], promptLen = values["prompt-len"];
    const { dir, name, device, dtype } = await benchModelFromFlags(values);
    const { model, tokenizer } = await loadPretrained(dir, { device, dtype });
    const high = Math.min(tokenizer.vocabSize, model.config.vocabSize);
    manualSeed(seed);
    const prompt = randint(0, high, [1, promptLen]).toNumbers();
    const results = [];
    for (const batch of batches) {
      const rows = Array.from({ length: batch }, () => prompt);
      const timed = (n: number, separateRows = false, extra: GenerateOptions = {}) => {
        const t0 = performance.now();
        const r = generate(model, null, separateRows ? rows : [prompt], {
          maxNewTokens: n,
          stopAtEos: false,
          padTokenId: tokenizer.eosTokenId!,
          numReturnSequences: separateRows ? 1 : batch,
          ...extra,
        });
        const s = (performance.now() - t0) / 1000;
        if (r.tokens.length !== batch || r.tokens.some((t) => t.length !== n)) {
          throw new Error("wrong number of tokens");
        }
        return { seconds: s, tokens: r.tokens, cudaGraphs: r.cudaGraphs };
      };
      const once = (n: number, separateRows = false) => timed(n, separateRows).seconds;
      once(Math.min(8, newTokens));
      // CUDA graphs: warm-up and token checks, then timed beside the eager runs
      let graphs: { status: string; same: boolean; sameNormal: boolean; seconds: number } | null =
        null;
      if (values["cuda-graphs"]) {
        const g = timed(newTokens, false, { cudaGraphs: true });
        const same = (o: GenerateOptions) =>
          JSON.stringify(g.tokens) === JSON.stringify(timed(newTokens, false, o).tokens);
        graphs = {
          status: g.cudaGraphs!,
          same: same({ staticStep: true }),
          sameNormal: same({}),
          seconds: Infinity,
        };
      }
      let rowsSeconds = Infinity;
      // Interleave the two sides (TS runs, then an HF process, repeated) so that neither side gets
      // all the quiet or all the busy periods of this shared machine; report each side's minimum.
      let seconds = Infinity;
      let hf: HfResult | null = null;
      for (let rep = 0; rep < reps; rep++) {
        for (let i = 0; i < runs; i++) {
          seconds = Math.min(seconds, once(newTokens));
          if (graphs?.status === "on") {
            const t = timed(newTokens, false, { cudaGraphs: true }).seconds;
            graphs.seconds = Math.min(graphs.seconds, t);
          }
          if (batch > 1) rowsSeconds = Math.min(rowsSeconds, once(newTokens, true));
        }
        console.error(
          `batch ${batch} rep ${rep}: deno best ${(batch * newTokens / seconds).toFixed(2)} tok/s`,
        );
        const h = await hfBench(dir, batch, newTokens, promptLen, runs, seed, device, dtype);
        if (hf === null || h.seconds < hf.seconds) hf = h;
        console.error(`batch ${batch} rep ${rep}: transformers best ${hf.tok_s} tok/s`);
      }
      const denoTokS = (batch * newTokens) / seconds;
      hf = hf!;
      const gpu = cudaIndex(device);
      if (gpu !== null) cuda.memory(gpu, true);
      const { counts } = countOps(() => once(newTokens));
      const peakMb = gpu === null ? null : Number((cuda.memory(gpu).peak / 2 ** 20).toFixed(1));
      const per = (n: number, tokens: number) => Number((n / tokens).toFixed(2));
      const tokens = batch * newTokens;
      results.push({
        batch,
        deno_tok_s: Number(denoTokS.toFixed(3)),
        hf_tok_s: hf.tok_s,
        ratio: Number((denoTokS / hf.tok_s).toFixed(3)),
        deno_seconds: Number(seconds.toFixed(3)),
        hf_seconds: hf.seconds,
        hf_threads: hf.threads,
        hf_attn_implementation: hf.attn_implementation,
        aten_ops_per_token: { ts: per(counts.ops, tokens), transformers: per(hf.aten_ops, tokens) },
        aten_ops_per_step: {
          ts: per(counts.ops, newTokens),
          transformers: per(hf.aten_ops, newTokens),
          transformers_profiler: per(hf.profiler_top_level_ops, newTokens),
        },
        aten_ops_ratio: per(counts.ops, hf.aten_ops),
        sdpa_backend_decode: decodeSdpaBackend(model.config, batch, promptLen + newTokens, device),
        ...(peakMb === null ? {} : { ts_cuda_peak_mb: peakMb, hf_cuda_peak_mb: hf.cuda_peak_mb }),
        host_reads_per_token: {
          ts: per(counts.hostReads, tokens),
          transformers_item: per(hf.item_reads, tokens),
        },
        host_reads_per_step: {
          ts: per(counts.hostReads, newTokens),
          transformers_item: per(hf.item_reads, newTokens),
        },
        ...(graphs === null ? {} : {
          cuda_graphs: graphs.status,
          graphs_tokens_identical: graphs.same,
          graphs_tokens_identical_normal_step: graphs.sameNormal,
          ...(graphs.status === "on"
            ? {
              deno_graphs_tok_s: Number((tokens / graphs.seconds).toFixed(3)),
              graphs_speedup: Number((seconds / graphs.seconds).toFixed(3)),
            }
            : {}),
        }),
        ...(batch > 1
          ? {
            deno_rows_tok_s: Number((batch * newTokens / rowsSeconds).toFixed(3)),
            rows_ratio: Number((batch * newTokens / rowsSeconds / hf.tok_s).toFixed(3)),
          }
          : {}),
      });
    }
    const report = {
      shape: name,
      device,
      dtype,
      new_tokens: newTokens,
      prompt_len: promptLen,
      timed_runs_per_side: runs * reps,
      deno_threads: getNumThreads(),
      cpus: navigator.hardwareConcurrency,
      load_average_at_end: Deno.loadavg(),
      note: "greedy, EOS stopping off, identical seeded random prompt rows; TS: 1 prompt × " +
        "numReturnSequences=batch (prefill once), deno_rows_*: rows passed separately; minimum of " +
        "interleaved timed runs after a warm-up; the 2-core machine is shared with other jobs, so " +
        "numbers are noisy",
      runs: results,
    };
    model.dispose();
    await Deno.mkdir(values.out.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
    console.log(JSON.stringify(report, null, 2));
  });
}
