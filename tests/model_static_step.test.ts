/**
 * The static decode step (lib/model/static_step.ts: fixed buffers, attention over the whole cache
 * capacity with a device-made mask — what a CUDA graph captures) against the normal decode step,
 * and generate's `cudaGraphs` option. On the CPU the option falls back to the normal step; with
 * DG_TEST_DEVICE=cuda and a shim built with CUDA graphs the same tests capture and replay a graph
 * and check its tokens against the eager ones (scripts/gpu-check.sh runs this file on CUDA).
 */
import assert from "node:assert/strict";
import {
  countOps,
  CudaGraph,
  cudaGraphsAvailable,
  DeviceError,
  full,
  liveTensors,
  locateLibtorch,
  manualSeed,
  noGrad,
  randn,
  tensor,
  tidy,
  TorchError,
} from "../ffi/mod.ts";
import { applyLora, defaultLoraConfig } from "../lib/lora/mod.ts";
import { generate, type GenerateOptions } from "../lib/model/generate.ts";
import { KVCache } from "../lib/model/kv_cache.ts";
import { loadPretrained } from "../lib/model/load.ts";
import type { DecoderLM } from "../lib/model/qwen_llama.ts";
import { cudaGraphsOff, StaticDecodeStep } from "../lib/model/static_step.ts";
import type { Tokenizer } from "../lib/model/tokenizer.ts";
import { TEST_DEVICE } from "./util_device.ts";
import { flags, runDeno, tinyModels } from "./util_tiny.ts";

const dir = await tinyModels("dg_static_", { q: "qwen2", l: "llama" });
const TOL = 1e-5;
const PROMPTS = [
  "def add(a, b):\n    return",
  "int main(void) {\n    char buf[64];\n    strncpy(buf,",
  "x =",
];

/** generate, recording the float32 logits the hook sees at every step (host copies). */
function recorded(
  model: DecoderLM,
  tokenizer: Tokenizer,
  prompts: string[],
  opts: GenerateOptions,
) {
  const logits: number[][] = [];
  const result = generate(model, tokenizer, prompts, {
    ...opts,
    logitsProcessor: (_g, l) => (logits.push(l.toNumbers()), l),
  });
  return { result, logits };
}

/** Largest |a − b| over all steps; the step counts must agree. */
function maxDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length, "steps");
  let m = 0;
  a.forEach((row, s) => row.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[s][i])))));
  return m;
}

/**
 * Runs `opts` with the normal step and with `extra`, and checks equal tokens and close logits,
 * and that `extra` took another route (other ATen op counts) exactly when `otherRoute`.
 */
function sameAsNormal(
  model: DecoderLM,
  tokenizer: Tokenizer,
  prompts: string[],
  opts: GenerateOptions,
  extra: GenerateOptions,
  label: string,
  otherRoute = true,
) {
  const run = (o: GenerateOptions) => {
    const { result, counts } = countOps(() => recorded(model, tokenizer, prompts, o));
    return { ...result, ops: counts.ops };
  };
  const normal = run(opts);
  const other = run({ ...opts, ...extra });
  assert.equal(other.ops !== normal.ops, otherRoute, `${label}: ${other.ops} vs ${normal.ops} ops`);
  assert.deepEqual(other.result.tokens, normal.result.tokens, `${label}: tokens`);
  assert.deepEqual(other.result.finished, normal.result.finished, `${label}: finished`);
  const d = maxDiff(other.logits, normal.logits);
  assert.ok(d <= TOL, `${label}: logits differ by ${d}`);
  return { normal, other };
}

