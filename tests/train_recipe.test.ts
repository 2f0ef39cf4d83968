/**
 * Training recipes (`--recipe upstream|clean`): their defaults, truncation vs skipping, fixed
 * padding, the aggregator init, and the recipe recorded in the saved adapter's config.
 */
import assert from "node:assert/strict";
import { manualSeed, PROJECT_ROOT, tidy } from "../ffi/mod.ts";
import { MultiLayerAggregator } from "../lib/aggregator/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { makeBatch } from "../lib/train/batch.ts";
import { tokenizePairs } from "../lib/train/data.ts";
import { resolveConfig, train, TrainConfigError } from "../lib/train/mod.ts";
import { Tokenizer } from "../lib/model/tokenizer.ts";

const io = { model: "m", data: "d", out: "o" };

Deno.test("recipe defaults: upstream 1024 tokens truncated (the default), clean 512 skipped", () => {
  const up = resolveConfig(io);
  assert.deepEqual([up.recipe, up.maxLength, up.overLength], ["upstream", 1024, "truncate"]);
  const clean = resolveConfig({ ...io, recipe: "clean" });
  assert.deepEqual([clean.recipe, clean.maxLength, clean.overLength], ["clean", 512, "skip"]);
  const mixed = resolveConfig({ ...io, recipe: "clean", maxLength: 300, overLength: "truncate" });
  assert.deepEqual([mixed.maxLength, mixed.overLength], [300, "truncate"]);
  assert.throws(
    () => resolveConfig({ ...io, recipe: "paper" as never }),
    (e: unknown) =>
      e instanceof TrainConfigError && /--recipe: must be upstream or clean/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...io, overLength: "drop" as never }),
    /--over-length: must be skip or truncate/,
  );
});

const fakeTok = {
  encode: (s: string) => [...s].map((c) => c.charCodeAt(0)),
} as unknown as Tokenizer;
const pairs = [
  { vulnerable: "abcdefgh", secure: "abcdefghij", cwe: "x", origin: "f:1" },
  { vulnerable: "ab", secure: "abc", cwe: "x", origin: "f:2" },
  { vulnerable: "a", secure: "abc", cwe: "x", origin: "f:3" },
];

Deno.test("tokenizePairs: truncate keeps the first N tokens of a long side; skip drops the pair", () => {
  const t = tokenizePairs(pairs, fakeTok, 5, "truncate");
  assert.deepEqual([t.examples.length, t.truncated, t.skipped], [2, 1, 1]);
  assert.deepEqual(t.examples[0].secure, [..."abcde"].map((c) => c.charCodeAt(0)));
  assert.deepEqual(t.examples[0].vulnerable.length, 5);
  const s = tokenizePairs(pairs, fakeTok, 5, "skip");
  assert.deepEqual([s.examples.length, s.truncated, s.skipped], [1, 0, 2]);
  assert.equal(s.examples[0].index, 1);
});

Deno.test("makeBatch pads every side to a fixed length (upstream) or to the longest (clean)", () => {
  const ex = [{ index: 0, secure: [5, 6, 7], vulnerable: [8, 9], cwe: "x" }];
  const fixed = makeBatch(ex, 0, 6);
  assert.deepEqual(fixed.secure.ids, [[5, 6, 7, 0, 0, 0]]);
  assert.deepEqual(fixed.vulnerable.mask, [[1, 1, 0, 0, 0, 0]]);
  assert.deepEqual(makeBatch(ex, 0).vulnerable.ids, [[8, 9]]);
  assert.throws(() => makeBatch(ex, 0, 2), /3 tokens does not fit padding to 2/);
});

