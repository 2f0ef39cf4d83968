/**
 * CoSec co-decoding accepts and emits exactly the tokens of a Python transcription of upstream's
 * `sample_with_experts` (tools/cosec_ref.py, transformers) for the same draws: both sides draw by
 * inverse CDF from the same uniforms, so every random number is shared. Tiny random checkpoints;
 * a low threshold makes both outcomes occur. A tokenizer mismatch is a clear error.
 */
import assert from "node:assert/strict";
import { noGrad, PROJECT_ROOT, tensor } from "../ffi/mod.ts";
import {
  checkSameTokenizer,
  coGenerate,
  type Draw,
  UPSTREAM_COSEC,
} from "../lib/cosec/codecoding.ts";
import { loadCoSec } from "../lib/cosec/expert.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { prng } from "../lib/train/rng.ts";
import { haveVenvPython, venvPythonJson } from "../lib/util/python.ts";

const dir = await Deno.makeTempDir({ prefix: "cosec_cd_" });
await makeTiny("qwen2", `${dir}/base`, { layers: 2, seed: 1 });
await makeTiny("qwen2", `${dir}/expert`, { layers: 2, seed: 2 });
await makeTiny("llama", `${dir}/other`, { layers: 1, seed: 3 });

const ROWS = 4;
const STEPS = 12;

interface Ref {
  tokens: number[][];
  accepted: boolean[][];
}

async function compare(threshold: number): Promise<{ accepted: number; rejected: number }> {
  const gen = await loadCoSec({ model: `${dir}/base`, expert: `${dir}/expert` });
  try {
    const rnd = prng(threshold * 1e6 + 7);
    const uniforms = Array.from(
      { length: STEPS },
      () => Array.from({ length: ROWS }, () => [Math.fround(rnd()), Math.fround(rnd())]),
    );
    const draw: Draw = (p, which, step) => {
      const u = tensor(
        Float32Array.from(uniforms[step].map((r) => r[which === "expert" ? 0 : 1])),
        [
          ROWS,
          1,
        ],
      );
      return p.cumsum(-1).lt(u).to("i64").sum(-1).clamp(undefined, p.shape[1] - 1).to("i64");
    };
    const promptIds = gen.tokenizer.encode("def get_user(user_id):\n    conn = ");
    const tokens: number[][] = [];
    const accepted: boolean[][] = [];
    const knobs = { ...UPSTREAM_COSEC, threshold };
    noGrad(() =>
      coGenerate(gen.model, gen.expert, gen.tokenizer.vocabSize, gen.tokenizer, promptIds, {
        numReturnSequences: ROWS,
        maxNewTokens: STEPS,
        knobs,
        draw,
        onStep: (_s, t, a) => {
          tokens.push(t);
          accepted.push(a);
        },
      })
    );
    const spec = `${dir}/spec_${threshold}.json`;
    await Deno.writeTextFile(
      spec,
      JSON.stringify({
        base: `${dir}/base`,
        expert: `${dir}/expert`,
        prompt_ids: promptIds,
        rows: ROWS,
        max_new_tokens: STEPS,
        eos_id: gen.tokenizer.eosTokenId,
        pad_id: gen.tokenizer.eosTokenId,
        threshold,
        exp_temp: knobs.expertTemperature,
        exp_top_p: knobs.expertTopP,
        uniforms,
      }),
    );
    const ref = await venvPythonJson<Ref>("cosec_ref.py", [
      `${PROJECT_ROOT}/tools/cosec_ref.py`,
      "decode",
      spec,
    ]);
    assert.deepEqual(accepted, ref.accepted);
    assert.deepEqual(tokens, ref.tokens);
    const flat = accepted.flat();
    return { accepted: flat.filter((x) => x).length, rejected: flat.filter((x) => !x).length };
  } finally {
    gen.dispose();
  }
}

Deno.test({
  name: "co-decoding equals the Python transcription for the same draws (both outcomes)",
  ignore: !haveVenvPython(),
  sanitizeResources: false,
  fn: async () => {
    const low = await compare(0.004);
    assert.ok(low.accepted > 0 && low.rejected > 0, JSON.stringify(low));
    const upstream = await compare(UPSTREAM_COSEC.threshold);
    assert.equal(upstream.accepted + upstream.rejected, ROWS * STEPS);
  },
});

Deno.test({
  name: "with the default draws, a seed gives torch.multinomial's samples (same generator)",
  ignore: !haveVenvPython(),
  sanitizeResources: false,
  fn: async () => {
    const gen = await loadCoSec({ model: `${dir}/base`, expert: `${dir}/expert` });
    try {
      const promptIds = gen.tokenizer.encode("def get_user(user_id):\n    conn = ");
      const tokens: number[][] = [];
      const accepted: boolean[][] = [];
      const knobs = { ...UPSTREAM_COSEC, threshold: 0.004 };
      noGrad(() =>
        coGenerate(gen.model, gen.expert, gen.tokenizer.vocabSize, gen.tokenizer, promptIds, {
          numReturnSequences: ROWS,
          maxNewTokens: STEPS,
          seed: 7,
          knobs,
          onStep: (_s, t, a) => {
            tokens.push(t);
            accepted.push(a);
          },
        })
      );
      const spec = `${dir}/spec_seed.json`;
      await Deno.writeTextFile(
        spec,
        JSON.stringify({
          base: `${dir}/base`,
          expert: `${dir}/expert`,
          prompt_ids: promptIds,
          rows: ROWS,
          max_new_tokens: STEPS,
          eos_id: gen.tokenizer.eosTokenId,
          pad_id: gen.tokenizer.eosTokenId,
          threshold: knobs.threshold,
          exp_temp: knobs.expertTemperature,
          exp_top_p: knobs.expertTopP,
          seed: 7,
        }),
      );
      const ref = await venvPythonJson<Ref>("cosec_ref.py", [
        `${PROJECT_ROOT}/tools/cosec_ref.py`,
        "decode",
        spec,
      ]);
      assert.deepEqual(accepted, ref.accepted);
      assert.deepEqual(tokens, ref.tokens);
    } finally {
      gen.dispose();
    }
  },
});

Deno.test("a tokenizer mismatch between base and expert is a clear error", async () => {
  const a = await loadPretrained(`${dir}/base`);
  const b = await loadPretrained(`${dir}/other`);
  try {
    assert.throws(
      () => checkSameTokenizer(a.tokenizer, b.tokenizer, "A", "B"),
      /CoSec needs the base and the expert to share a tokenizer: A and B (have \d+ and \d+ tokens|have EOS ids|differ at id)/,
    );
    checkSameTokenizer(a.tokenizer, a.tokenizer, "A", "A");
  } finally {
    a.model.dispose();
    b.model.dispose();
  }
  await assert.rejects(
    () => loadCoSec({ model: `${dir}/base`, expert: `${dir}/other` }),
    /share a tokenizer/,
  );
  await assert.rejects(
    () => loadCoSec({ model: `${dir}/base`, expert: dir }),
    /holds neither adapter_config.json/,
  );
});
