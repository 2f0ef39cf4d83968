/** lib/nn: parameter naming, state dicts, freezing, modes, and layer math vs closed forms. */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import {
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  linearWarmupDecay,
  Module,
  ModuleList,
  RMSNorm,
  Sequential,
  StateDictError,
} from "../lib/nn/mod.ts";

class Block extends Module {
  readonly q_proj = this.registerModule("q_proj", new Linear(4, 4, true));
  readonly norm = this.registerModule("input_layernorm", new RMSNorm(4));
}
class Net extends Module {
  readonly layers = this.registerModule(
    "layers",
    new Sequential(new Linear(4, 4), new Linear(4, 2, false)),
  );
  readonly block = this.registerModule("block", new Block());
}

Deno.test("parameters carry Hugging Face style dotted names", () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    "layers.0.weight",
    "layers.0.bias",
    "layers.1.weight",
    "block.q_proj.weight",
    "block.q_proj.bias",
    "block.input_layernorm.weight",
  ]);
  assert.ok(net.getSubmodule("block.q_proj") instanceof Linear);
  assert.throws(() => net.getSubmodule("block.k_proj"), StateDictError);
  net.dispose();
});

Deno.test("state dicts load by name with strict checks, and freezing stops gradients", () => {
  const a = new Net();
  const b = new Net();
  b.loadStateDict(a.stateDict());
  T.tidy(() => {
    for (const [name, t] of a.stateDict()) {
      assert.deepEqual(b.stateDict().get(name)!.toNumbers(), t.toNumbers(), name);
    }
  });
  const partial = new Map([...a.stateDict()].slice(1));
  assert.throws(() => b.loadStateDict(partial), /missing \[layers\.0\.weight\]/);
  T.tidy(() => {
    const wrong = new Map([["layers.0.weight", T.zeros([3, 3])]]);
    assert.throws(() => b.loadStateDict(wrong, false), /shape \[3,3\] does not match.*\[4,4\]/);
  });
  b.freeze();
  assert.equal(b.trainableParameters().length, 0);
  b.block.unfreeze();
  assert.equal(b.trainableParameters().length, 3);
  a.dispose();
  b.dispose();
});

Deno.test("setSubmodule replaces a layer in place (how LoRA wraps projections)", () => {
  const net = new Net();
  const replacement = new Linear(4, 4, false);
  net.setSubmodule("block.q_proj", replacement);
  assert.equal(net.getSubmodule("block.q_proj"), replacement);
  assert.ok(!net.namedParameters().some(([n]) => n === "block.q_proj.bias"));
  net.dispose();
});

Deno.test("setSubmodule keeps a same-named field, a ModuleList and a Sequential in step", () => {
  const net = new Net();
  const q = new Linear(4, 4, false);
  net.setSubmodule("block.q_proj", q);
  assert.equal(net.block.q_proj, q, "field of the same name follows");
  const n = new RMSNorm(4);
  net.setSubmodule("block.input_layernorm", n);
  assert.notEqual(net.block.norm, n, "a field under another name is left alone");
  const l1 = new Linear(4, 2, false);
  net.setSubmodule("layers.1", l1);
  assert.equal(net.layers.layers[1], l1, "Sequential's list follows");
  const list = new ModuleList([new Linear(2, 2), new Linear(2, 2)]);
  const r = new Linear(2, 2);
  list.setSubmodule("0", r);
  assert.equal(list.items[0], r, "ModuleList's items follow");
  assert.deepEqual(list.namedParameters().map(([k]) => k), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
  ]);
  list.dispose();
  net.dispose();
});