Deno.test("aggregator init: torch = PyTorch's Linear default (|w|, |b| ≤ 1/√in), xavier = zero bias", () => {
  const H = 64;
  manualSeed(5);
  const torchInit = new MultiLayerAggregator("attention", 4, H, { init: "torch" });
  const xavier = new MultiLayerAggregator("attention", 4, H, { init: "xavier" });
  try {
    const stats = (m: MultiLayerAggregator, n: string) =>
      tidy(() => {
        const v = new Map(m.namedParameters()).get(n)!.toNumbers();
        return Math.max(...v.map(Math.abs));
      });
    const bound = 1 / Math.sqrt(H);
    for (const n of ["q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"]) {
      const w = stats(torchInit, n);
      assert.ok(w <= bound && w > 0.9 * bound, `${n}: max |w| ${w} vs 1/√in ${bound}`);
      // Xavier's bound √(6 / (in + out)) = √3/√in is wider
      assert.ok(stats(xavier, n) > bound, `xavier ${n}`);
    }
    const b = stats(torchInit, "q_proj.bias");
    assert.ok(b > 0.5 * bound && b <= bound, `torch bias max |b| ${b}`);
    assert.equal(stats(xavier, "q_proj.bias"), 0);
  } finally {
    torchInit.dispose();
    xavier.dispose();
  }
});

Deno.test("train: the recipe, its length policy and its loss numerics are saved with the adapter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_recipe_train_" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { layers: 2 });
    await Deno.mkdir(`${dir}/data`);
    const pair = (i: number, long: boolean) =>
      JSON.stringify({
        func_src_before: `char *p = malloc(n${i}); memcpy(p, s, n${i});` +
          (long ? " /* padding padding padding padding padding */" : ""),
        func_src_after: `char *p = malloc(n${i}); if (!p) return -1; memcpy(p, s, n${i});`,
      });
    await Deno.writeTextFile(
      `${dir}/data/train.jsonl`,
      [0, 1, 2, 3].map((i) => pair(i, i % 2 === 0)).join("\n"),
    );
    await Deno.writeTextFile(`${dir}/data/val.jsonl`, [pair(8, false), pair(9, false)].join("\n"));
    const tok = await Tokenizer.load(`${dir}/model`);
    const lens = [0, 1, 2, 3].map((i) =>
      Math.max(
        ...Object.values(JSON.parse(pair(i, i % 2 === 0))).map((s) =>
          tok.encode(s as string).length
        ),
      )
    );
    // a length between the short and the long pairs: upstream truncates, clean skips
    const maxLength = Math.max(lens[1], lens[3], 24);
    assert.ok(lens[0] > maxLength && lens[2] > maxLength, `long pairs ${lens} vs ${maxLength}`);
    const common = { model: `${dir}/model`, data: `${dir}/data`, layers: 2, threads: 1 };
    const run = { batchSize: 2, gradAcc: 1, maxSteps: 1, maxLength, lr: 1e-3 };
    const up = await train({ ...common, ...run, out: `${dir}/up` }, { quiet: true });
    assert.deepEqual([up.trainPairs, up.truncatedTrain, up.skippedTrain], [4, 2, 0]);
    const clean = await train({ ...common, ...run, out: `${dir}/clean`, recipe: "clean" }, {
      quiet: true,
    });
    assert.deepEqual([clean.trainPairs, clean.truncatedTrain, clean.skippedTrain], [2, 0, 2]);
    const cfgUp = JSON.parse(await Deno.readTextFile(`${dir}/up/best/security_config.json`));
    assert.deepEqual(cfgUp.training, {
      recipe: "upstream",
      max_length: maxLength,
      over_length: "truncate",
      padding: "max_length",
    });
    assert.deepEqual([cfgUp.loss.pooling, cfgUp.loss.klEps], ["all", 1e-8]);
    const cfgClean = JSON.parse(await Deno.readTextFile(`${dir}/clean/best/security_config.json`));
    assert.equal(cfgClean.training.recipe, "clean");
    assert.equal(cfgClean.training.padding, "longest");
    assert.deepEqual([cfgClean.loss.pooling, cfgClean.loss.klEps], ["real", 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task train: a bad --recipe or --over-length is a usage error naming the choices", async () => {
  for (
    const [flag, value, pattern] of [
      ["--recipe", "paper", /--recipe must be one of upstream, clean/],
      ["--over-length", "drop", /--over-length must be one of skip, truncate/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${PROJECT_ROOT}/tasks/train.ts`,
        "--model",
        "/nonexistent",
        "--data",
        "/nonexistent",
        "--out",
        "/tmp/dg-recipe-unused",
        flag,
        value,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, `${flag} ${value}`);
    assert.match(new TextDecoder().decode(out.stderr), pattern);
  }
});
