/**
 * Loss and gradient parity with the Python oracle (tools/loss_ref.py: transformers + PEFT), and
 * PEFT interop of the saved adapter (tools/peft_logits.py). Skips when the project venv is absent.
 */
import assert from "node:assert/strict";
import { manualSeed, noGrad, tidy } from "../ffi/mod.ts";
import type { Aggregation } from "../lib/aggregator/mod.ts";
import { makeTiny, type TinyArch } from "../lib/model/tiny.ts";
import { batchJson, makeBatch, sideTensors } from "../lib/train/batch.ts";
import { SecurityAwareLoRAModel } from "../lib/train/security_model.ts";
import {
  lossOracle,
  peftLogits,
  randomizeLoraB,
  SECURE,
  venvOrWarn,
  VULNERABLE,
} from "./util_oracle.ts";
import { TEST_DEVICE } from "./util_device.ts";

const hasVenv = venvOrWarn("loss/PEFT parity tests");

async function setup(arch: TinyArch, layers: number, aggregation: Aggregation, L: number) {
  const dir = await Deno.makeTempDir({ prefix: `dg_parity_${arch}_` });
  await makeTiny(arch, `${dir}/model`, { layers, seed: 3 });
  manualSeed(7);
  const m = await SecurityAwareLoRAModel.create(`${dir}/model`, {
    aggregation,
    layers: L,
    lora: { dropout: 0 },
    analyzerDropout: 0,
    device: TEST_DEVICE,
  });
  m.train(false);
  // nonzero LoRA B (and non-trivial weighted logits) so the adapter matters
  randomizeLoraB(m.trainableParameters(), "aggregator.layer_logits");
  await m.save(`${dir}/adapter`);
  const tk = m.tokenizer;
  const host = makeBatch(
    SECURE.map((s, i) => ({
      index: i,
      secure: tk.encode(s),
      vulnerable: tk.encode(VULNERABLE[i]),
      cwe: "x",
    })),
    tk.padTokenId,
  );
  await Deno.writeTextFile(`${dir}/batch.json`, batchJson(host));
  return { dir, m, host };
}

const CASES: [TinyArch, number, Aggregation, number][] = [
  ["qwen2", 4, "attention", 4],
  ["llama", 3, "concat", 2],
];

for (const [arch, layers, aggregation, L] of CASES) {
  Deno.test({
    name:
      `loss parity vs tools/loss_ref.py: ${arch}, ${aggregation}, L=${L} (gen/sec/KL ≤ 1e-4, gradients)`,
    ignore: !hasVenv,
    fn: async () => {
      const { dir, m, host } = await setup(arch, layers, aggregation, L);
      try {
        const { values: ref, grads: refGrads } = await lossOracle("loss_ref.py", dir);
        for (const ck of [false, true]) {
          for (const [, t] of m.trainableParameters()) t.zeroGrad();
          const v = tidy(() => {
            const b = {
              secure: sideTensors(host.secure, TEST_DEVICE),
              vulnerable: sideTensors(host.vulnerable, TEST_DEVICE),
            };
            return m.lossAndBackward(b, 1, ck);
          });
          const report: Record<string, number> = {};
          for (const k of ["gen", "sec", "kl", "total"] as const) {
            const rel = Math.abs(v[k] - ref[k]) / Math.max(Math.abs(ref[k]), 1e-12);
            report[k] = rel;
            assert.ok(rel <= 1e-4, `${k}: TS ${v[k]} vs ref ${ref[k]} (rel ${rel})`);
          }
          assert.ok(ref.kl > 1e-4 && ref.kl < 1, `KL ${ref.kl} should be active and unclamped`);
          let worst = 0, worstName = "";
          const groups: Record<string, number> = {};
          for (const [name, t] of m.trainableParameters()) {
            const want = refGrads.get(
              name.startsWith("model.") ? `base_model.model.${name}` : name,
            );
            assert.ok(want, `reference has no gradient for ${name}`);
            const got = tidy(() => t.grad!.toNumbers());
            let maxDiff = 0, maxRef = 0;
            want.forEach((w, i) => {
              maxDiff = Math.max(maxDiff, Math.abs(w - got[i]));
              maxRef = Math.max(maxRef, Math.abs(w));
            });
            // a floor of 1e-6: some gradients are zero in exact arithmetic (the attention
            // aggregator's k_proj.bias shifts all layer scores equally) and only rounding remains
            const rel = maxDiff / Math.max(maxRef, 1e-6);
            if (rel > worst) [worst, worstName] = [rel, name];
            const group = name.includes("lora_") ? "lora" : name.split(".")[0];
            groups[group] = Math.max(groups[group] ?? 0, rel);
            // f32 rounding of a small gradient (e.g. a one-element bias summed over every token)
            // can exceed 1e-3 of its own size, so the bound also allows 5e-6 absolute.
            assert.ok(
              maxDiff <= 1e-3 * maxRef + 5e-6,
              `${name}: gradient max abs error ${maxDiff} vs max |ref| ${maxRef} (rel ${rel}, ` +
                `checkpointing ${ck})`,
            );
          }
          assert.equal(refGrads.size, m.trainableParameters().length);
          console.log(
            `${arch}/${aggregation} checkpointing=${ck}: rel err gen ${
              report.gen.toExponential(2)
            } ` +
              `sec ${report.sec.toExponential(2)} kl ${
                report.kl.toExponential(2)
              }; worst gradient ` +
              `${worst.toExponential(2)} (${worstName}); by group ${
                Object.entries(groups).map(([g, e]) => `${g} ${e.toExponential(2)}`).join(", ")
              }`,
          );
        }
      } finally {
        m.dispose();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "PEFT interop: PeftModel.from_pretrained on the TS-saved adapter gives the TS logits (≤ 1e-4)",
  ignore: !hasVenv,
  fn: async () => {
    const { dir, m } = await setup("llama", 3, "weighted", 3);
    try {
      const ids = [m.tokenizer.encode("for (int i = 0; i < 10; i++) { data[i] = i * i; }")];
      await Deno.writeTextFile(`${dir}/ids.json`, JSON.stringify(ids));
      const ts = noGrad(() => tidy(() => m.lm.forward(ids).logits.toNumbers()));
      for (const merged of [false, true]) {
        const ref = await peftLogits(dir, `${dir}/adapter`, merged);
        assert.equal(ref.length, ts.length);
        let maxErr = 0;
        ref.forEach((r, i) => (maxErr = Math.max(maxErr, Math.abs(r - ts[i]))));
        console.log(`PEFT logits (merged=${merged}) max abs error ${maxErr.toExponential(2)}`);
        assert.ok(maxErr <= 1e-4, `max abs logit error ${maxErr}`);
      }
      // the adapter matters: base logits differ
      const base = noGrad(() =>
        tidy(() => m.adapter.withDisabled(() => m.lm.forward(ids).logits.toNumbers()))
      );
      assert.ok(
        base.some((v, i) => Math.abs(v - ts[i]) > 1e-3),
        "LoRA B ≠ 0 must change the logits",
      );
      // merged TS forward equals the unmerged one
      m.adapter.merge();
      const mergedTs = noGrad(() => tidy(() => m.lm.forward(ids).logits.toNumbers()));
      m.adapter.unmerge();
      const d = Math.max(...mergedTs.map((v, i) => Math.abs(v - ts[i])));
      assert.ok(d <= 1e-4, `TS merged vs unmerged differ by ${d}`);
    } finally {
      m.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
