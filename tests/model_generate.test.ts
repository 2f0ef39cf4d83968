import assert from "node:assert/strict";
import { countOps, liveTensors, noGrad, type Tensor, tensor, tidy } from "../ffi/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { topKWarp, topPWarp } from "../lib/model/sampling.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { TEST_DEVICE } from "./util_device.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_gen_" });
await makeTiny("qwen2", `${dir}/q`, { seed: 1 });
await makeTiny("llama", `${dir}/l`, { seed: 2 });

/** Greedy by re-running the whole sequence each step (no cache). */
function argmaxLoop(
  m: Awaited<ReturnType<typeof loadPretrained>>["model"],
  ids: number[],
  n: number,
) {
  const seq = [...ids];
  noGrad(() => {
    for (let i = 0; i < n; i++) {
      const t = tidy(() => m.forward([seq]).logits.select(1, seq.length - 1).argmax(-1).item());
      seq.push(t);
    }
  });
  return seq.slice(ids.length);
}

for (const arch of ["q", "l"]) {
  Deno.test(`generate(${arch}): cached greedy = uncached argmax loop; left-padded batch = single rows`, async () => {
    const { model, tokenizer } = await loadPretrained(`${dir}/${arch}`, { device: TEST_DEVICE });
    const prompts = [
      "def add(a, b):\n    return",
      "int main(void) {\n    char buf[64];\n    strncpy(buf,",
      "x =",
    ];
    const single = prompts.map((p) =>
      generate(model, tokenizer, [p], { maxNewTokens: 12, stopAtEos: false })
    );
    prompts.forEach((p, i) => {
      assert.deepEqual(
        single[i].tokens[0],
        argmaxLoop(model, tokenizer.encode(p), 12),
        `prompt ${i}`,
      );
    });
    const batch = generate(model, tokenizer, prompts, { maxNewTokens: 12, stopAtEos: false });
    assert.deepEqual(batch.tokens, single.map((s) => s.tokens[0]));
    // numReturnSequences prefills each prompt once and repeats its cache rows: same tokens as
    // passing every prompt n times, and no tensor left behind
    const live = liveTensors();
    const shared = generate(model, tokenizer, prompts, {
      maxNewTokens: 12,
      stopAtEos: false,
      numReturnSequences: 2,
    });
    assert.equal(liveTensors(), live);
    assert.deepEqual(shared.tokens, single.flatMap((s) => [s.tokens[0], s.tokens[0]]));
    assert.equal(batch.texts[0], tokenizer.decode(batch.tokens[0], { skipSpecialTokens: true }));
    model.dispose();
  });
}

Deno.test("generate: sampling is seeded and reproducible; num_return_sequences rows are prompt-major", async () => {
  const { model, tokenizer } = await loadPretrained(`${dir}/q`, { device: TEST_DEVICE });
  const o = {
    doSample: true,
    temperature: 1.5,
    topK: 20,
    topP: 0.9,
    maxNewTokens: 10,
    stopAtEos: false,
    numReturnSequences: 3,
  };
  const a = generate(model, tokenizer, ["def f(", "import"], { ...o, seed: 7 });
  const b = generate(model, tokenizer, ["def f(", "import"], { ...o, seed: 7 });
  const c = generate(model, tokenizer, ["def f(", "import"], { ...o, seed: 8 });
  assert.equal(a.tokens.length, 6);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
  assert.deepEqual(a.promptIds[0], a.promptIds[2]);
  assert.deepEqual(a.promptIds[3], tokenizer.encode("import"));
  assert.ok(
    new Set(a.tokens.slice(0, 3).map((t) => t.join())).size > 1,
    "samples of one prompt differ",
  );
  model.dispose();
});

Deno.test("generate: per-row EOS stop, logits hook sees step and generated ids, no tensor leaks", async () => {
  const { model, tokenizer } = await loadPretrained(`${dir}/l`, { device: TEST_DEVICE });
  const eos = tokenizer.eosTokenId!;
  const start = liveTensors();
  const seen: number[] = [];
  // force EOS at step 2 for row 0 and step 4 for row 1
  const hook = (gen: number[][], logits: Tensor, step: number) => {
    seen.push(step);
    assert.equal(gen[0].length, step);
    assert.equal(logits.dtype, "f32");
    const [B, V] = logits.shape;
    const forced = new Float32Array(B * V).fill(0);
    const rowStop = [2, 4];
    for (let b = 0; b < B; b++) if (rowStop[b] === step) forced[b * V + eos] = 1e9;
    return logits.add(tensor(forced, [B, V], { device: TEST_DEVICE }));
  };
  const r = generate(model, tokenizer, ["def a():", "for i in"], {
    maxNewTokens: 8,
    logitsProcessor: hook,
  });
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.deepEqual(r.finished, [true, true]);
  assert.equal(r.tokens[0].length, 3);
  assert.equal(r.tokens[1].length, 5);
  assert.equal(r.tokens[0][2], eos);
  assert.equal(liveTensors(), start, "every tensor of generation freed");
  const noStop = generate(model, tokenizer, ["def a():"], {
    maxNewTokens: 6,
    stopAtEos: false,
    logitsProcessor: hook,
  });
  assert.equal(noStop.tokens[0].length, 6);
  assert.equal(liveTensors(), start);
  model.dispose();
});

Deno.test("sampling: top-k and top-p keep HF's sets", () => {
  tidy(() => {
    const s = tensor([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)], [1, 4]);
    const fin = (t: Tensor) => (t.toNumbers()).map((x) => Number.isFinite(x));
    assert.deepEqual(fin(topKWarp(s, 2)), [true, true, false, false]);
    assert.deepEqual(fin(topPWarp(s, 0.8)), [true, true, false, false]); // 0.5+0.3 reaches 0.8
    assert.deepEqual(fin(topPWarp(s, 0.81)), [true, true, true, false]);
    assert.deepEqual(fin(topPWarp(s, 0.01)), [true, false, false, false]); // at least one
    assert.deepEqual(fin(topPWarp(s, 1)), [true, true, true, true]);
  });
});

Deno.test("generate: one device→host read per step, padded or not (the host knows the padding)", async () => {
  const { model, tokenizer } = await loadPretrained(`${dir}/q`);
  for (const prompts of [["def f(x):"], ["def f(x):", "x ="]]) {
    const { result, counts } = countOps(() =>
      generate(model, tokenizer, prompts, { maxNewTokens: 6, stopAtEos: false })
    );
    assert.equal(result.tokens[0].length, 6);
    assert.equal(counts.hostReads, 6, `${prompts.length} prompt(s): reads of 6 steps`);
  }
  model.dispose();
});
