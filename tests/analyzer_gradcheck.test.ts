import assert from "node:assert/strict";
import { manualSeed, randn, type Tensor, tensor, tidy } from "../ffi/mod.ts";
import { SecurityAnalyzer, TokenSecurityStats } from "../lib/analyzer/mod.ts";
import { ComponentsError, SecurityComponents } from "../lib/deepguard/mod.ts";
import { gradCheck } from "../lib/train/gradcheck.ts";

const B = 2, T = 3, H = 6, V = 11;

Deno.test("analyzer: finite-difference gradients (f64) for every parameter and the input", () => {
  manualSeed(5);
  const an = new SecurityAnalyzer(H, V, { dtype: "f64" }).eval();
  const agg = randn([B, T, H], { dtype: "f64" }).requiresGrad_();
  const ids = tensor([1, 4, 9, 4, 0, 10], [B, T], { dtype: "i64" });
  const r = randn([B, T], { dtype: "f64" });
  const loss = () => tidy(() => an.forward(agg, ids).mul(r).sum());
  const named: [string, Tensor][] = [...an.namedParameters(), ["aggregated", agg]];
  assert.deepEqual(named.map(([n]) => n).sort(), [
    "aggregated",
    "fc1.bias",
    "fc1.weight",
    "fc2.bias",
    "fc2.weight",
    "fc3.bias",
    "fc3.weight",
    "norm1.bias",
    "norm1.weight",
    "norm2.bias",
    "norm2.weight",
    "out.bias",
    "out.weight",
    "token_embedding.weight",
  ]);
  const res = gradCheck(loss, named, { perTensor: 3 });
  // central differences (step 1e-6, f64) carry ~2e-16·|loss|/1e-6 of rounding: the absolute
  // tolerance for exactly-zero gradients scales with the loss
  const zeroTol = 1e-9 * Math.max(1, Math.abs(tidy(() => loss().item())));
  for (const e of res) {
    assert.ok(
      e.relErr < 1e-5 || e.absErr < zeroTol,
      `${e.name}[${e.index}]: ${e.analytic} vs ${e.numeric}`,
    );
  }
  // the embedding row of an unused id gets exactly zero gradient
  tidy(() => {
    const g = an.getSubmodule("token_embedding").getParameter("weight").grad!;
    assert.equal(g.select(0, 2).abs().sum().item(), 0);
    assert.ok(g.select(0, 4).abs().sum().item() > 0);
  });
  for (const t of [agg, ids, r]) t.dispose();
  an.dispose();
});

Deno.test("analyzer: scores in (0,1), shapes, init, dropout only in training mode", () => {
  manualSeed(1);
  const an = new SecurityAnalyzer(H, V);
  tidy(() => {
    const p = Object.fromEntries(an.namedParameters().map(([n, t]) => [n, t]));
    assert.deepEqual(p["fc1.weight"].shape, [512, H + 128]);
    assert.deepEqual(p["out.weight"].shape, [1, 128]);
    assert.deepEqual(p["token_embedding.weight"].shape, [V, 128]);
    assert.equal(p["fc1.bias"].abs().sum().item(), 0);
    const bound = Math.sqrt(6 / (512 + H + 128));
    assert.ok(p["fc1.weight"].abs().maxAll().item() <= bound);
    const std = p["token_embedding.weight"].pow(2).mean().sqrt().item();
    assert.ok(Math.abs(std - 0.02) < 0.003, `embedding std ${std}`);
    const x = randn([B, T, H]);
    const ids = tensor([1, 2, 3, 4, 5, 6], [B, T], { dtype: "i64" });
    an.eval();
    const s = an.forward(x, ids);
    assert.deepEqual(s.shape, [B, T]);
    for (const v of s.toNumbers()) assert.ok(v > 0 && v < 1);
    assert.equal(an.forward(x, ids).sub(s).abs().maxAll().item(), 0);
    an.train();
    const d = an.forward(x, ids).sub(s).abs().maxAll().item();
    assert.ok(d > 0, "dropout must change the scores in training mode");
    assert.throws(() => an.forward(randn([B, T, H + 1]), ids), /does not match/);
  });
  an.dispose();
});

Deno.test("token stats: −0.01 per vulnerable, +0.01 per secure occurrence, padding skipped, clamped", () => {
  const st = new TokenSecurityStats(5);
  st.update([[1, 1, 2, 0]], [[1, 1, 1, 0]], [[2, 3, 0]], [[1, 1, 0]]);
  assert.ok(Math.abs(st.get(1) + 0.02) < 1e-7);
  assert.ok(Math.abs(st.get(2)) < 1e-7);
  assert.ok(Math.abs(st.get(3) - 0.01) < 1e-7);
  assert.equal(st.get(0), 0); // only padding
  for (let i = 0; i < 150; i++) st.update([[4]], [[1]], [[3]], [[1]]);
  assert.equal(st.get(4), -1);
  assert.equal(st.get(3), 1);
  assert.throws(() => st.update([[9]], [[1]], [], []), /outside the vocabulary/);
});

Deno.test("components: save → load round-trips every tensor and the stats; wrong base model refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_comp_" });
  manualSeed(2);
  const c = new SecurityComponents({
    aggregation: "concat",
    numLayers: 3,
    hiddenSize: H,
    vocabSize: V,
  });
  c.stats.update([[1]], [[1]], [[2, 2]], [[1, 1]]);
  await c.save(dir, { base_model: "tiny" });
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/security_config.json`));
  assert.deepEqual(
    { ...cfg },
    {
      aggregation: "concat",
      num_layers: 3,
      hidden_size: H,
      vocab_size: V,
      security_embed_dim: 128,
      base_model: "tiny",
    },
  );
  const { components: d } = await SecurityComponents.load(dir, {
    hiddenSize: H,
    vocabSize: V,
    numLayers: 2,
  });
  const a = c.stateDict(), b = d.stateDict();
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    tidy(() => assert.equal(t.sub(b.get(k)!).abs().maxAll().item(), 0, k));
  }
  assert.deepEqual([...d.stats.values], [...c.stats.values]);
  await assert.rejects(
    SecurityComponents.load(dir, { hiddenSize: H + 2 }),
    (e: unknown) =>
      e instanceof ComponentsError &&
      /hidden size 6, but this model has hidden size 8: the adapter belongs to a different base model/
        .test(e.message),
  );
  await assert.rejects(
    SecurityComponents.load(dir, { numLayers: 1 }),
    /aggregates 3 hidden states/,
  );
  await Deno.writeTextFile(
    `${dir}/security_config.json`,
    JSON.stringify({ ...cfg, aggregation: "attention" }),
  );
  await assert.rejects(
    SecurityComponents.load(dir),
    /missing \[aggregator\.q_proj\.weight.*unexpected \[aggregator\.proj/,
  );
  c.dispose();
  d.dispose();
  await Deno.remove(dir, { recursive: true });
});
