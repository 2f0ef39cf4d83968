/**
 * `deno task demo`: the main job on an embedded default. For now: a small MLP built from the
 * toolkit's layers learns a toy task (two interleaved spirals) with AdamW, printing the loss.
 * @module
 */
import * as T from "../ffi/mod.ts";
import { AdamW, Linear, Module } from "../lib/nn/mod.ts";

class Mlp extends Module {
  readonly fc1 = this.registerModule("fc1", new Linear(2, 64));
  readonly fc2 = this.registerModule("fc2", new Linear(64, 64));
  readonly out = this.registerModule("out", new Linear(64, 1));
  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => this.out.forward(this.fc2.forward(this.fc1.forward(x).tanh()).tanh()));
  }
}

T.manualSeed(0);
const n = 256;
const xs: number[] = [];
const ys: number[] = [];
for (let i = 0; i < n; i++) {
  const r = (i % (n / 2)) / (n / 2) * 3;
  const sign = i < n / 2 ? 1 : -1;
  xs.push(sign * r * Math.cos(r * 2), sign * r * Math.sin(r * 2));
  ys.push(i < n / 2 ? 1 : 0);
}
const x = T.tensor(xs, [n, 2]).keep();
const y = T.tensor(ys, [n, 1]).keep();
const model = new Mlp();
const opt = new AdamW(model.namedParameters(), { lr: 0.01, weightDecay: 0 });
for (let step = 1; step <= 400; step++) {
  const loss = T.tidy(() => {
    opt.zeroGrad();
    const logits = model.forward(x);
    const l = logits.sigmoid().clamp(1e-6, 1 - 1e-6);
    const bce = y.mul(l.log()).add(y.rsub(1).mul(l.rsub(1).log())).mean().neg();
    bce.backward();
    opt.step();
    return bce.item();
  });
  if (step === 1 || step % 50 === 0) {
    console.log(`step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}`);
  }
}
