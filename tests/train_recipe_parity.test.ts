/**
 * Loss and gradient parity of both training recipes with Python oracles run on transformers +
 * PEFT: `--recipe upstream` against tools/loss_ref_upstream.py (a transcription of upstream
 * DeepGuard's `compute_loss`: padding to a fixed length, scores averaged over every position,
 * softmax + 1e-8 KL), `--recipe clean` against tools/loss_ref.py; loss values and every LoRA /
 * component gradient within 1e-5 relative, with the plain and the checkpointed backward. The
 * upstream oracle must also tell the recipes apart (the clean loss does not match it).
 * Skips when the project venv is absent.
 */
import assert from "node:assert/strict";
import { manualSeed, tidy } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import {
  batchJson,
  makeBatch,
  maskTensor,
  notPadMask,
  type PairBatchHost,
  sideTensors,
} from "../lib/train/batch.ts";
import { DEFAULT_LOSS, type LossWeights, UPSTREAM_LOSS } from "../lib/train/loss.ts";
import { type LossValues, SecurityAwareLoRAModel } from "../lib/train/security_model.ts";
import { lossOracle, randomizeLoraB, SECURE, venvOrWarn, VULNERABLE } from "./util_oracle.ts";

const hasVenv = venvOrWarn("recipe parity tests");

/** Fixed padded length of the upstream batch (upstream pads to max_length 1024; shorter here). */
const PAD_TO = 80;
const REL = 1e-5;

async function setup(loss: LossWeights, init: "torch" | "xavier", padTo?: number) {
  const upstream = padTo !== undefined;
  const dir = await Deno.makeTempDir({ prefix: "dg_recipe_" });
  await makeTiny("qwen2", `${dir}/model`, { layers: 4, seed: 3 });
  manualSeed(11);
  const m = await SecurityAwareLoRAModel.create(`${dir}/model`, {
    aggregation: "attention",
    layers: 4,
    lora: { dropout: 0 },
    analyzerDropout: 0,
    aggregatorInit: init,
    loss,
  });
  m.train(false);
  randomizeLoraB(m.trainableParameters());
  await m.save(`${dir}/adapter`);
  const tk = m.tokenizer;
  const secure = SECURE.map((s) => tk.encode(s));
  // upstream masks labels and the KL by the pad id: a real token equal to it must be dropped too
  if (upstream) secure[0][5] = tk.padTokenId;
  const host = makeBatch(
    SECURE.map((_, i) => ({
      index: i,
      secure: secure[i],
      vulnerable: tk.encode(VULNERABLE[i]),
      cwe: "x",
    })),
    tk.padTokenId,
    padTo,
  );
  await Deno.writeTextFile(`${dir}/batch.json`, batchJson(host));
  return { dir, m, host };
}

function tsLoss(
  m: SecurityAwareLoRAModel,
  host: PairBatchHost,
  ck: boolean,
  padId?: number,
): LossValues {
  for (const [, t] of m.trainableParameters()) t.zeroGrad();
  return tidy(() =>
    m.lossAndBackward(
      {
        secure: sideTensors(host.secure),
        vulnerable: sideTensors(host.vulnerable),
        ...(padId === undefined
          ? {}
          : { lossMask: maskTensor(notPadMask(host.secure.ids, padId)) }),
      },
      1,
      ck,
    )
  );
}

