import assert from "node:assert/strict";
import { parseConfig } from "../lib/model/config.ts";
import { ConfigError } from "../lib/model/errors.ts";

const base = {
  model_type: "llama",
  vocab_size: 100,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
};

Deno.test("config: transformers-4 and -5 rope layouts give the same result", () => {
  const v4 = parseConfig({ ...base, rope_theta: 1e5, rope_scaling: { type: "linear", factor: 4 } });
  const v4b = parseConfig({
    ...base,
    rope_theta: 1e5,
    rope_scaling: { rope_type: "linear", factor: 4 },
  });
  const v5 = parseConfig({
    ...base,
    rope_parameters: { rope_type: "linear", factor: 4, rope_theta: 1e5 },
  });
  for (const c of [v4, v4b, v5]) {
    assert.equal(c.ropeTheta, 1e5);
    assert.deepEqual(c.ropeScaling, { type: "linear", factor: 4 });
  }
  const none = parseConfig({ ...base, rope_parameters: { rope_type: "default", rope_theta: 500 } });
  assert.deepEqual(none.ropeScaling, { type: "default" });
  assert.equal(none.ropeTheta, 500);
  assert.equal(parseConfig({ ...base, torch_dtype: "bfloat16" }).torchDtype, "bfloat16");
  assert.equal(parseConfig({ ...base, dtype: "float32" }).torchDtype, "float32");
});

Deno.test("config: sizes, GQA, head_dim, biases and tying", () => {
  const c = parseConfig({ ...base, head_dim: 32, attention_bias: true, eos_token_id: [3, 4] });
  assert.equal(c.headDim, 32);
  assert.equal(c.numKvHeads, 2);
  assert.equal(c.qkvBias, true);
  assert.equal(c.oBias, true);
  assert.deepEqual(c.eosTokenIds, [3, 4]);
  const d = parseConfig(base);
  assert.equal(d.headDim, 8);
  assert.equal(d.qkvBias, false);
  const q = parseConfig({ ...base, model_type: "qwen2", tie_word_embeddings: true });
  assert.equal(q.qkvBias, true);
  assert.equal(q.oBias, false);
  assert.equal(q.tieWordEmbeddings, true);
});

Deno.test("config: unknown model_type and rope type are typed errors", () => {
  assert.throws(() => parseConfig({ ...base, model_type: "gpt2" }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, "unknown_model_type");
    assert.match(e.message, /gpt2/);
    return true;
  });
  for (const t of ["yarn", "dynamic", "llama3"]) {
    assert.throws(
      () => parseConfig({ ...base, rope_scaling: { type: t, factor: 2 } }),
      (e: unknown) =>
        e instanceof ConfigError && e.code === "unsupported_rope_type" && e.message.includes(t),
    );
  }
  assert.throws(() => parseConfig({ ...base, num_key_value_heads: 3 }), ConfigError);
  assert.throws(() => parseConfig({ ...base, hidden_size: undefined }), ConfigError);
});
