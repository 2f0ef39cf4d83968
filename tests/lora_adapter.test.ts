/** LoRA: wrapping by HF name, the forward formula, enable/disable, merge, PEFT save/load. */
import assert from "node:assert/strict";
import { linear, manualSeed, noGrad, randn, tidy } from "../ffi/mod.ts";
import { Linear } from "../lib/nn/mod.ts";
import {
  AdapterError,
  applyLora,
  defaultLoraConfig,
  loadLora,
  LoraLinear,
  parsePeftAdapterConfig,
} from "../lib/lora/mod.ts";
import { loadModel } from "../lib/model/load.ts";
import { readHeader } from "../lib/model/safetensors.ts";
import { tinyModels } from "./util_tiny.ts";
import { TEST_DEVICE } from "./util_device.ts";

const dir = await tinyModels("dg_lora_", { qwen: "qwen2", llama: "llama" }, { layers: 2 });
const IDS = [[5, 17, 40, 99, 3, 250, 7]];

Deno.test("LoraLinear: y = xWᵀ + b + (α/r)·B·A·x; disabled = base; merge/unmerge (f64)", () => {
  manualSeed(4);
  tidy(() => {
    const base = new Linear(6, 5, true, { dtype: "f64" });
    const w = base.weight.clone(), b = base.bias!.clone();
    const l = new LoraLinear(base, { r: 3, alpha: 12, dropout: 0.5, dtype: "f64" }).eval();
    assert.equal(l.scale, 4);
    const x = randn([2, 6], { dtype: "f64" });
    assert.equal(l.forward(x).sub(linear(x, w, b)).abs().maxAll().item(), 0, "B = 0 → no-op");
    noGrad(() => l.loraB.copy_(randn([5, 3], { dtype: "f64" })));
    const want = linear(x, w, b).add(
      x.matmul(l.loraA.transpose(0, 1)).matmul(l.loraB.transpose(0, 1)).mul(4),
    );
    assert.ok(l.forward(x).sub(want).abs().maxAll().item() < 1e-12);
    l.enabled = false;
    assert.equal(l.forward(x).sub(linear(x, w, b)).abs().maxAll().item(), 0);
    l.enabled = true;
    l.merge();
    assert.ok(l.merged);
    assert.ok(l.forward(x).sub(want).abs().maxAll().item() < 1e-12);
    l.unmerge();
    assert.ok(l.getParameter("weight").sub(w).abs().maxAll().item() < 1e-12);
    // dropout only in training mode
    l.train();
    assert.ok(l.forward(x).sub(want).abs().maxAll().item() > 0);
    // A: Kaiming-uniform a=√5 → |A| ≤ 1/√in
    assert.ok(l.loraA.abs().maxAll().item() <= 1 / Math.sqrt(6));
    assert.ok(
      l.loraA.requiresGrad && l.loraB.requiresGrad && !l.getParameter("weight").requiresGrad,
    );
    l.dispose();
  });
});

Deno.test("applyLora: wraps exactly the targets by HF name; fresh adapter leaves logits unchanged", async () => {
  for (const arch of ["qwen", "llama"] as const) {
    const lm = await loadModel(`${dir}/${arch}`, { device: TEST_DEVICE });
    const before = noGrad(() => tidy(() => lm.forward(IDS).logits.toNumbers()));
    const cfg = defaultLoraConfig(lm.config.modelType);
    assert.deepEqual(
      cfg.targetModules,
      arch === "qwen" ? ["q_proj", "v_proj"] : ["q_proj", "k_proj", "v_proj", "o_proj"],
    );
    const ad = applyLora(lm, cfg);
    const names = ad.layers.map(([n]) => n);
    const per = cfg.targetModules.length;
    assert.equal(names.length, 2 * per);
    assert.ok(names.includes("model.layers.1.self_attn.v_proj"));
    assert.ok(lm.getSubmodule("model.layers.0.self_attn.q_proj") instanceof LoraLinear);
    // base parameter names unchanged; only LoRA tensors train
    assert.ok(lm.stateDict().has("model.layers.0.self_attn.q_proj.weight"));
    const trainable = lm.trainableParameters().map(([n]) => n);
    assert.equal(trainable.length, 4 * per);
    assert.ok(trainable.every((n) => /\.lora_[AB]\.weight$/.test(n)));
    const after = noGrad(() => tidy(() => lm.forward(IDS).logits.toNumbers()));
    assert.deepEqual(after, before);
    lm.dispose();
  }
});

