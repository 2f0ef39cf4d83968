/**
 * Every op of the shim against Python torch on the same inputs (tests/fixtures/torch_ops_ref.py),
 * plus hand-derived values that need no oracle.
 */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import { maxAbsDiff, runPythonJson, seeded, venvPython } from "./util_ffi.ts";

interface Input {
  data: number[];
  shape: number[];
  dtype: "f32" | "i64" | "bool";
}
interface Case {
  name: string;
  op: string;
  inputs: Input[];
  args?: Record<string, unknown>;
  run: (xs: T.Tensor[]) => T.Tensor | T.Tensor[];
}

const rnd = seeded(7);
function f(...shape: number[]): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Array.from({ length: n }, () => Number(rnd().toFixed(6))), shape, dtype: "f32" };
}
function pos(...shape: number[]): Input {
  const x = f(...shape);
  return { ...x, data: x.data.map((v) => Math.abs(v) + 0.1) };
}
function ints(data: number[], shape: number[] = [data.length]): Input {
  return { data, shape, dtype: "i64" };
}
function bools(data: number[], shape: number[] = [data.length]): Input {
  return { data, shape, dtype: "bool" };
}
const vi = (r: T.ValuesIndices) => [r.values, r.indices];

const cases: Case[] = [
  { name: "add", op: "add", inputs: [f(3, 4), f(4)], run: ([a, b]) => a.add(b) },
  { name: "sub", op: "sub", inputs: [f(3, 4), f(3, 1)], run: ([a, b]) => a.sub(b) },
  { name: "mul", op: "mul", inputs: [f(2, 3), f(2, 3)], run: ([a, b]) => a.mul(b) },
  { name: "div", op: "div", inputs: [f(2, 3), pos(2, 3)], run: ([a, b]) => a.div(b) },
  { name: "add_s", op: "add_s", inputs: [f(5)], args: { s: 2.5 }, run: ([a]) => a.add(2.5) },
  { name: "mul_s", op: "mul_s", inputs: [f(5)], args: { s: -3 }, run: ([a]) => a.mul(-3) },
  { name: "rsub_s", op: "rsub_s", inputs: [f(5)], args: { s: 1 }, run: ([a]) => a.rsub(1) },
  { name: "pow_s", op: "pow_s", inputs: [pos(5)], args: { s: 1.5 }, run: ([a]) => a.pow(1.5) },
  { name: "pow", op: "pow", inputs: [pos(4), f(4)], run: ([a, b]) => a.pow(b) },
  { name: "maximum", op: "maximum", inputs: [f(6), f(6)], run: ([a, b]) => a.maximum(b) },
  { name: "minimum", op: "minimum", inputs: [f(6), f(6)], run: ([a, b]) => a.minimum(b) },
  { name: "eq", op: "eq", inputs: [ints([1, 2, 3]), ints([1, 0, 3])], run: ([a, b]) => a.eq(b) },
  { name: "lt_s", op: "lt_s", inputs: [f(6)], args: { s: 0 }, run: ([a]) => a.lt(0) },
  { name: "ge", op: "ge", inputs: [f(6), f(6)], run: ([a, b]) => a.ge(b) },
  {
    name: "and",
    op: "and",
    inputs: [bools([1, 1, 0, 0]), bools([1, 0, 1, 0])],
    run: ([a, b]) => a.logicalAnd(b),
  },
  {
    name: "or",
    op: "or",
    inputs: [bools([1, 1, 0, 0]), bools([1, 0, 1, 0])],
    run: ([a, b]) => a.logicalOr(b),
  },
  { name: "not", op: "not", inputs: [bools([1, 0])], run: ([a]) => a.logicalNot() },
  ...(["neg", "exp", "relu", "silu", "gelu", "sigmoid", "tanh", "sin", "cos", "abs"] as const).map(
    (op): Case => ({ name: op, op, inputs: [f(3, 5)], run: ([a]) => a[op]() }),
  ),
  { name: "gelu_tanh", op: "gelu_tanh", inputs: [f(7)], run: ([a]) => a.gelu("tanh") },
  { name: "log", op: "log", inputs: [pos(7)], run: ([a]) => a.log() },
  { name: "sqrt", op: "sqrt", inputs: [pos(7)], run: ([a]) => a.sqrt() },
  { name: "rsqrt", op: "rsqrt", inputs: [pos(7)], run: ([a]) => a.rsqrt() },
  {
    name: "clamp",
    op: "clamp",
    inputs: [f(9)],
    args: { min: -0.2, max: 0.3 },
    run: ([a]) => a.clamp(-0.2, 0.3),
  },
  { name: "clamp_min", op: "clamp", inputs: [f(9)], args: { min: 0 }, run: ([a]) => a.clamp(0) },
  { name: "matmul", op: "matmul", inputs: [f(2, 3, 4), f(4, 5)], run: ([a, b]) => a.matmul(b) },
  { name: "bmm", op: "bmm", inputs: [f(2, 3, 4), f(2, 4, 2)], run: ([a, b]) => a.bmm(b) },
  {
    name: "linear_b",
    op: "linear",
    inputs: [f(2, 4), f(3, 4), f(3)],
    run: ([x, w, b]) => T.linear(x, w, b),
  },
  { name: "linear", op: "linear", inputs: [f(2, 4), f(3, 4)], run: ([x, w]) => T.linear(x, w) },
  {
    name: "softmax",
    op: "softmax",
    inputs: [f(3, 5)],
    args: { dim: -1 },
    run: ([a]) => a.softmax(-1),
  },
  {
    name: "log_softmax",
    op: "log_softmax",
    inputs: [f(3, 5)],
    args: { dim: 0 },
    run: ([a]) => a.logSoftmax(0),
  },
  {
    name: "sum_all",
    op: "sum",
    inputs: [f(3, 4)],
    args: { dims: [], keep: false },
    run: ([a]) => a.sum(),
  },
  {
    name: "sum_dim",
    op: "sum",
    inputs: [f(3, 4, 2)],
    args: { dims: [0, 2], keep: true },
    run: ([a]) => a.sum([0, 2], true),
  },
  {
    name: "mean_dim",
    op: "mean",
    inputs: [f(3, 4)],
    args: { dims: [1], keep: false },
    run: ([a]) => a.mean(1),
  },
  {
    name: "max_dim",
    op: "max_dim",
    inputs: [f(3, 4)],
    args: { dim: 1 },
    run: ([a]) => vi(a.max(1)),
  },
  {
    name: "min_dim",
    op: "min_dim",
    inputs: [f(3, 4)],
    args: { dim: 0 },
    run: ([a]) => vi(a.min(0)),
  },
  {
    name: "argmax",
    op: "argmax",
    inputs: [f(3, 4)],
    args: { dim: -1 },
    run: ([a]) => a.argmax(-1),
  },
  {
    name: "topk",
    op: "topk",
    inputs: [f(2, 6)],
    args: { k: 3, dim: -1 },
    run: ([a]) => vi(a.topk(3, -1)),
  },
  {
    name: "sort",
    op: "sort",
    inputs: [f(2, 6)],
    args: { dim: -1, desc: true },
    run: ([a]) => vi(a.sort(-1, true)),
  },
  { name: "cumsum", op: "cumsum", inputs: [f(2, 6)], args: { dim: 1 }, run: ([a]) => a.cumsum(1) },
  { name: "norm", op: "norm", inputs: [f(2, 6)], run: ([a]) => a.norm() },
  {
    name: "reshape",
    op: "reshape",
    inputs: [f(2, 6)],
    args: { shape: [3, -1] },
    run: ([a]) => a.reshape([3, -1]),
  },
  {
    name: "transpose",
    op: "transpose",
    inputs: [f(2, 3, 4)],
    args: { a: 0, b: 2 },
    run: ([a]) => a.transpose(0, 2),
  },
  {
    name: "permute",
    op: "permute",
    inputs: [f(2, 3, 4)],
    args: { dims: [1, 2, 0] },
    run: ([a]) => a.permute([1, 2, 0]),
  },
  {
    name: "narrow",
    op: "narrow",
    inputs: [f(4, 5)],
    args: { dim: 1, start: 1, len: 3 },
    run: ([a]) => a.narrow(1, 1, 3),
  },
  {
    name: "slice",
    op: "slice",
    inputs: [f(2, 9)],
    args: { start: 1, end: 8, step: 3 },
    run: ([a]) => a.slice(1, 1, 8, 3),
  },
  {
    name: "select",
    op: "select",
    inputs: [f(3, 4)],
    args: { dim: 0, i: 2 },
    run: ([a]) => a.select(0, 2),
  },
  {
    name: "index_select",
    op: "index_select",
    inputs: [f(5, 3), ints([4, 0, 4])],
    args: { dim: 0 },
    run: ([a, i]) => a.indexSelect(0, i),
  },
  {
    name: "gather",
    op: "gather",
    inputs: [f(2, 4), ints([3, 0, 1, 1], [2, 2])],
    args: { dim: 1 },
    run: ([a, i]) => a.gather(1, i),
  },
  {
    name: "scatter",
    op: "scatter",
    inputs: [f(2, 4), ints([3, 0], [2, 1]), f(2, 1)],
    args: { dim: 1 },
    run: ([a, i, s]) => a.scatter(1, i, s),
  },
  {
    name: "index_add",
    op: "index_add",
    inputs: [f(4), ints([1, 1, 3]), f(3)],
    args: { dim: 0 },
    run: ([a, i, s]) => a.indexAdd(0, i, s),
  },
  {
    name: "cat",
    op: "cat",
    inputs: [f(2, 3), f(1, 3)],
    args: { dim: 0 },
    run: (xs) => T.cat(xs, 0),
  },
  {
    name: "stack",
    op: "stack",
    inputs: [f(2, 3), f(2, 3)],
    args: { dim: 1 },
    run: (xs) => T.stack(xs, 1),
  },
  {
    name: "squeeze",
    op: "squeeze",
    inputs: [f(2, 1, 3)],
    args: { dim: 1 },
    run: ([a]) => a.squeeze(1),
  },
  {
    name: "unsqueeze",
    op: "unsqueeze",
    inputs: [f(2, 3)],
    args: { dim: 0 },
    run: ([a]) => a.unsqueeze(0),
  },
  {
    name: "expand",
    op: "expand",
    inputs: [f(1, 3)],
    args: { shape: [4, 3] },
    run: ([a]) => a.expand([4, 3]),
  },
  {
    name: "repeat_interleave",
    op: "repeat_interleave",
    inputs: [f(2, 3)],
    args: { n: 2, dim: 0 },
    run: ([a]) => a.repeatInterleave(2, 0),
  },
  { name: "tril", op: "tril", inputs: [f(4, 4)], args: { k: -1 }, run: ([a]) => a.tril(-1) },
  { name: "triu", op: "triu", inputs: [f(4, 4)], args: { k: 1 }, run: ([a]) => a.triu(1) },
  {
    name: "masked_fill",
    op: "masked_fill",
    inputs: [f(4), bools([1, 0, 0, 1])],
    args: { v: -7 },
    run: ([a, m]) => a.maskedFill(m, -7),
  },
  {
    name: "where",
    op: "where",
    inputs: [bools([1, 0, 1]), f(3), f(3)],
    run: ([c, a, b]) => T.where(c, a, b),
  },
  {
    name: "embedding",
    op: "embedding",
    inputs: [ints([2, 0, 2, 1], [2, 2]), f(3, 4)],
    run: ([i, w]) => T.embedding(w, i),
  },
  {
    name: "layer_norm",
    op: "layer_norm",
    inputs: [f(3, 6), f(6), f(6)],
    run: ([x, w, b]) => T.layerNorm(x, [6], w, b, 1e-5),
  },
  {
    name: "cross_entropy",
    op: "cross_entropy",
    inputs: [f(4, 5), ints([1, -100, 4, 0])],
    args: { ignore: -100, red: "mean" },
    run: ([l, t]) => T.crossEntropy(l, t, { ignoreIndex: -100 }),
  },
  {
    name: "cross_entropy_none",
    op: "cross_entropy",
    inputs: [f(4, 5), ints([1, 2, 4, 0])],
    args: { ignore: -100, red: "none" },
    run: ([l, t]) => T.crossEntropy(l, t, { reduction: "none" }),
  },
  {
    name: "sdpa_causal",
    op: "sdpa",
    inputs: [f(1, 2, 3, 4), f(1, 2, 3, 4), f(1, 2, 3, 4)],
    args: { causal: true },
    run: ([q, k, v]) => T.scaledDotProductAttention(q, k, v, { isCausal: true }),
  },
  { name: "to_f16", op: "to_f16", inputs: [f(5)], run: ([a]) => a.to("f16").to("f32") },
  { name: "to_bf16", op: "to_bf16", inputs: [f(5)], run: ([a]) => a.to("bf16").to("f32") },
];

