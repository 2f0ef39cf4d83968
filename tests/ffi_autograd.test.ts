/** Autograd vs finite differences, AdamW vs its closed form, a toy training run and a leak test. */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import { AdamW, Linear, Sequential } from "../lib/nn/mod.ts";
import { Module } from "../lib/nn/mod.ts";
import { seeded } from "./util_ffi.ts";

/** A two-layer tanh MLP in f64 with its loss, written with raw ops. */
function mlpLoss(p: T.Tensor[], x: T.Tensor, y: T.Tensor): T.Tensor {
  const [w1, b1, w2, b2] = p;
  const h = T.linear(x, w1, b1).tanh();
  return T.linear(h, w2, b2).sub(y).pow(2).mean();
}

Deno.test("MLP gradients match central finite differences", () => {
  T.tidy(() => {
    const r = seeded(11);
    const mk = (...s: number[]) =>
      T.tensor(Array.from({ length: s.reduce((a, b) => a * b) }, () => r()), s, { dtype: "f64" });
    const params = [mk(5, 3), mk(5), mk(2, 5), mk(2)].map((t) => t.requiresGrad_());
    const x = mk(4, 3);
    const y = mk(4, 2);
    mlpLoss(params, x, y).backward();
    const eps = 1e-6;
    for (const p of params) {
      const analytic = p.grad!.toNumbers();
      const base = p.detach().toNumbers();
      for (let i = 0; i < base.length; i++) {
        const at = (delta: number) =>
          T.noGrad(() => {
            const v = [...base];
            v[i] += delta;
            const moved = params.map((q) => q === p ? T.tensor(v, p.shape, { dtype: "f64" }) : q);
            return mlpLoss(moved, x, y).item();
          });
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        assert.ok(
          Math.abs(numeric - analytic[i]) < 1e-7,
          `grad ${i}: ${numeric} vs ${analytic[i]}`,
        );
      }
    }
  });
});

Deno.test("backward with an explicit gradient, detach and noGrad", () => {
  T.tidy(() => {
    const w = T.tensor([1, 2, 3]).requiresGrad_();
    w.mul(w).backward(T.tensor([1, 0, 2]));
    assert.deepEqual(w.grad!.toNumbers(), [2, 0, 12]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    assert.equal(w.detach().requiresGrad, false);
    const z = T.noGrad(() => w.mul(2));
    assert.equal(z.requiresGrad, false);
    assert.equal(T.isGradEnabled(), true);
    // backwardMany: two outputs with their incoming gradients.
    const a = w.mul(2);
    const b = w.mul(w);
    T.backwardMany([a, b], [T.ones([3]), T.tensor([1, 1, 1])]);
    assert.deepEqual(w.grad!.toNumbers(), [4, 6, 8]);
  });
});

Deno.test("one and two AdamW steps equal the closed-form update", () => {
  T.tidy(() => {
    const p0 = [0.5, -1, 2];
    const g = [0.3, -0.2, 0.1]; // gradient of sum(p * g)
    const p = T.tensor(p0).requiresGrad_();
    const opt = new AdamW([["p", p]], { lr: 0.1, weightDecay: 0.01, eps: 1e-8 });
    const gt = T.tensor(g);
    const lossStep = () => {
      opt.zeroGrad();
      T.tidy(() => p.mul(gt).sum().backward());
      opt.step();
    };
    lossStep();
    // step 1: m̂ = g, v̂ = g², p1 = p0(1 − lr·wd) − lr·g/(|g| + eps)
    const p1 = p0.map((v, i) => v * (1 - 0.1 * 0.01) - 0.1 * g[i] / (Math.abs(g[i]) + 1e-8));
    p.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - p1[i]) < 1e-6, `${v} vs ${p1[i]}`));
    lossStep();
    // step 2 with the same gradient: m = (1−b1)(1+b1)g → m̂ = g; v̂ = g² as well.
    const p2 = p1.map((v, i) => v * (1 - 0.1 * 0.01) - 0.1 * g[i] / (Math.abs(g[i]) + 1e-8));
    p.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - p2[i]) < 1e-6, `${v} vs ${p2[i]}`));
    const st = opt.stateTensors();
    assert.deepEqual([...st.keys()], ["p.exp_avg", "p.exp_avg_sq"]);
    opt.dispose();
  });
});

Deno.test("global-norm clipping scales gradients to the bound", () => {
  T.tidy(() => {
    const a = T.tensor([3, 0]).requiresGrad_();
    const b = T.tensor([0, 4]).requiresGrad_();
    a.mul(a).sum().div(2).add(b.mul(b).sum().div(2)).backward(); // grads = [3,0], [0,4]
    const norm = T.clipGradNorm([a, b], 1);
    assert.ok(Math.abs(norm - 5) < 1e-6);
    const ga = a.grad!.toNumbers();
    const gb = b.grad!.toNumbers();
    assert.ok(Math.abs(ga[0] - 0.6) < 1e-5 && Math.abs(gb[1] - 0.8) < 1e-5);
  });
});

class Mlp extends Module {
  net: Sequential;
  constructor() {
    super();
    this.net = this.registerModule(
      "net",
      new Sequential(new Linear(2, 16), new Tanh(), new Linear(16, 1)),
    );
  }
  forward(x: T.Tensor): T.Tensor {
    return this.net.forward(x);
  }
}
class Tanh extends Module {
  forward(x: T.Tensor): T.Tensor {
    return x.tanh();
  }
}

Deno.test("a toy training loop learns XOR and frees every intermediate tensor", () => {
  T.manualSeed(0);
  const model = new Mlp();
  const opt = new AdamW(model.namedParameters(), { lr: 0.05, weightDecay: 0 });
  const x = T.tensor([0, 0, 0, 1, 1, 0, 1, 1], [4, 2]).keep();
  const y = T.tensor([0, 1, 1, 0], [4, 1]).keep();
  let first = NaN;
  let last = NaN;
  const start = T.liveTensors(); // counts the model parameters and x, y
  const nParams = model.parameters().length;
  for (let step = 0; step < 300; step++) {
    last = T.tidy(() => {
      opt.zeroGrad();
      const loss = model.forward(x).sub(y).pow(2).mean();
      loss.backward();
      opt.step();
      return loss.item();
    });
    if (step === 0) first = last;
    if (step === 99) assert.equal(T.liveTensors(), start + 2 * nParams);
  }
  assert.ok(last < 0.01, `loss fell from ${first} to ${last}, expected < 0.01`);
  // after the first step the optimizer holds 2 moments per parameter; nothing else stays alive.
  assert.equal(T.liveTensors(), start + 2 * nParams);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  // the model parameters and x, y were alive at the start; now they are freed too.
  assert.equal(T.liveTensors(), start - nParams - 2);
});