Deno.test("RMSNorm, LayerNorm, Linear, Embedding match their closed forms", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3, 4, -1, 0, 1, 2], [2, 4]);
    const rms = new RMSNorm(4, 1e-6).forward(x).toNumbers();
    const rows = [[1, 2, 3, 4], [-1, 0, 1, 2]];
    const expect = rows.flatMap((r) => {
      const ms = r.reduce((s, v) => s + v * v, 0) / r.length;
      return r.map((v) => v / Math.sqrt(ms + 1e-6));
    });
    expect.forEach((v, i) => assert.ok(Math.abs(rms[i] - v) < 1e-6));
    const ln = new LayerNorm(4).forward(x).toNumbers();
    const expectLn = rows.flatMap((r) => {
      const mu = r.reduce((s, v) => s + v, 0) / 4;
      const vr = r.reduce((s, v) => s + (v - mu) ** 2, 0) / 4;
      return r.map((v) => (v - mu) / Math.sqrt(vr + 1e-5));
    });
    expectLn.forEach((v, i) => assert.ok(Math.abs(ln[i] - v) < 1e-5));
    // RMSNorm in bf16 computes in f32 and casts back before the weight.
    const xb = x.to("bf16");
    assert.equal(new RMSNorm(4, 1e-6, { dtype: "bf16" }).forward(xb).dtype, "bf16");
    const lin = new Linear(4, 3);
    const y = lin.forward(x).toNumbers();
    const w = lin.weight.toNumbers();
    const bias = lin.bias!.toNumbers();
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 3; o++) {
        const v = rows[r].reduce((s, xv, i) => s + xv * w[o * 4 + i], bias[o]);
        assert.ok(Math.abs(y[r * 3 + o] - v) < 1e-5);
      }
    }
    // Default Linear init: U(−1/√in, 1/√in) for weight and bias.
    assert.ok(w.every((v) => Math.abs(v) <= 0.5));
    const emb = new Embedding(5, 2);
    const e = emb.forward(T.tensor(new BigInt64Array([4n, 0n]))).toNumbers();
    const table = emb.weight.toNumbers();
    assert.deepEqual(e, [table[8], table[9], table[0], table[1]]);
    lin.dispose();
    emb.dispose();
  });
});

Deno.test("dropout is active only in training mode", () => {
  T.tidy(() => {
    const d = new Dropout(0.5);
    const x = T.ones([1000]);
    const y = d.forward(x).toNumbers();
    assert.ok(y.some((v) => v === 0) && y.some((v) => v === 2));
    d.eval();
    assert.equal(d.forward(x), x);
    assert.throws(() => new Dropout(1), RangeError);
  });
});

Deno.test("linear warm-up then linear decay", () => {
  assert.equal(linearWarmupDecay(0, 10, 100), 0);
  assert.equal(linearWarmupDecay(5, 10, 100), 0.5);
  assert.equal(linearWarmupDecay(10, 10, 100), 1);
  assert.equal(linearWarmupDecay(55, 10, 100), 0.5);
  assert.equal(linearWarmupDecay(100, 10, 100), 0);
});

Deno.test("RMSNorm: the one-op form is bit-identical to Hugging Face's op-by-op order (f32, bf16)", () => {
  T.tidy(() => {
    T.manualSeed(3);
    for (const dtype of ["f32", "bf16"] as const) {
      const x = T.randn([3, 5, 64]).mul(3).to(dtype);
      const norm = new RMSNorm(64, 1e-6, { dtype });
      T.noGrad(() => norm.weight.copy_(T.randn([64]).to(dtype)));
      // HF: x.to(f32); x * rsqrt(mean(x²) + eps); .to(input dtype); weight * that
      const x32 = x.to("f32");
      const hf = norm.weight.mul(x32.mul(x32.pow(2).mean(-1, true).add(1e-6).rsqrt()).to(dtype));
      const got = norm.forward(x);
      assert.equal(got.dtype, dtype);
      assert.equal(got.ne(hf).sum().item(), 0, `${dtype}: elements that differ`);
      assert.equal(T.countOps(() => norm.forward(x)).counts.ops, dtype === "f32" ? 1 : 2);
    }
  });
});