Deno.test("LoRA save/load: PEFT files, exact keys and names; reload gives the same logits", async () => {
  manualSeed(9);
  const lm = await loadModel(`${dir}/llama`, { device: TEST_DEVICE });
  const ad = applyLora(lm, { ...defaultLoraConfig("llama"), r: 4, alpha: 8 });
  noGrad(() =>
    tidy(() => ad.namedParameters().forEach(([, t]) => t.copy_(randn(t.shape).mul(0.1))))
  );
  const logits = noGrad(() => tidy(() => lm.forward(IDS).logits.toNumbers()));
  const base = noGrad(() => tidy(() => ad.withDisabled(() => lm.forward(IDS).logits.toNumbers())));
  assert.ok(base.some((v, i) => Math.abs(v - logits[i]) > 1e-4));
  assert.ok(ad.layers.every(([, l]) => l.enabled), "withDisabled restores");
  await ad.save(`${dir}/adapter`, `${dir}/llama`);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/adapter/adapter_config.json`));
  assert.deepEqual(Object.keys(cfg).sort(), [
    "alpha_pattern",
    "base_model_name_or_path",
    "bias",
    "fan_in_fan_out",
    "inference_mode",
    "init_lora_weights",
    "layers_pattern",
    "layers_to_transform",
    "lora_alpha",
    "lora_dropout",
    "modules_to_save",
    "peft_type",
    "r",
    "rank_pattern",
    "revision",
    "target_modules",
    "task_type",
    "use_dora",
    "use_rslora",
  ]);
  assert.equal(cfg.peft_type, "LORA");
  assert.equal(cfg.task_type, "CAUSAL_LM");
  assert.equal(cfg.r, 4);
  const h = await readHeader(`${dir}/adapter/adapter_model.safetensors`);
  assert.deepEqual(h.metadata, { format: "pt" });
  assert.deepEqual(
    h.tensors.get("base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight")!.shape,
    [4, 64],
  );
  assert.deepEqual(
    h.tensors.get("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight")!.shape,
    [32, 4],
  );
  assert.equal(h.tensors.size, 2 * 4 * 2);
  lm.dispose();

  const lm2 = await loadModel(`${dir}/llama`, { device: TEST_DEVICE });
  const ad2 = await loadLora(lm2, `${dir}/adapter`);
  assert.equal(ad2.config.r, 4);
  const again = noGrad(() => tidy(() => lm2.forward(IDS).logits.toNumbers()));
  assert.deepEqual(again, logits);
  lm2.dispose();
});

Deno.test("LoRA errors: unmatched targets, non-Linear targets, unsupported PEFT configs", async () => {
  const lm = await loadModel(`${dir}/qwen`, { device: TEST_DEVICE });
  assert.throws(
    () => applyLora(lm, { r: 2, alpha: 4, dropout: 0, targetModules: ["x_proj"] }),
    /\[x_proj\] match no Linear layer/,
  );
  assert.throws(
    () => applyLora(lm, { r: 2, alpha: 4, dropout: 0, targetModules: ["mlp"] }),
    /is a MLP, not a Linear layer/,
  );
  lm.dispose();
  const ok = { peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["q_proj"] };
  assert.equal(parsePeftAdapterConfig(ok, "f").alpha, 16);
  assert.throws(
    () => parsePeftAdapterConfig({ ...ok, use_dora: true }, "f.json"),
    /f\.json: DoRA adapters are not supported/,
  );
  assert.throws(
    () => parsePeftAdapterConfig({ ...ok, peft_type: "IA3" }, "f"),
    /peft_type must be "LORA"/,
  );
  assert.throws(
    () => parsePeftAdapterConfig({ ...ok, target_modules: ".*proj" }, "f"),
    /regex target_modules/,
  );
  assert.throws(() => parsePeftAdapterConfig({ ...ok, r: 0 }, "f"), AdapterError);
});

Deno.test("LoRA over a bf16 base: adapters stay f32, activations stay bf16", async () => {
  const lm = await loadModel(`${dir}/qwen`, { dtype: "bf16", device: TEST_DEVICE });
  const ad = applyLora(lm, defaultLoraConfig("qwen2"));
  assert.ok(ad.namedParameters().every(([, t]) => t.dtype === "f32"));
  const out = noGrad(() =>
    tidy(() => {
      const l = lm.forward(IDS).logits;
      return [l.dtype, l.isfinite().logicalNot().any().item()] as const;
    })
  );
  assert.deepEqual(out, ["bf16", 0]);
  lm.dispose();
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