for (const arch of ["q", "l"]) {
  Deno.test(`static step (${arch}): same logits and tokens as the normal step — single, padded, n>1 sampled, EOS, learned past`, async () => {
    const { model, tokenizer } = await loadPretrained(`${dir}/${arch}`, { device: TEST_DEVICE });
    const live = liveTensors();
    const s = { staticStep: true };
    const greedy = { maxNewTokens: 12, stopAtEos: false };
    sameAsNormal(model, tokenizer, PROMPTS.slice(0, 1), greedy, s, "single prompt");
    const { normal } = sameAsNormal(model, tokenizer, PROMPTS, greedy, s, "left-padded batch");
    const sampled = {
      ...greedy,
      doSample: true,
      temperature: 1.5,
      topK: 20,
      numReturnSequences: 3,
      seed: 7,
    };
    sameAsNormal(model, tokenizer, PROMPTS.slice(0, 2), sampled, s, "n=3 sampled");
    // rows finish at different steps (then fed the pad id): EOS = row 0's 3rd greedy token
    const eos = { maxNewTokens: 12, eosTokenIds: [normal.result.tokens[0][2]] };
    const e = sameAsNormal(model, tokenizer, PROMPTS, eos, s, "EOS");
    assert.ok(e.normal.result.finished[0], "row 0 stopped at EOS");
    // a learned past (SVEN's prefix): every row starts from 3 past positions
    manualSeed(3);
    const { numLayers, numKvHeads, headDim } = model.config;
    const past = tidy(() => {
      const t = () =>
        Array.from(
          { length: numLayers },
          () => randn([numKvHeads, 3, headDim], { device: TEST_DEVICE }).keep(),
        );
      return { k: t(), v: t() };
    });
    sameAsNormal(model, tokenizer, PROMPTS.slice(0, 2), { ...greedy, past }, s, "learned past");
    for (const t of [...past.k, ...past.v]) t.dispose();
    assert.equal(liveTensors(), live, "every tensor freed");
    model.dispose();
  });

  Deno.test(`static step (${arch}): with an unmerged LoRA adapter, same logits and tokens`, async () => {
    const { model, tokenizer } = await loadPretrained(`${dir}/${arch}`, { device: TEST_DEVICE });
    manualSeed(5);
    const ad = applyLora(model, { ...defaultLoraConfig(model.config.modelType), r: 4, alpha: 8 });
    noGrad(() =>
      tidy(() => ad.namedParameters().forEach(([, t]) => t.copy_(randn(t.shape).mul(0.3))))
    );
    const greedy = { maxNewTokens: 10, stopAtEos: false };
    const { normal } = sameAsNormal(
      model,
      tokenizer,
      PROMPTS,
      greedy,
      { staticStep: true },
      "lora",
    );
    const base = ad.withDisabled(() => recorded(model, tokenizer, PROMPTS, greedy));
    assert.ok(maxDiff(base.logits, normal.logits) > 1e-3, "the adapter changes the logits");
    model.dispose();
  });
}

Deno.test("StaticDecodeStep: per step = the model's cached forward; garbage past the cache is zeroed; overflow and bad shapes are errors", async () => {
  const { model } = await loadPretrained(`${dir}/l`, { device: TEST_DEVICE });
  const dev = TEST_DEVICE;
  const cfg = model.config;
  const ids = [[5, 17, 40, 99], [3, 250, 7, 11]];
  const lean = new KVCache(cfg, 2, 10, model.dtype, dev);
  const fixed = new KVCache(cfg, 2, 10, model.dtype, dev);
  noGrad(() => {
    tidy(() => {
      model.forward(ids, { cache: lean });
      model.forward(ids, { cache: fixed });
      // what an uninitialised buffer may hold: NaN, which the step must not read unmasked
      const nan = full([], NaN, { dtype: model.dtype, device: dev });
      for (const b of [...fixed.k, ...fixed.v]) b.narrow(2, 4, 6).copy_(nan);
    });
    const positions = tensor([4n, 4n], [2, 1], { dtype: "i64", device: dev });
    assert.throws(
      () =>
        new StaticDecodeStep(model, fixed, { positions: positions.view([2]), attentionMask: null }),
      (e: Error) => e instanceof RangeError && /positions \[2\], want \[2, 1\]/.test(e.message),
    );
    const step = new StaticDecodeStep(model, fixed, { positions, attentionMask: null });
    positions.dispose();
    const tokens = [[8, 9], [30, 31], [2, 100], [64, 65], [1, 1], [77, 6]];
    tokens.forEach((tok, s) => {
      const d = tidy(() => {
        const want = model.forward(tok.map((t) => [t]), {
          cache: lean,
          positionIds: [[4 + s], [4 + s]],
        }).logits.select(1, 0);
        const got = step.step(tensor(tok.map(BigInt), [2], { dtype: "i64", device: dev }));
        assert.deepEqual(got.shape, want.shape);
        return got.sub(want).abs().maxAll().item();
      });
      assert.ok(d <= TOL, `step ${s}: logits differ by ${d}`);
      assert.equal(fixed.length, lean.length);
    });
    assert.equal(fixed.length, 10);
    assert.throws(
      () => tidy(() => step.step(tensor([1n, 1n], [2], { dtype: "i64", device: dev }))),
      (e: Error) => e instanceof RangeError && /KV cache overflow/.test(e.message),
    );
    step.dispose();
  });
  lean.dispose();
  fixed.dispose();
  model.dispose();
});

