/**
 * The fused q/k/v and gate/up GEMMs are decided when the model is built and re-decided when
 * adapters are attached, merged, unmerged or removed — and each state computes what the
 * per-module path computes.
 */
import assert from "node:assert/strict";
import { noGrad, type Tensor, tidy } from "../ffi/mod.ts";
import { applyLora } from "../lib/lora/mod.ts";
import { loadModel } from "../lib/model/load.ts";
import type { DecoderLM } from "../lib/model/qwen_llama.ts";
import { makeTiny } from "../lib/model/tiny.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_fusion_" });
await makeTiny("qwen2", dir, { layers: 2 });
const ids = [[9, 8, 7, 6, 5, 4]];

function logits(m: DecoderLM): Tensor {
  return noGrad(() => m.forward(ids).logits.keep());
}
function diff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().maxAll().item());
}
function fusedState(m: DecoderLM): string {
  return m.layers.map((l) => `${l.self_attn.fused ? "A" : "a"}${l.mlp.fused ? "M" : "m"}`).join();
}

Deno.test("fusion: on at load, off while an unmerged adapter sits on q/k/v, on again after merge and removal", async () => {
  const m = await loadModel(dir);
  const plain = await loadModel(dir, { fuse: false });
  assert.equal(fusedState(m), "AM,AM");
  assert.equal(fusedState(plain), "am,am");
  const base = logits(plain);
  assert.ok(diff(logits(m), base) < 1e-5);

  const q0 = m.layers[0].self_attn.q_proj;
  const ad = applyLora(m, { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] });
  assert.equal(
    fusedState(m),
    "aM,aM",
    "attention unfused under an unmerged adapter; MLP untouched",
  );
  assert.equal(m.layers[0].self_attn.q_proj, ad.layers[0][1], "the field follows setSubmodule");
  // a non-zero update, so merging changes the logits
  noGrad(() => ad.layers.forEach(([, l]) => l.loraB.copy_(tidy(() => l.loraB.add(0.05)))));
  const adapted = logits(m);
  assert.ok(diff(adapted, base) > 1e-3, "adapter changes the output");

  ad.merge();
  assert.equal(fusedState(m), "AM,AM", "merged adapters fold into the fused matrix");
  assert.ok(diff(logits(m), adapted) < 1e-5, "fused merged = unfused adapter");

  ad.unmerge();
  assert.equal(fusedState(m), "aM,aM");
  assert.ok(diff(logits(m), adapted) < 1e-5);

  for (const [name, l] of ad.layers) m.setSubmodule(name, l.base);
  assert.equal(fusedState(m), "AM,AM", "adapter removed: fused again");
  assert.equal(m.layers[0].self_attn.q_proj, q0);
  assert.ok(diff(logits(m), base) < 1e-5, "unmerge restored the base weights");
  m.dispose();
  plain.dispose();
});
