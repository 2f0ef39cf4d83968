/**
 * Generation after a SVEN prefix equals transformers fed the same past keys/values
 * (tools/prefix_ref.py `generate`, greedy), for both controls, on tiny Qwen2 and Llama
 * checkpoints; the prefix changes the continuation; several sequences of one prompt (the
 * prefill-once path) and a left-padded batch of two prompts match the single runs.
 */
import assert from "node:assert/strict";
import { noGrad, randn } from "../ffi/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { makeTiny, type TinyArch } from "../lib/model/tiny.ts";
import { PrefixParams } from "../lib/prefix/params.ts";
import { loadPrefixGenerator } from "../lib/prefix/generator.ts";
import { haveVenvPython } from "../lib/util/python.ts";
import { prefixOracle } from "./prefix_oracle.ts";

const dir = await Deno.makeTempDir({ prefix: "prefix_generate_" });
const PROMPT = "def read_file(path):\n    with open(";
const NEW = 16;

for (const arch of ["qwen2", "llama"] as TinyArch[]) {
  Deno.test({
    name: `greedy tokens after the prefix equal transformers' with the same past (${arch})`,
    ignore: !haveVenvPython(),
    fn: async () => {
      const m = `${dir}/${arch}`;
      await makeTiny(arch, m, { layers: 2, seed: 11 });
      const { model } = await loadPretrained(m);
      const prefix = PrefixParams.create(model.config, { nPrefix: 4, dropout: 0.1, baseModel: m });
      noGrad(() => prefix.tensors.forEach((t) => t.copy_(randn(t.shape).mul(2))));
      await prefix.save(`${dir}/${arch}_prefix`);
      prefix.dispose();
      model.dispose();
      const greedy = { doSample: false, maxNewTokens: NEW, stopAtEos: false };
      for (const control of [0, 1]) {
        const gen = await loadPrefixGenerator({
          model: m,
          prefix: `${dir}/${arch}_prefix`,
          control,
        });
        try {
          const promptIds = gen.tokenizer.encode(PROMPT);
          const ours = gen.generate(gen.model, gen.tokenizer, [promptIds], greedy).tokens[0];
          const two = gen.generate(gen.model, gen.tokenizer, [promptIds], {
            ...greedy,
            numReturnSequences: 2,
          }).tokens;
          assert.deepEqual(two, [ours, ours]);
          const short = gen.tokenizer.encode("x = (");
          const alone = gen.generate(gen.model, gen.tokenizer, [short], greedy).tokens[0];
          const batch = gen.generate(gen.model, gen.tokenizer, [promptIds, short], greedy).tokens;
          assert.deepEqual(batch, [ours, alone]); // left padding after the past
          const plain = generate(gen.model, gen.tokenizer, [promptIds], greedy).tokens[0];
          assert.notDeepEqual(ours, plain, "the prefix should change the continuation");
          const py = await prefixOracle<{ tokens: number[] }>("generate", {
            model: m,
            prefix: `${dir}/${arch}_prefix`,
            control,
            prompt_ids: promptIds,
            max_new_tokens: NEW,
          });
          assert.deepEqual(ours, py.tokens);
        } finally {
          gen.dispose();
        }
      }
    },
  });
}
