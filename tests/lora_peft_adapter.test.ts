/**
 * Plain PEFT adapters (written by PEFT's own `save_pretrained`, no DeepGuard files) load for plain
 * generation with the LoRA merged into the base weights, giving PEFT's logits; guided decoding
 * asks for the missing DeepGuard file by name. The inference merge (`mergeAndUnload`) gives the
 * unmerged logits, analyzer scores and greedy tokens within fp32 tolerance.
 */
import assert from "node:assert/strict";
import { noGrad, tidy } from "../ffi/mod.ts";
import { ComponentsError, DeepGuardModel } from "../lib/deepguard/mod.ts";
import { loadLora, LoraLinear } from "../lib/lora/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { Linear } from "../lib/nn/mod.ts";
import { loadGenerator } from "../lib/pipeline/generator.ts";
import { maxAbsDiff } from "./util_ffi.ts";
import { oracle, peftLogits, randomizeLoraB, venvOrWarn } from "./util_oracle.ts";
import { flags, withTinyDir } from "./util_tiny.ts";

const hasVenv = venvOrWarn("the PEFT adapter test");

const PROMPT = "def read_file(path):\n    with open(path) as f:";

Deno.test({
  name: "PEFT save_pretrained adapter: loads for lm generation, merged, with PEFT's logits",
  ignore: !hasVenv,
  fn: () =>
    withTinyDir("dg_peft_adapter_", { model: ["qwen2", { layers: 2 }] }, async (dir) => {
      await oracle("peft_save_adapter.py", [
        ...flags({ model: `${dir}/model`, out: `${dir}/peft` }),
        ...flags({ targets: "q_proj,k_proj,v_proj,o_proj" }),
      ]);
      const gen = await loadGenerator({ model: `${dir}/model`, adapter: `${dir}/peft` });
      try {
        assert.equal(gen.guidance, null);
        const ids = [gen.tokenizer.encode(PROMPT)];
        await Deno.writeTextFile(`${dir}/ids.json`, JSON.stringify(ids));
        const peft = await peftLogits(dir, `${dir}/peft`);
        const ts = noGrad(() => tidy(() => gen.model.forward(ids).logits.toNumbers()));
        const err = maxAbsDiff(peft, ts);
        console.log(`PEFT vs merged TS logits: max abs error ${err.toExponential(2)}`);
        assert.ok(err <= 1e-4, `max abs logit error ${err}`);
        // merged and unloaded: the decoder holds plain Linear projections again
        for (const [name, m] of gen.model.namedModules()) {
          assert.ok(!(m instanceof LoraLinear), `${name} is still a LoraLinear`);
          if (/\.(q|k|v|o)_proj$/.test(name)) assert.ok(m instanceof Linear, name);
        }
        // the adapter matters: the base model's logits differ
        const base = await loadPretrained(`${dir}/model`);
        try {
          const b = noGrad(() => tidy(() => base.model.forward(ids).logits.toNumbers()));
          assert.ok(maxAbsDiff(b, ts) > 1e-3, "the adapter must change the logits");
        } finally {
          base.model.dispose();
        }
      } finally {
        gen.dispose();
      }
      await assert.rejects(
        loadGenerator({ model: `${dir}/model`, adapter: `${dir}/peft`, guided: true }),
        (e: unknown) =>
          e instanceof ComponentsError && /security_config\.json/.test(e.message) &&
          /security_components\.safetensors/.test(e.message) && /--method lm/.test(e.message),
      );
    }),
});

Deno.test("mergeAndUnload: same logits, analyzer scores and greedy tokens as the unmerged adapter", () =>
  withTinyDir("dg_merge_", { model: ["llama", { layers: 2 }] }, async (dir) => {
    const dg = await DeepGuardModel.create(`${dir}/model`, { layers: 2 });
    try {
      // a trained-looking adapter: B ≠ 0
      randomizeLoraB(dg.adapter.namedParameters());
      dg.train(false);
      const ids = [dg.tokenizer.encode(PROMPT)];
      const before = noGrad(() => tidy(() => dg.lm.forward(ids).logits.toNumbers()));
      const scoresBefore = dg.scoreTokens(PROMPT).map((t) => t.score);
      const greedy = () => generate(dg.lm, dg.tokenizer, [PROMPT], { maxNewTokens: 24 }).tokens[0];
      const tokensBefore = greedy();
      const base = noGrad(() =>
        tidy(() => dg.adapter.withDisabled(() => dg.lm.forward(ids).logits.toNumbers()))
      );
      assert.ok(maxAbsDiff(base, before) > 1e-3, "the adapter must change the logits");
      dg.adapter.mergeAndUnload(dg.lm);
      assert.equal(dg.adapter.layers.length, 0);
      const after = noGrad(() => tidy(() => dg.lm.forward(ids).logits.toNumbers()));
      const err = maxAbsDiff(before, after);
      const scoreErr = maxAbsDiff(scoresBefore, dg.scoreTokens(PROMPT).map((t) => t.score));
      console.log(
        `merged vs unmerged: logits ${err.toExponential(2)}, scores ${scoreErr.toExponential(2)}`,
      );
      assert.ok(err <= 1e-4, `logits differ by ${err}`);
      assert.ok(scoreErr <= 1e-5, `analyzer scores differ by ${scoreErr}`);
      assert.deepEqual(greedy(), tokensBefore);
    } finally {
      dg.dispose();
    }
  }));

Deno.test("a plain PEFT adapter with missing weights is a clear AdapterError", () =>
  withTinyDir("dg_peft_bad_", { model: ["qwen2", { layers: 2 }] }, async (dir) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.writeTextFile(
      `${dir}/a/adapter_config.json`,
      JSON.stringify({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj"] }),
    );
    const { model } = await loadPretrained(`${dir}/model`);
    try {
      await assert.rejects(loadLora(model, `${dir}/a`), /adapter_model\.safetensors/);
    } finally {
      model.dispose();
    }
    await assert.rejects(
      loadGenerator({ model: `${dir}/model`, adapter: `${dir}/a` }),
      /adapter_model\.safetensors/,
    );
  }));