Deno.test("every op matches Python torch on the same inputs", async (t) => {
  if (!venvPython()) {
    console.warn("skipped: .venv with torch is missing (run bash scripts/setup.sh)");
    return;
  }
  const ref = await runPythonJson(
    new URL("./fixtures/torch_ops_ref.py", import.meta.url).pathname,
    cases.map(({ name, op, inputs, args }) => ({ name, op, inputs, args })),
  ) as { name: string; outputs: { data: number[]; shape: number[] }[] }[];
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, () => {
      T.tidy(() => {
        const xs = c.inputs.map((x) => T.tensor(x.data, x.shape, { dtype: x.dtype }));
        const out = c.run(xs);
        const outs = Array.isArray(out) ? out : [out];
        assert.equal(outs.length, ref[i].outputs.length);
        outs.forEach((o, j) => {
          const r = ref[i].outputs[j];
          assert.deepEqual([...o.shape], r.shape, `${c.name} shape`);
          const err = maxAbsDiff(o.toNumbers(), r.data);
          assert.ok(err <= 1e-5, `${c.name}: max abs error ${err}`);
        });
      });
    });
  }
});

Deno.test("hand-derived values", () => {
  T.tidy(() => {
    const a = T.tensor([1, 2, 3, 4], [2, 2]);
    assert.deepEqual(a.matmul(a).toNumbers(), [7, 10, 15, 22]);
    assert.deepEqual(T.arange(0, 5).toNumbers(), [0, 1, 2, 3, 4]);
    assert.equal(T.arange(0, 5).dtype, "i64");
    assert.deepEqual(T.full([2], 3.5).toNumbers(), [3.5, 3.5]);
    assert.deepEqual(T.ones([2, 2]).sum().toNumbers(), [4]);
    const sm = T.tensor([0, Math.log(3)]).softmax(0).toNumbers();
    assert.ok(Math.abs(sm[0] - 0.25) < 1e-7 && Math.abs(sm[1] - 0.75) < 1e-7);
    assert.equal(T.tensor([3, 4]).norm().item(), 5);
    // bf16 keeps the upper 16 bits of f32: 1.0 = 0x3f80.
    assert.deepEqual([...T.tensor([1]).to("bf16").data() as Uint16Array], [0x3f80]);
    assert.deepEqual([...T.tensor([1]).to("f16").data() as Uint16Array], [0x3c00]);
    const raw = T.tensor(new Uint16Array([0x4000]), [1], { dtype: "bf16" });
    assert.equal(raw.to("f32").item(), 2);
  });
});

