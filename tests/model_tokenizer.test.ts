import assert from "node:assert/strict";
import { Tokenizer } from "../lib/model/tokenizer.ts";
import { TokenizerError } from "../lib/model/errors.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { ensureReference, haveOracle } from "../tasks/parity_ref.ts";

interface Case {
  text: string;
  ids: number[];
  ids_no_special: number[];
  decoded: string;
  decoded_skip: string;
}

Deno.test({
  name: "tokenizer: ids and decoding identical to transformers on every cases.json entry",
  ignore: !haveOracle(),
  async fn() {
    const ref = await ensureReference();
    for (const name of ["qwen2", "llama", "llama_nopost"]) {
      const dir = `${ref}/tokenizers/${name}`;
      const tok = await Tokenizer.load(dir);
      const cases: Case[] = JSON.parse(await Deno.readTextFile(`${dir}/cases.json`));
      assert.ok(cases.length > 0);
      for (const c of cases) {
        const where = `${name}: ${JSON.stringify(c.text)}`;
        assert.deepEqual(tok.encode(c.text), c.ids, where);
        assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids_no_special, where);
        assert.equal(tok.decode(c.ids), c.decoded, where);
        assert.equal(tok.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip, where);
      }
      assert.equal(tok.padTokenId, tok.eosTokenId, `${name}: pad = eos`);
    }
  },
});

Deno.test({
  name:
    "tokenizer: transformers-4 rule adds BOS from add_bos_token when tokenizer.json has no post-processor",
  ignore: !haveOracle(),
  async fn() {
    const ref = await ensureReference();
    const withPost = await Tokenizer.load(`${ref}/tokenizers/llama`);
    const noPost4 = await Tokenizer.load(`${ref}/tokenizers/llama_nopost`, {
      bosRule: "transformers4",
    });
    const cases: Case[] = JSON.parse(await Deno.readTextFile(`${ref}/tokenizers/llama/cases.json`));
    for (const c of cases) assert.deepEqual(noPost4.encode(c.text), withPost.encode(c.text));
    assert.equal(noPost4.encode("x")[0], noPost4.bosTokenId);
  },
});

Deno.test("tokenizer: tiny checkpoints round-trip; BOS per family; missing tokenizer.json is a typed error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_tok_" });
  await makeTiny("qwen2", `${dir}/q`);
  await makeTiny("llama", `${dir}/l`);
  const q = await Tokenizer.load(`${dir}/q`);
  const l = await Tokenizer.load(`${dir}/l`);
  const text = "def f(x):\n    return x * 2  # héllo\n";
  assert.equal(q.decode(q.encode(text)), text);
  assert.equal(q.bosTokenId, null);
  assert.notEqual(q.encode(text)[0], q.eosTokenId);
  assert.equal(l.encode(text)[0], l.bosTokenId);
  assert.equal(l.decode(l.encode(text), { skipSpecialTokens: true }), text);
  const b = q.encodeBatch(["a", "abc def"]);
  assert.equal(b.inputIds[0].length, b.inputIds[1].length);
  assert.equal(b.attentionMask[0][0], 0);
  assert.equal(b.inputIds[0][0], q.padTokenId);
  await Deno.remove(`${dir}/q/tokenizer.json`);
  await assert.rejects(Tokenizer.load(`${dir}/q`), (e: unknown) => {
    assert.ok(e instanceof TokenizerError);
    assert.equal(e.code, "missing_tokenizer_json");
    assert.match(e.message, /tokenizer\.json/);
    return true;
  });
});
