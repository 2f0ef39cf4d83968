/**
 * One set of sampling defaults (library and CLI) resolved against generation_config.json, and
 * make-tiny defaults that fit `train`, with a chat template transformers can apply.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { generate } from "../lib/model/generate.ts";
import { resolveSampling, SAMPLING_DEFAULTS } from "../lib/model/generation_config.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { makeTiny, TINY_DEFAULT_LAYERS } from "../lib/model/tiny.ts";
import { DEFAULT_TRAIN_CONFIG } from "../lib/train/config.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_defaults_" });
await makeTiny("llama", dir);
const PY = ".venv/bin/python";

Deno.test("resolveSampling: asked > generation_config.json > SAMPLING_DEFAULTS; bad asks refused", () => {
  assert.deepEqual(resolveSampling(), SAMPLING_DEFAULTS);
  const file = {
    file: "g.json",
    eosTokenIds: null,
    bosTokenId: null,
    padTokenId: null,
    sampling: { doSample: true, temperature: 0.7, topK: 20 },
  };
  assert.deepEqual(resolveSampling({ temperature: 0.2, maxNewTokens: 9 }, file), {
    doSample: true,
    temperature: 0.2,
    topK: 20,
    topP: SAMPLING_DEFAULTS.topP,
    maxNewTokens: 9,
  });
  assert.throws(() => resolveSampling({ topP: 0 }), /topP must be in \(0, 1\]/);
  assert.throws(() => resolveSampling({ maxNewTokens: 2.5 }), /maxNewTokens must be an integer/);
});

Deno.test("generate() falls back to the checkpoint's generation_config.json, then to the shared defaults", async () => {
  const { model, tokenizer, generation } = await loadPretrained(dir);
  assert.equal(generation.file, `${dir}/generation_config.json`);
  assert.deepEqual(generation.sampling, { doSample: false });
  const plain = generate(model, tokenizer, ["def f("], { stopAtEos: false });
  assert.equal(plain.tokens[0].length, SAMPLING_DEFAULTS.maxNewTokens);
  model.generationConfig = {
    ...generation,
    sampling: { doSample: true, temperature: 2, maxNewTokens: 5 },
  };
  const a = generate(model, tokenizer, ["def f("], { stopAtEos: false, seed: 3 });
  const b = generate(model, tokenizer, ["def f("], { stopAtEos: false, seed: 4 });
  assert.equal(a.tokens[0].length, 5);
  assert.notDeepEqual(a.tokens, b.tokens, "do_sample from the file: seeds differ");
  const greedy = generate(model, tokenizer, ["def f("], {
    stopAtEos: false,
    doSample: false,
    maxNewTokens: 5,
  });
  assert.deepEqual(greedy.tokens[0], plain.tokens[0].slice(0, 5), "an explicit ask wins");
  model.dispose();
});

Deno.test("make-tiny defaults fit train (layers) and write a chat template and generation_config.json", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assert.equal(cfg.num_hidden_layers, TINY_DEFAULT_LAYERS);
  assert.ok(TINY_DEFAULT_LAYERS >= DEFAULT_TRAIN_CONFIG.layers);
  const tc = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
  assert.equal(typeof tc.chat_template, "string");
  const gc = JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`));
  assert.equal(gc.eos_token_id, cfg.eos_token_id);
});

Deno.test({
  name: "make-tiny chat template: transformers' apply_chat_template renders it",
  ignore: !existsSync(PY),
  async fn() {
    const code = `import sys; from transformers import AutoTokenizer
t = AutoTokenizer.from_pretrained(sys.argv[1])
print(t.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True), end="")`;
    const out = await new Deno.Command(PY, { args: ["-c", code, dir], stderr: "piped" }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), "user: hi\nassistant: ");
  },
});
