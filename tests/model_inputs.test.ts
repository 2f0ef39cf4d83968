/**
 * Bad model directories get a typed error naming the file and what is wrong, before any work:
 * missing directory, a file given as directory, tokenizer.json with an unknown `model.type` or an
 * empty vocabulary, NaN / ∞ weights, out-of-range generation_config.json values.
 */
import assert from "node:assert/strict";
import {
  CheckpointError,
  ConfigError,
  ModelDirError,
  TokenizerError,
} from "../lib/model/errors.ts";
import { loadModel, loadPretrained } from "../lib/model/load.ts";
import { readHeader, readTensorBytes, writeSafetensors } from "../lib/model/safetensors.ts";
import { Tokenizer } from "../lib/model/tokenizer.ts";
import { tinyModels } from "./util_tiny.ts";

const dir = await tinyModels("dg_inputs_", { q: ["qwen2", { layers: 2 }] });

/** A copy of the tiny checkpoint with `edit` applied to its files. */
async function copy(name: string): Promise<string> {
  const out = `${dir}/${name}`;
  await Deno.mkdir(out);
  for await (const e of Deno.readDir(`${dir}/q`)) {
    await Deno.copyFile(`${dir}/q/${e.name}`, `${out}/${e.name}`);
  }
  return out;
}

Deno.test("model dir: missing or a file → ModelDirError naming it (not 'tokenizer.json not found')", async () => {
  const missing = `${dir}/nope`;
  for (const load of [() => loadPretrained(missing), () => Tokenizer.load(missing)]) {
    await assert.rejects(load(), (e: unknown) => {
      assert.ok(e instanceof ModelDirError);
      assert.equal(e.code, "missing_dir");
      assert.match(e.message, /nope: model directory does not exist/);
      return true;
    });
  }
  await assert.rejects(loadModel(`${dir}/q/config.json`), (e: unknown) => {
    assert.ok(e instanceof ModelDirError);
    assert.equal(e.code, "not_a_directory");
    return true;
  });
});

Deno.test("tokenizer.json: unknown model.type and empty vocabulary are typed errors naming file and field", async () => {
  const d = await copy("tok");
  const file = `${d}/tokenizer.json`;
  const tj = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(file, JSON.stringify({ ...tj, model: { ...tj.model, type: "BPEX" } }));
  await assert.rejects(Tokenizer.load(d), (e: unknown) => {
    assert.ok(e instanceof TokenizerError);
    assert.equal(e.code, "unknown_model_type");
    assert.equal(e.file, file);
    assert.match(e.message, /"model\.type" is "BPEX"; supported: BPE, WordPiece, Unigram/);
    return true;
  });
  await Deno.writeTextFile(
    file,
    JSON.stringify({ ...tj, added_tokens: [], model: { ...tj.model, vocab: {}, merges: [] } }),
  );
  await assert.rejects(loadPretrained(d), (e: unknown) => {
    assert.ok(e instanceof TokenizerError);
    assert.equal(e.code, "empty_vocabulary");
    assert.match(e.message, /"model\.vocab" is empty/);
    return true;
  });
});

Deno.test("weights: a NaN or ∞ anywhere is a CheckpointError naming file and tensor", async () => {
  for (const [bad, label] of [[NaN, "nan"], [Infinity, "inf"]] as const) {
    const d = await copy(`w_${label}`);
    const file = `${d}/model.safetensors`;
    const h = await readHeader(file);
    const target = "model.layers.1.mlp.down_proj.weight";
    const entries = [];
    for (const [name, info] of h.tensors) {
      const bytes = await readTensorBytes(info);
      if (name === target) new Float32Array(bytes.buffer, bytes.byteOffset)[17] = bad;
      entries.push({ name, dtype: info.dtype, shape: info.shape, bytes });
    }
    await writeSafetensors(file, entries);
    await assert.rejects(loadModel(d), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.equal(e.code, "non_finite");
      assert.equal(e.file, file);
      assert.equal(e.tensor, target);
      assert.match(e.message, /NaN or infinite/);
      return true;
    });
  }
});

Deno.test("generation_config.json: out-of-range sampling values are ConfigErrors naming the key", async () => {
  const d = await copy("gen");
  for (const [key, v] of [["temperature", 0], ["top_p", 1.5], ["max_new_tokens", 0]] as const) {
    await Deno.writeTextFile(`${d}/generation_config.json`, JSON.stringify({ [key]: v }));
    await assert.rejects(loadModel(d), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, `${d}/generation_config.json`);
      assert.match(e.message, new RegExp(`"${key}"`));
      return true;
    });
  }
});
