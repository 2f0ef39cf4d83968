/**
 * Plain PEFT adapters (written by PEFT's own `save_pretrained`, no DeepGuard files) load for plain
 * generation with the LoRA merged into the base weights, giving PEFT's logits; guided decoding
 * asks for the missing DeepGuard file by name. The inference merge (`mergeAndUnload`) gives the
 * unmerged logits, analyzer scores and greedy tokens within fp32 tolerance.
 */
import assert from "node:assert/strict";
import { noGrad, PROJECT_ROOT, randn, tidy } from "../ffi/mod.ts";
import { ComponentsError, DeepGuardModel } from "../lib/deepguard/mod.ts";
import { loadLora, LoraLinear } from "../lib/lora/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { readHeader, readTensorBytes } from "../lib/model/safetensors.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { Linear } from "../lib/nn/mod.ts";
import { loadGenerator } from "../lib/pipeline/generator.ts";

const PY = `${PROJECT_ROOT}/.venv/bin/python`;
const hasVenv = await Deno.stat(PY).then(() => true, () => false);
if (!hasVenv) {
  console.warn(`skipping the PEFT adapter test: ${PY} not found (run scripts/setup.sh)`);
}

async function python(args: string[]): Promise<void> {
  const out = await new Deno.Command(PY, {
    args,
    env: { OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`python ${args[0]} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

async function readLogits(file: string): Promise<Float32Array> {
  const info = (await readHeader(file)).tensors.get("logits")!;
  const b = await readTensorBytes(info);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const PROMPT = "def read_file(path):\n    with open(path) as f:";

Deno.test({
  name: "PEFT save_pretrained adapter: loads for lm generation, merged, with PEFT's logits",
  ignore: !hasVenv,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dg_peft_adapter_" });
    try {
      await makeTiny("qwen2", `${dir}/model`, { layers: 2 });
      await python([
        `${PROJECT_ROOT}/tools/peft_save_adapter.py`,
        "--model",
        `${dir}/model`,
        "--out",
        `${dir}/peft`,
        "--targets",
        "q_proj,k_proj,v_proj,o_proj",
      ]);
      const gen = await loadGenerator({ model: `${dir}/model`, adapter: `${dir}/peft` });
      try {
        assert.equal(gen.guidance, null);
        const ids = [gen.tokenizer.encode(PROMPT)];
        await Deno.writeTextFile(`${dir}/ids.json`, JSON.stringify(ids));
        await python([
          `${PROJECT_ROOT}/tools/peft_logits.py`,
          ...["--model", `${dir}/model`, "--adapter", `${dir}/peft`],
          ...["--ids", `${dir}/ids.json`, "--out", `${dir}/logits.safetensors`],
        ]);
        const peft = await readLogits(`${dir}/logits.safetensors`);
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
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("mergeAndUnload: same logits, analyzer scores and greedy tokens as the unmerged adapter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_merge_" });
  try {
    await makeTiny("llama", `${dir}/model`, { layers: 2 });
    const dg = await DeepGuardModel.create(`${dir}/model`, { layers: 2 });
    try {
      // a trained-looking adapter: B ≠ 0
      noGrad(() =>
        tidy(() => {
          for (const [name, t] of dg.adapter.namedParameters()) {
            if (name.endsWith("lora_B.weight")) t.copy_(randn(t.shape).mul(0.05));
          }
        })
      );
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plain PEFT adapter with missing weights is a clear AdapterError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_peft_bad_" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { layers: 2 });
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
