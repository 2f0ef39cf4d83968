import assert from "node:assert/strict";
import { liveTensors, noGrad, type Tensor, tensor, tidy } from "../ffi/mod.ts";
import { Linear, Module } from "../lib/nn/mod.ts";
import { CheckpointError, ConfigError } from "../lib/model/errors.ts";
import { loadModel } from "../lib/model/load.ts";
import {
  readHeader,
  readTensorBytes,
  type WriteEntry,
  writeSafetensors,
} from "../lib/model/safetensors.ts";
import { makeTiny } from "../lib/model/tiny.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_load_" });
await makeTiny("qwen2", `${dir}/q`);
await makeTiny("llama", `${dir}/l`);

/** Copy a tiny checkpoint, rewriting its safetensors through `edit`. */
async function variant(src: string, name: string, edit: (e: WriteEntry[]) => WriteEntry[]) {
  const out = `${dir}/${name}`;
  await Deno.mkdir(out);
  for (
    const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]
  ) {
    await Deno.copyFile(`${src}/${f}`, `${out}/${f}`);
  }
  const h = await readHeader(`${src}/model.safetensors`);
  const entries: WriteEntry[] = [];
  for (const [n, info] of h.tensors) {
    entries.push({
      name: n,
      dtype: info.dtype,
      shape: info.shape,
      bytes: await readTensorBytes(info),
    });
  }
  await writeSafetensors(`${out}/model.safetensors`, edit(entries));
  return out;
}

Deno.test("load: parameter names are exactly the checkpoint's HF names; tied head is not duplicated", async () => {
  for (const a of ["q", "l"]) {
    const m = await loadModel(`${dir}/${a}`);
    const h = await readHeader(`${dir}/${a}/model.safetensors`);
    assert.deepEqual(m.namedParameters().map(([n]) => n).sort(), [...h.tensors.keys()].sort());
    assert.equal(m.layers.length, m.config.numLayers);
    m.dispose();
  }
});

