/**
 * The AdamW step against torch.optim.AdamW(fused=True) on the same values: three steps, two
 * parameters of different dtypes (two kernel groups) and one without a gradient (left as is).
 */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import { AdamW } from "../lib/nn/mod.ts";
import { maxAbsDiff, runPythonJson, seeded, venvPython } from "./util_ffi.ts";

const ORACLE = `
import json, sys, torch
spec = json.load(sys.stdin)
ps = [torch.tensor(v, dtype=getattr(torch, d), requires_grad=True) for v, d in zip(spec["p"], spec["dtypes"])]
opt = torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1, fused=True)
for gs in spec["grads"]:
    for p, g in zip(ps, gs):
        p.grad = None if g is None else torch.tensor(g, dtype=p.dtype)
    opt.step()
print(json.dumps([p.detach().double().tolist() for p in ps]))
`;

Deno.test({
  name: "AdamW: three steps equal torch.optim.AdamW(fused=True), f32 and f64, a param without grad",
  ignore: venvPython() === null,
  async fn() {
    const r = seeded(5);
    const vals = (n: number) => Array.from({ length: n }, () => r(-1, 1));
    const p = [vals(6), vals(4), vals(3)];
    const dtypes = ["float32", "float64", "float32"] as const;
    const grads = [0, 1, 2].map(() => [vals(6), vals(4), null]);
    const script = await Deno.makeTempFile({ suffix: ".py" });
    await Deno.writeTextFile(script, ORACLE);
    const want = await runPythonJson(script, { p, dtypes, grads }) as number[][];
    await Deno.remove(script);
    T.tidy(() => {
      const ts = p.map((v, i) =>
        T.tensor(v, undefined, { dtype: dtypes[i] === "float64" ? "f64" : "f32" }).requiresGrad_()
      );
      const opt = new AdamW(ts.map((t, i) => [`p${i}`, t]), {
        lr: 0.01,
        beta2: 0.99,
        eps: 1e-6,
        weightDecay: 0.1,
      });
      for (const gs of grads) {
        opt.zeroGrad();
        T.tidy(() => {
          const terms = ts.flatMap((t, i) =>
            gs[i] ? [t.mul(T.tensor(gs[i]!, undefined, { dtype: t.dtype })).sum().to("f64")] : []
          );
          terms.reduce((a, b) => a.add(b)).backward();
        });
        opt.step();
      }
      ts.forEach((t, i) => {
        const err = maxAbsDiff(t.toNumbers(), want[i]);
        assert.ok(err <= (dtypes[i] === "float64" ? 1e-15 : 1e-7), `p${i}: max |diff| ${err}`);
      });
      assert.deepEqual(ts[2].toNumbers(), want[2], "a parameter without grad is not touched");
      opt.dispose();
    });
  },
});
