/**
 * CoSec co-decoding accepts and emits exactly the tokens of a Python transcription of upstream's
 * `sample_with_experts` (tools/cosec_ref.py, transformers) for the same draws: both sides draw by
 * inverse CDF from the same uniforms, so every random number is shared. Tiny random checkpoints;
 * a low threshold makes both outcomes occur. A tokenizer mismatch is a clear error.
 */
import assert from "node:assert/strict";
import { noGrad, tensor } from "../ffi/mod.ts";
import {
  checkSameTokenizer,
  coGenerate,
  type Draw,
  UPSTREAM_COSEC,
} from "../lib/cosec/codecoding.ts";
import { loadCoSec } from "../lib/cosec/expert.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { prng } from "../lib/train/rng.ts";
import { haveVenvPython } from "../lib/util/python.ts";
import { cosecRef } from "./util_oracle.ts";
import { tinyModels } from "./util_tiny.ts";

const dir = await tinyModels("cosec_cd_", {
  base: ["qwen2", { layers: 2, seed: 1 }],
  expert: ["qwen2", { layers: 2, seed: 2 }],
  other: ["llama", { layers: 1, seed: 3 }],
});

const ROWS = 4;
const STEPS = 12;

interface Ref {
  tokens: number[][];
  accepted: boolean[][];
}

type CoSec = Awaited<ReturnType<typeof loadCoSec>>;

/**
 * Co-decodes ROWS × STEPS tokens of the fixed prompt with `threshold` and the given draws (or
 * seed), then runs tools/cosec_ref.py on the same inputs (`extra`: its draws or seed); asserts
 * both accept and emit the same tokens and returns the acceptance flags.
 */
async function decodeBoth(
  gen: CoSec,
  threshold: number,
  how: { draw: Draw } | { seed: number },
  extra: Record<string, unknown>,
): Promise<boolean[][]> {
  const promptIds = gen.tokenizer.encode("def get_user(user_id):\n    conn = ");
  const tokens: number[][] = [];
  const accepted: boolean[][] = [];
  const knobs = { ...UPSTREAM_COSEC, threshold };
  noGrad(() =>
    coGenerate(gen.model, gen.expert, gen.tokenizer.vocabSize, gen.tokenizer, promptIds, {
      numReturnSequences: ROWS,
      maxNewTokens: STEPS,
      ...how,
      knobs,
      onStep: (_s, t, a) => {
        tokens.push(t);
        accepted.push(a);
      },
    })
  );
  const ref = await cosecRef<Ref>(
    "decode",
    `${dir}/spec_${"seed" in how ? "seed" : threshold}.json`,
    {
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
      ...extra,
    },
  );
  assert.deepEqual(accepted, ref.accepted);
  assert.deepEqual(tokens, ref.tokens);
  return accepted;
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
    const accepted = await decodeBoth(gen, threshold, { draw }, { uniforms });
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
      await decodeBoth(gen, 0.004, { seed: 7 }, { seed: 7 });
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