Deno.test("load: missing tensor, shape mismatch, unexpected tensor, unknown model_type are typed errors", async () => {
  const missing = await variant(
    `${dir}/q`,
    "missing",
    (e) => e.filter((x) => x.name !== "model.layers.1.mlp.up_proj.weight"),
  );
  await assert.rejects(loadModel(missing), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.equal(e.code, "missing_tensor");
    assert.equal(e.tensor, "model.layers.1.mlp.up_proj.weight");
    return true;
  });
  const shape = await variant(
    `${dir}/q`,
    "shape",
    (e) =>
      e.map((x) =>
        x.name === "model.norm.weight" && "bytes" in x ? { ...x, shape: [x.shape[0] / 2, 2] } : x
      ),
  );
  await assert.rejects(loadModel(shape), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.equal(e.code, "shape_mismatch");
    assert.equal(e.tensor, "model.norm.weight");
    assert.match(e.message, /config\.json/);
    return true;
  });
  const extra = await variant(`${dir}/q`, "extra", (e) => [
    ...e,
    {
      name: "model.layers.9.mlp.up_proj.weight",
      dtype: "F32",
      shape: [1],
      bytes: new Uint8Array(4),
    },
  ]);
  await assert.rejects(
    loadModel(extra),
    (e: unknown) => e instanceof CheckpointError && e.code === "unexpected_tensor",
  );
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/q/config.json`));
  await Deno.writeTextFile(
    `${extra}/config.json`,
    JSON.stringify({ ...cfg, model_type: "mistral" }),
  );
  await assert.rejects(
    loadModel(extra),
    (e: unknown) => e instanceof ConfigError && e.code === "unknown_model_type",
  );
});

Deno.test("forward: N+1 hidden states (last one final-normed), per-layer API = full forward, bf16 close to f32", async () => {
  const m = await loadModel(`${dir}/l`);
  const ids = [[1, 2, 3, 4, 5, 6, 7]];
  noGrad(() =>
    tidy(() => {
      const out = m.forward(ids, { outputHiddenStates: true });
      const hs = out.hiddenStates!;
      assert.equal(hs.length, m.config.numLayers + 1);
      // manual per-layer pass
      const ctx = m.context(1, 7);
      let h = m.embed(toIds(ids));
      assert.equal(diff(h, hs[0]), 0);
      for (const [i, layer] of m.layers.entries()) {
        h = layer.forward(h, ctx);
        if (i < m.layers.length - 1) assert.equal(diff(h, hs[i + 1]), 0);
      }
      const normed = m.finalNorm(h);
      assert.equal(diff(normed, hs[hs.length - 1]), 0);
      assert.equal(diff(m.lmHead(normed), out.logits), 0);
      // lastHiddenStates: the same tail of the list, without logits, nothing left behind
      for (const n of [1, 3, hs.length]) {
        const live = liveTensors();
        const last = m.lastHiddenStates(ids, n);
        assert.equal(liveTensors(), live + n);
        assert.equal(last.length, n);
        last.forEach((t, i) => assert.equal(diff(t, hs[hs.length - n + i]), 0, `n=${n} i=${i}`));
        last.forEach((t) => t.dispose());
      }
      assert.throws(() => m.lastHiddenStates(ids, hs.length + 1), RangeError);
    })
  );
  const b = await loadModel(`${dir}/l`, { dtype: "bf16" });
  noGrad(() =>
    tidy(() => {
      const lf = m.forward(ids).logits;
      const lb = b.forward(ids).logits;
      assert.equal(lb.dtype, "bf16");
      assert.ok(diff(lf, lb.to("f32")) < 0.1, "bf16 logits close to f32");
    })
  );
  m.dispose();
  b.dispose();
});

Deno.test("LoRA-style replacement by HF name, training mode and gradients", async () => {
  const m = await loadModel(`${dir}/q`);
  const name = "model.layers.0.self_attn.q_proj";
  const base = m.getSubmodule(name) as Linear;
  class Wrapped extends Module {
    readonly inner: Linear;
    readonly delta: Linear;
    constructor(inner: Linear) {
      super();
      this.inner = this.registerModule("base_layer", inner);
      this.delta = this.registerModule(
        "lora_A",
        new Linear(inner.inFeatures, inner.outFeatures, false),
      );
    }
    forward(x: Tensor): Tensor {
      return this.inner.forward(x).add(this.delta.forward(x));
    }
  }
  assert.equal(base.inFeatures, m.config.hiddenSize);
  const ids = [[5, 6, 7, 8]];
  const before = noGrad(() => m.forward(ids).logits.keep());
  m.setSubmodule(name, new Wrapped(base));
  m.train();
  const out = m.forward(ids);
  const loss = out.logits.pow(2).mean();
  loss.backward();
  const g = (m.getSubmodule(`${name}.lora_A`) as Linear).weight.grad;
  assert.ok(g !== null && g.abs().maxAll().item() > 0, "gradient reaches the replaced module");
  assert.equal(base.weight.grad, null, "frozen base gets no gradient");
  m.eval();
  const after = noGrad(() => m.forward(ids).logits);
  assert.ok(diff(before, after) > 0, "replacement changes the output");
  m.dispose();
});

function toIds(ids: number[][]): Tensor {
  return tensor(new BigInt64Array(ids.flat().map(BigInt)), [ids.length, ids[0].length], {
    dtype: "i64",
  });
}
function diff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().maxAll().item());
}

Deno.test("load: a bf16 checkpoint loads as f32 and bf16; writeSafetensors takes ffi tensors", async () => {
  // bf16 = upper 16 bits of f32 (truncation is fine for the test)
  const bf = await variant(`${dir}/l`, "bf16", (e) =>
    e.map((x) => {
      if (!("bytes" in x)) return x;
      const f = new Uint32Array(x.bytes.slice().buffer);
      const h = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) h[i] = f[i] >>> 16;
      return { ...x, dtype: "BF16", bytes: new Uint8Array(h.buffer) };
    }));
  const ref = await loadModel(`${dir}/l`);
  const m32 = await loadModel(bf);
  const m16 = await loadModel(bf, { dtype: "bf16" });
  const ids = [[3, 1, 4, 1, 5]];
  noGrad(() =>
    tidy(() => {
      const a = ref.forward(ids).logits;
      assert.ok(diff(a, m32.forward(ids).logits) < 0.1);
      assert.ok(diff(a, m16.forward(ids).logits.to("f32")) < 0.2);
      const w = m16.getSubmodule("model.layers.0.self_attn.q_proj") as Linear;
      assert.equal(w.weight.dtype, "bf16");
    })
  );
  const path = `${dir}/adapter.safetensors`;
  const w = (m16.getSubmodule("model.layers.0.self_attn.q_proj") as Linear).weight;
  await writeSafetensors(path, [{
    name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
    tensor: w,
  }]);
  const h = await readHeader(path);
  const info = [...h.tensors.values()][0];
  assert.equal(info.dtype, "BF16");
  assert.deepEqual(info.shape, [...w.shape]);
  assert.deepEqual(h.metadata, { format: "pt" });
  for (const m of [ref, m32, m16]) m.dispose();
});

Deno.test("load: fused GEMMs and column-major layout give the plain forward; same params", async () => {
  for (const a of ["q", "l"]) {
    const fused = await loadModel(`${dir}/${a}`);
    const plain = await loadModel(`${dir}/${a}`, { fuse: false, layout: "row" });
    const ids = [[9, 8, 7, 6, 5, 4]];
    noGrad(() =>
      tidy(() => assert.ok(diff(fused.forward(ids).logits, plain.forward(ids).logits) < 1e-5))
    );
    assert.deepEqual(
      fused.namedParameters().map(([n, t]) => `${n}:${t.shape}`),
      plain.namedParameters().map(([n, t]) => `${n}:${t.shape}`),
    );
    fused.dispose();
    plain.dispose();
  }
});