Deno.test("all dtypes round-trip through host arrays", () => {
  T.tidy(() => {
    assert.deepEqual([...T.tensor(new Int32Array([1, -2])).data()], [1, -2]);
    assert.deepEqual([...T.tensor(new BigInt64Array([5n, -6n])).data()], [5n, -6n]);
    assert.deepEqual([...T.tensor(new Uint8Array([0, 255])).data()], [0, 255]);
    assert.deepEqual(T.tensor([1, 0, 2], [3], { dtype: "bool" }).toNumbers(), [1, 0, 1]);
    assert.deepEqual([...T.tensor(new Float64Array([0.1])).data()], [0.1]);
    for (const d of T.DTYPES) assert.equal(T.zeros([2], { dtype: d }).dtype, d);
  });
});

Deno.test("seeded generators reproduce", () => {
  T.tidy(() => {
    T.manualSeed(3);
    const a = T.randn([5]).toNumbers();
    const r = T.randint(0, 10, [5]).toNumbers();
    const m = T.multinomial(T.tensor([0.1, 0.2, 0.7]), 2).toNumbers();
    T.manualSeed(3);
    assert.deepEqual(T.randn([5]).toNumbers(), a);
    assert.deepEqual(T.randint(0, 10, [5]).toNumbers(), r);
    assert.deepEqual(T.multinomial(T.tensor([0.1, 0.2, 0.7]), 2).toNumbers(), m);
    assert.ok(r.every((v) => v >= 0 && v < 10 && Number.isInteger(v)));
    const u = T.rand([1000]).toNumbers();
    assert.ok(u.every((v) => v >= 0 && v < 1));
  });
});

Deno.test("in-place copy into a narrowed view writes the base tensor", () => {
  T.tidy(() => {
    const cache = T.zeros([2, 4]);
    cache.narrow(1, 1, 2).copy_(T.ones([2, 2]));
    assert.deepEqual(cache.toNumbers(), [0, 1, 1, 0, 0, 1, 1, 0]);
  });
});
