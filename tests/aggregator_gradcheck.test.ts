import assert from "node:assert/strict";
import { manualSeed, noGrad, randn, type Tensor, tidy } from "../ffi/mod.ts";
import {
  AggregationError,
  AGGREGATIONS,
  MultiLayerAggregator,
  parseAggregation,
} from "../lib/aggregator/mod.ts";
import { gradCheck } from "../lib/train/gradcheck.ts";

const L = 3, B = 2, T = 3, H = 5;

for (const kind of AGGREGATIONS) {
  Deno.test(`aggregator ${kind}: finite-difference gradients (f64) for parameters and inputs`, () => {
    manualSeed(11);
    const agg = new MultiLayerAggregator(kind, L, H, { dtype: "f64" });
    // non-trivial layer logits so the softmax weights differ
    if (kind === "weighted") {
      noGrad(() =>
        tidy(() => agg.getParameter("layer_logits").copy_(randn([L], { dtype: "f64" })))
      );
    }
    const hs = Array.from({ length: L }, () => randn([B, T, H], { dtype: "f64" }).requiresGrad_());
    const r = randn([B, T, H], { dtype: "f64" });
    const loss = () => tidy(() => agg.forward(hs).mul(r).sum());
    const named: [string, Tensor][] = [
      ...agg.namedParameters(),
      ...hs.map((h, i): [string, Tensor] => [`h${i}`, h]),
    ];
    const res = gradCheck(loss, named, { perTensor: 3 });
    // central differences (step 1e-6, f64) carry ~2e-16·|loss|/1e-6 of rounding: the absolute
    // tolerance for exactly-zero gradients scales with the loss
    const zeroTol = 1e-9 * Math.max(1, Math.abs(tidy(() => loss().item())));
    for (const e of res) {
      assert.ok(
        e.relErr < 1e-6 || e.absErr < zeroTol,
        `${kind} ${e.name}[${e.index}]: ${e.analytic} vs ${e.numeric}`,
      );
    }
    const out = agg.forward(hs);
    assert.deepEqual(out.shape, [B, T, H]);
    out.dispose();
    if (kind === "last_layer") {
      const g = hs[0].grad;
      assert.ok(g === null || g.abs().sum().item() === 0, "last_layer must ignore earlier states");
      g?.dispose();
    }
    for (const h of hs) h.dispose();
    r.dispose();
    agg.dispose();
  });
}

Deno.test("aggregator: weighted with zero logits equals average; attention matches a by-hand formula", () => {
  manualSeed(3);
  tidy(() => {
    const hs = Array.from({ length: L }, () => randn([B, T, H], { dtype: "f64" }));
    const w = new MultiLayerAggregator("weighted", L, H, { dtype: "f64" });
    const a = new MultiLayerAggregator("average", L, H, { dtype: "f64" });
    const d = w.forward(hs).sub(a.forward(hs)).abs().maxAll().item();
    assert.ok(d < 1e-12, `weighted(0) vs average differ by ${d}`);
    // attention, one token at a time by hand
    const att = new MultiLayerAggregator("attention", L, H, { dtype: "f64" });
    const out = att.forward(hs).toNumbers();
    const P = (n: string) => att.getSubmodule(n).getParameter("weight").toNumbers();
    const Pb = (n: string) => att.getSubmodule(n).getParameter("bias").toNumbers();
    const lin = (n: string, x: number[]) =>
      Array.from(
        { length: H },
        (_, o) => x.reduce((s, xi, i) => s + xi * P(n)[o * H + i], Pb(n)[o]),
      );
    const hv = hs.map((h) => h.toNumbers());
    const tok = (l: number, b: number, t: number) =>
      hv[l].slice((b * T + t) * H, (b * T + t + 1) * H);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const mean = Array.from(
          { length: H },
          (_, i) => [0, 1, 2].reduce((s, l) => s + tok(l, b, t)[i], 0) / L,
        );
        const q = lin("q_proj", mean);
        const ks = [0, 1, 2].map((l) => lin("k_proj", tok(l, b, t)));
        const vs = [0, 1, 2].map((l) => lin("v_proj", tok(l, b, t)));
        const sc = ks.map((k) => k.reduce((s, ki, i) => s + ki * q[i], 0) / Math.sqrt(H));
        const m = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((x, y) => x + y);
        const mix = Array.from(
          { length: H },
          (_, i) => vs.reduce((s, v, l) => s + (e[l] / z) * v[i], 0),
        );
        const want = lin("o_proj", mix);
        const got = out.slice((b * T + t) * H, (b * T + t + 1) * H);
        want.forEach((v, i) => assert.ok(Math.abs(v - got[i]) < 1e-10, `token ${b},${t}`));
      }
    }
    for (const m of [w, a, att]) m.dispose();
  });
});

Deno.test("aggregator: parameter names and shapes follow security_components.safetensors", () => {
  const shapes = (kind: typeof AGGREGATIONS[number]) => {
    const m = new MultiLayerAggregator(kind, 4, 6);
    const r = Object.fromEntries(m.namedParameters().map(([n, t]) => [n, [...t.shape]]));
    m.dispose();
    return r;
  };
  assert.deepEqual(shapes("attention"), {
    "q_proj.weight": [6, 6],
    "q_proj.bias": [6],
    "k_proj.weight": [6, 6],
    "k_proj.bias": [6],
    "v_proj.weight": [6, 6],
    "v_proj.bias": [6],
    "o_proj.weight": [6, 6],
    "o_proj.bias": [6],
  });
  assert.deepEqual(shapes("weighted"), { layer_logits: [4] });
  assert.deepEqual(shapes("concat"), { "proj.weight": [6, 24], "proj.bias": [6] });
  assert.deepEqual(shapes("average"), {});
  assert.deepEqual(shapes("last_layer"), {});
});

Deno.test("aggregator: bad inputs are clear errors", () => {
  assert.throws(
    () => parseAggregation("max"),
    /unknown aggregation "max": expected one of attention/,
  );
  assert.throws(() => new MultiLayerAggregator("average", 0, 4), AggregationError);
  const m = new MultiLayerAggregator("average", 2, 4);
  tidy(() => {
    assert.throws(() => m.forward([randn([1, 2, 4])]), /expects 2 hidden states, got 1/);
    assert.throws(() => m.forward([randn([1, 2, 3]), randn([1, 2, 3])]), /width 3/);
  });
});
