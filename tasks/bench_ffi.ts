/**
 * `deno task bench:ffi`: per-op latency of small ops through Deno → shim → libtorch, next to
 * Python torch eager on the same libtorch version (tools/bench_ffi.py), in the same run.
 * Both run with one intra-op thread. Writes bench/results/ffi.json: {"ops":[{name, deno_us, python_us}], "median_ratio"}.
 * Takes no flags.
 * @module
 */
import * as T from "../ffi/mod.ts";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({}, {
  name: "bench:ffi",
  about: "No flags: per-op latency, Deno → shim → libtorch vs Python torch → " +
    "bench/results/ffi.json",
});

type Op = [name: string, make: () => () => T.Tensor];

const ops: Op[] = [
  ["add_64", () => {
    const a = T.randn([64, 64]).keep(), b = T.randn([64, 64]).keep();
    return () => a.add(b);
  }],
  ["mul_64", () => {
    const a = T.randn([64, 64]).keep(), b = T.randn([64, 64]).keep();
    return () => a.mul(b);
  }],
  ["matmul_64", () => {
    const a = T.randn([64, 64]).keep(), b = T.randn([64, 64]).keep();
    return () => a.matmul(b);
  }],
  ["softmax_64", () => {
    const a = T.randn([64, 64]).keep();
    return () => a.softmax(-1);
  }],
  ["relu_64", () => {
    const a = T.randn([64, 64]).keep();
    return () => a.relu();
  }],
  ["sum_64", () => {
    const a = T.randn([64, 64]).keep();
    return () => a.sum();
  }],
  ["transpose_contig_64", () => {
    const a = T.randn([64, 64]).keep();
    return () => {
      const t = a.transpose(0, 1);
      const c = t.contiguous();
      t.dispose();
      return c;
    };
  }],
  ["cat_64", () => {
    const ab = [T.randn([64, 64]).keep(), T.randn([64, 64]).keep()];
    return () => T.cat(ab, 0);
  }],
  ["linear_4096", () => {
    const x = T.randn([1, 4096]).keep(), w = T.randn([4096, 4096]).keep();
    const b = T.randn([4096]).keep();
    return () => T.linear(x, w, b);
  }],
  ["embedding_32k", () => {
    const w = T.randn([32000, 256]).keep();
    const ids = T.randint(0, 32000, [16]).keep();
    return () => T.embedding(w, ids);
  }],
  ["layer_norm_64", () => {
    const x = T.randn([64, 64]).keep(), w = T.randn([64]).keep(), b = T.randn([64]).keep();
    return () => T.layerNorm(x, [64], w, b, 1e-5);
  }],
  ["silu_64", () => {
    const a = T.randn([64, 64]).keep();
    return () => a.silu();
  }],
];

/** Median per-call time in µs over 5 rounds, each sized to take about 50 ms. */
function time(fn: () => T.Tensor): number {
  for (let i = 0; i < 200; i++) fn().dispose();
  let iters = 100;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn().dispose();
    const dt = performance.now() - t0;
    if (dt > 50 || iters >= 1 << 20) break;
    iters *= 2;
  }
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn().dispose();
    rounds.push(((performance.now() - t0) * 1000) / iters);
  }
  return rounds.sort((a, b) => a - b)[2];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await runMain(cli.usage, () => {
  cli.parse(Deno.args);
  // One intra-op thread on both sides: the benchmark measures per-call overhead, and a shared
  // 2-core machine makes multi-threaded timings of tiny ops mostly scheduler noise.
  T.setNumThreads(1);
  T.manualSeed(0);
  const denoUs: Record<string, number> = {};
  for (const [name, make] of ops) {
    denoUs[name] = time(make());
    console.error(`deno   ${name.padEnd(20)} ${denoUs[name].toFixed(2)} µs`);
  }

  const py = `${PROJECT_ROOT}/.venv/bin/python`;
  const out = new Deno.Command(py, {
    args: [`${PROJECT_ROOT}/tools/bench_ffi.py`],
    stdout: "piped",
    env: { OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  }).outputSync();
  if (!out.success) {
    console.error(
      "bench:ffi: tools/bench_ffi.py failed (is .venv set up? run bash scripts/setup.sh)",
    );
    Deno.exit(1);
  }
  const pyRes = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    torch_version: string;
    threads: number;
    ops: Record<string, number>;
  };
  const rows = ops.map(([name]) => ({
    name,
    deno_us: Number(denoUs[name].toFixed(3)),
    python_us: Number(pyRes.ops[name].toFixed(3)),
    ratio: Number((denoUs[name] / pyRes.ops[name]).toFixed(3)),
  }));
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(20)} deno ${r.deno_us.toFixed(2).padStart(9)} µs   python ${
        r.python_us.toFixed(2).padStart(9)
      } µs   ratio ${r.ratio.toFixed(2)}`,
    );
  }
  const result = {
    torch_version: pyRes.torch_version,
    threads: { deno: T.getNumThreads(), python: pyRes.threads },
    ops: rows,
    median_ratio: Number(median(rows.map((r) => r.ratio)).toFixed(3)),
  };
  Deno.mkdirSync(`${PROJECT_ROOT}/bench/results`, { recursive: true });
  Deno.writeTextFileSync(
    `${PROJECT_ROOT}/bench/results/ffi.json`,
    JSON.stringify(result, null, 2) + "\n",
  );
  console.log(`median ratio deno/python: ${result.median_ratio} → bench/results/ffi.json`);
});