/** Asserts values and gradients within {@link REL}; returns the worst errors for the log. */
function compare(
  m: SecurityAwareLoRAModel,
  v: LossValues,
  ref: Record<string, number>,
  grads: Map<string, Float32Array>,
  what: string,
): string {
  const errs: string[] = [];
  for (const k of ["gen", "sec", "kl", "total", "sSec", "sVul"] as const) {
    const r = ref[k === "sSec" ? "s_sec" : k === "sVul" ? "s_vul" : k];
    const rel = Math.abs(v[k] - r) / Math.max(Math.abs(r), 1e-12);
    assert.ok(rel <= REL, `${what} ${k}: TS ${v[k]} vs oracle ${r} (rel ${rel})`);
    errs.push(`${k} ${rel.toExponential(1)}`);
  }
  assert.ok(ref.kl > 1e-5 && ref.kl < 1, `${what}: KL ${ref.kl} should be active and unclamped`);
  const groups: Record<string, number> = {};
  for (const [name, t] of m.trainableParameters()) {
    const want = grads.get(name.startsWith("model.") ? `base_model.model.${name}` : name);
    assert.ok(want, `${what}: oracle has no gradient for ${name}`);
    const got = tidy(() => t.grad!.toNumbers());
    let maxDiff = 0, maxRef = 0;
    want.forEach((w, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(w - got[i]));
      maxRef = Math.max(maxRef, Math.abs(w));
    });
    // aggregator.k_proj.bias has an exactly-zero gradient (it shifts every layer score alike):
    // only f32 rounding remains, so it is measured against a floor of 1e-3.
    const rel = maxDiff / Math.max(maxRef, name === "aggregator.k_proj.bias" ? 1e-3 : 1e-12);
    const group = name.includes("lora_") ? "lora" : name.split(".")[0];
    groups[group] = Math.max(groups[group] ?? 0, rel);
    assert.ok(rel <= REL, `${what} ${name}: max |Δgrad| ${maxDiff}, max |ref| ${maxRef}`);
  }
  assert.equal(grads.size, m.trainableParameters().length);
  return `${errs.join(", ")}; gradients ${
    Object.entries(groups).map(([g, e]) => `${g} ${e.toExponential(1)}`).join(", ")
  }`;
}

Deno.test({
  name: "recipe upstream = tools/loss_ref_upstream.py (upstream compute_loss), ≤ 1e-5 relative",
  ignore: !hasVenv,
  fn: async () => {
    const { dir, m, host } = await setup(UPSTREAM_LOSS, "torch", PAD_TO);
    try {
      assert.ok(host.secure.mask.flat().includes(0), "the batch has padding");
      const pad = m.tokenizer.padTokenId;
      assert.equal(host.secure.ids[0][5], pad);
      assert.equal(host.secure.mask[0][5], 1, "a real token equal to the pad id");
      const ref = await lossOracle("loss_ref_upstream.py", dir);
      assert.equal(
        ref.values.pad_token_id,
        m.tokenizer.padTokenId,
        "pad token as transformers' tokenizer",
      );
      for (const ck of [false, true]) {
        const line = compare(m, tsLoss(m, host, ck, pad), ref.values, ref.grads, `ck=${ck}`);
        console.log(`upstream recipe, checkpointing=${ck}: ${line}`);
      }
      // the pad-id loss mask matters: with the attention mask the generation loss differs
      const byMask = tsLoss(m, host, false);
      const dGen = Math.abs(byMask.gen - ref.values.gen) / ref.values.gen;
      assert.ok(dGen > 1e-4, `attention-mask targets should differ from upstream's (rel ${dGen})`);
      // the oracle tells the recipes apart: the clean loss on the same batch does not match it
      m.loss = { ...DEFAULT_LOSS };
      const clean = tsLoss(m, host, false);
      const d = Math.abs(clean.sSec - ref.values.s_sec) / ref.values.s_sec;
      assert.ok(d > 1e-3, `clean pooling should differ from upstream's (rel ${d})`);
    } finally {
      m.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "recipe clean = tools/loss_ref.py (real-token pooling, dynamic padding), ≤ 1e-5 relative",
  ignore: !hasVenv,
  fn: async () => {
    const { dir, m, host } = await setup(DEFAULT_LOSS, "xavier");
    try {
      const ref = await lossOracle("loss_ref.py", dir);
      for (const ck of [false, true]) {
        const line = compare(m, tsLoss(m, host, ck), ref.values, ref.grads, `ck=${ck}`);
        console.log(`clean recipe, checkpointing=${ck}: ${line}`);
      }
    } finally {
      m.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