Deno.test("generate cudaGraphs: graphs where the device and shim allow, else the normal step and why; same tokens", async () => {
  const { model, tokenizer } = await loadPretrained(`${dir}/q`, { device: TEST_DEVICE });
  const off = cudaGraphsOff(TEST_DEVICE);
  if (TEST_DEVICE === "cpu") assert.match(off ?? "", /on the CPU/);
  const live = liveTensors();
  const greedy = { maxNewTokens: 12, stopAtEos: false };
  const sampled = { ...greedy, doSample: true, temperature: 1.5, numReturnSequences: 2, seed: 4 };
  for (const [opts, prompts] of [[greedy, PROMPTS], [sampled, PROMPTS.slice(0, 2)]] as const) {
    const { normal, other } = sameAsNormal(
      model,
      tokenizer,
      [...prompts],
      opts,
      { cudaGraphs: true },
      `cudaGraphs ${opts === greedy ? "greedy" : "sampled"}`,
      off === null, // the fallback is exactly the normal step
    );
    assert.equal(normal.result.cudaGraphs, undefined, "no report without the option");
    assert.equal(other.result.cudaGraphs, off === null ? "on" : `off: ${off}`);
    if (off === null) {
      // a replayed graph runs the eager static step's kernels: the same numbers
      const eager = recorded(model, tokenizer, [...prompts], { ...opts, staticStep: true });
      const d = maxDiff(other.logits, eager.logits);
      assert.ok(d <= TOL, `graph vs eager static step: logits differ by ${d}`);
    }
  }
  assert.equal(liveTensors(), live, "every tensor (and graph output) freed");
  model.dispose();
});

Deno.test("generate task --cuda-graphs: the tokens of the plain run, and the reason on stderr", async () => {
  const args = (extra: string[]) => [
    "tasks/generate.ts",
    ...flags({ model: `${dir}/l`, prompt: "def f(x):", "max-new-tokens": 6, greedy: true }),
    "--json",
    ...extra,
  ];
  const plain = await runDeno(args([]));
  const graphs = await runDeno(args(["--cuda-graphs"]));
  assert.ok(plain.success && graphs.success, plain.stderr + graphs.stderr);
  assert.equal(graphs.stdout, plain.stdout);
  assert.equal(JSON.parse(plain.stdout).token_ids.length, 6);
  assert.doesNotMatch(plain.stderr, /CUDA graphs/);
  assert.match(graphs.stderr, /generate: CUDA graphs off: the model is on the CPU/);
});

Deno.test("cuda graphs: the shim's query answers for its build; without graphs a graph is a clear error", () => {
  const cpuLibtorch = !exists(`${locateLibtorch().libDir}/libtorch_cuda.so`);
  if (cpuLibtorch) assert.equal(cudaGraphsAvailable(), false, "a CPU libtorch has no graphs");
  assert.throws(
    () => new CudaGraph("cpu"),
    (e: Error) => e instanceof DeviceError && /need a CUDA device/.test(e.message),
  );
  if (!cudaGraphsAvailable()) {
    assert.throws(
      () => new CudaGraph("cuda"),
      (e: Error) => e instanceof TorchError && /built without CUDA graphs/.test(e.message),
    );
    assert.match(cudaGraphsOff("cuda") ?? "", /built without CUDA graphs/);
  }
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
