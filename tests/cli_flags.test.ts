/**
 * Flags declared once (lib/util/cli.ts) and the bad-input audit of the tasks: each bad command
 * line exits 2 with a message naming the flag (or file:line and field) and no stack trace, before
 * any model loads; scoping (`--cwe`, `--language`, id prefixes, `--limit`, `--dry-run`).
 */
import assert from "node:assert/strict";
import { defineFlags, HelpRequested, UsageError } from "../lib/util/cli.ts";
import { normalizeCwe, selectScenarios } from "../lib/eval/scenarios.ts";
import type { Scenario } from "../lib/eval/types.ts";
import { ProgressBar } from "../lib/util/progress.ts";
import { appendJsonl, readResumableJsonl } from "../lib/util/jsonl.ts";
import { runWithTimeout } from "../lib/util/spawn.ts";
import { PROJECT_ROOT } from "../lib/util/paths.ts";
import { DEMO_SCENARIOS, writeDemoTrainingData } from "../lib/pipeline/demo_data.ts";
import { announceSkip, SANDBOX_PROBLEM } from "./eval_helpers.ts";
import { describePlan, type EvalOptions } from "../lib/pipeline/evaluate.ts";
import { flags } from "./util_tiny.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function task(file: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${PROJECT_ROOT}/tasks/${file}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

/** Exit 2, `pattern` in stderr, the usage text, no stack trace, nothing on stdout. */
async function usageError(file: string, args: string[], pattern: RegExp) {
  const r = await task(file, args);
  const what = `${file} ${args.join(" ")}`;
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, pattern, what);
  assert.match(r.stderr, /usage: deno task/, what);
  assert.doesNotMatch(r.stderr, /^ {4}at /m, `${what}: stack trace\n${r.stderr}`);
  assert.equal(r.stdout, "", what);
}

const spec = {
  n: { type: "int", min: 1, default: 3, help: "n" },
  x: { type: "float", above: 0, max: 1, help: "x" },
  seed: { type: "int", min: 0, default: 1, help: "seed" },
  mode: { type: "choice", choices: ["a", "b"], default: "a", help: "mode" },
  langs: { type: "list", choices: ["py", "c"], help: "langs" },
  sizes: { type: "intList", min: 1, default: [1, 20], help: "sizes" },
  dev: { type: "device", help: "device" },
  file: { type: "path", kind: "file", help: "file" },
  dir: { type: "path", kind: "dir", help: "dir" },
  out: { type: "outDir", help: "out" },
  samples: { type: "int", min: 1, default: 1, alias: ["num"], help: "samples" },
  flag: { type: "boolean", help: "flag" },
  must: { type: "string", required: true, help: "must" },
} as const;
const cmd = defineFlags(spec, { name: "t" });
const parse = (...a: string[]) => cmd.parse(["--must", "m", ...a]).values;

Deno.test("defineFlags: defaults, types, aliases and the usage text come from one spec", () => {
  const v = parse();
  assert.deepEqual(
    [v.n, v.x, v.seed, v.mode, v.langs, v.sizes, v.dev, v.flag, v.samples],
    [3, undefined, 1, "a", undefined, [1, 20], "cpu", false, 1],
  );
  const w = parse(
    "--n",
    "7",
    "--x",
    "0.5",
    "--langs",
    "py, c",
    "--sizes",
    "2,4",
    "--dev",
    "cuda:1",
  );
  assert.deepEqual([w.n, w.x, w.langs, w.sizes, w.dev], [7, 0.5, ["py", "c"], [2, 4], "cuda:1"]);
  assert.equal(parse("--num", "5").samples, 5);
  assert.throws(() => parse("--num", "5", "--samples", "6"), /--samples is given twice/);
  assert.match(cmd.usage, /^usage: deno task t --must TEXT \[options\]/);
  assert.match(cmd.usage, /--n N\s+n \(default 3\)/);
  assert.match(cmd.usage, /--samples N\s+samples \(default 1\) \(also --num\)/);
  assert.throws(() => cmd.parse(["--help"]), HelpRequested);
});

Deno.test("defineFlags: every bad value is a UsageError naming the flag", () => {
  const bad: [string[], RegExp][] = [
    [["--n", "0"], /--n must be at least 1, got 0/],
    [["--n", "2.5"], /--n expects an integer, got 2.5/],
    [["--seed", "1e300"], /--seed must be an integer of at most 9007199254740991/],
    [["--seed", "-1"], /--seed must be at least 0/],
    [["--x", "0"], /--x must be greater than 0/],
    [["--x", "NaN"], /--x expects a number/],
    [["--mode", "c"], /--mode must be one of a, b, got "c"/],
    [["--langs", "py,go"], /--langs: unknown "go"; expected py, c/],
    [["--sizes", "1,0"], /--sizes expects comma-separated integers of at least 1/],
    [["--dev", "gpu"], /--dev must be cpu, cuda or cuda:N/],
    [["--file", "/nonexistent/x"], /--file: \/nonexistent\/x does not exist \(expected a file\)/],
    [["--file", "/tmp"], /--file: \/tmp is a directory; expected a file/],
    [["--dir", "/etc/hostname"], /--dir: \/etc\/hostname is a file; expected a directory/],
    [["--out", "/etc/hostname"], /--out: \/etc\/hostname exists and is not a directory/],
    [["--out", "/etc/hostname/sub"], /--out: cannot create \/etc\/hostname\/sub/],
    [["--out", "/proc/dg-no/x"], /--out: cannot write to \/proc\/dg-no\/x: \/proc is not writable/],
    [["--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, re] of bad) {
    assert.throws(
      () => parse(...args),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      args.join(" "),
    );
  }
  assert.throws(() => cmd.parse([]), /--must is required/);
});

const sc = (id: string, evalType: "base" | "untrain" = "base", validation = false) =>
  ({
    id,
    evalType,
    validation,
    language: id.endsWith("-py") ? "py" : "c",
  }) as Scenario;

Deno.test("scenario scope: CWE spellings, languages, id prefixes, clear errors", () => {
  const all = [
    sc("cwe-078/0-py"),
    sc("cwe-078/1-py"),
    sc("cwe-078/2-py", "base", true),
    sc("cwe-787/0-c"),
    sc("cwe-119/0-c", "untrain"),
  ];
  const ids = (s: Scenario[]) => s.map((x) => x.id);
  assert.equal(normalizeCwe("78"), "cwe-078");
  assert.equal(normalizeCwe("CWE-078"), "cwe-078");
  assert.equal(normalizeCwe("cwe78"), "cwe-078");
  assert.equal(normalizeCwe("x78"), null);
  assert.deepEqual(ids(selectScenarios(all, { ids: ["cwe-078"] })), [
    "cwe-078/0-py",
    "cwe-078/1-py",
  ]);
  assert.deepEqual(
    ids(selectScenarios(all, { ids: ["cwe-078"], includeValidation: true })),
    ["cwe-078/0-py", "cwe-078/1-py", "cwe-078/2-py"],
  );
  assert.deepEqual(ids(selectScenarios(all, { ids: ["cwe-078/1-py"] })), ["cwe-078/1-py"]);
  assert.deepEqual(ids(selectScenarios(all, { cwes: ["787", "119"] })), [
    "cwe-787/0-c",
    "cwe-119/0-c",
  ]);
  assert.deepEqual(ids(selectScenarios(all, { languages: ["c"], evalType: "base" })), [
    "cwe-787/0-c",
  ]);
  // A prefix must end at a path boundary: cwe-07 is not a prefix of cwe-078.
  assert.throws(() => selectScenarios(all, { ids: ["cwe-07"] }), /cwe-07 match none/);
  assert.throws(() => selectScenarios(all, { cwes: ["seventy"] }), /"seventy" is not a CWE/);
  assert.throws(() => selectScenarios(all, { cwes: ["89"] }), /no scenario matches/);
});

Deno.test("progress rate counts only this run's work (resumed units are skipped)", async () => {
  const bar = new ProgressBar("sampling", 1000, { quiet: true, initial: 0 });
  bar.skip(990);
  await new Promise((r) => setTimeout(r, 100));
  bar.add(1);
  const rate = Number(/ ([\d.]+)\/s/.exec(bar.render())![1]);
  // 1 call in ≥ 0.1 s: at most 10/s; counting the 990 cached calls would give ~9900/s.
  assert.ok(rate > 0 && rate <= 10, bar.render());
  assert.match(bar.render(), /991\/1000/);
});

Deno.test("progress rate: add() counts from creation; absolute update() from the first update", async () => {
  const added = new ProgressBar("scoring", 10, { quiet: true });
  await new Promise((r) => setTimeout(r, 100));
  added.add(4);
  const rate = (b: ProgressBar) => Number(/ ([\d.]+)\/s/.exec(b.render())![1]);
  // 4 units in ≥ 0.1 s since creation: at most 40/s, and not 0 (the first batch counts).
  assert.ok(rate(added) > 0 && rate(added) <= 40, added.render());
  const resumed = new ProgressBar("train", 100, { quiet: true });
  resumed.update(50); // resumed at step 50: the first update is the starting point
  await new Promise((r) => setTimeout(r, 100));
  resumed.update(51);
  assert.ok(rate(resumed) > 0 && rate(resumed) <= 10, resumed.render());
});

Deno.test("resumable JSONL: a torn last line is cut off, appends resume cleanly", async () => {
  const dir = await Deno.makeTempDir();
  const p = `${dir}/a.jsonl`;
  assert.deepEqual(readResumableJsonl(p, (w) => new Error(w)), []);
  appendJsonl(p, [{ a: 1 }, { a: 2 }]);
  await Deno.writeTextFile(p, '{"a": 3', { append: true });
  assert.deepEqual(readResumableJsonl(p, (w) => new Error(w)).map((l) => l.value), [{ a: 1 }, {
    a: 2,
  }]);
  appendJsonl(p, [{ a: 3 }]);
  assert.equal(await Deno.readTextFile(p), '{"a":1}\n{"a":2}\n{"a":3}\n');
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runWithTimeout: kills at the limit and says so", async () => {
  const t0 = performance.now();
  const r = await runWithTimeout("sleep", ["5"], { timeoutMs: 200 });
  assert.ok(r.timedOut && !r.success && r.signal === "SIGKILL", JSON.stringify(r));
  assert.ok(performance.now() - t0 < 3000);
  const ok = await runWithTimeout("sh", ["-c", "cat; echo err >&2"], {
    stdin: "hi",
    timeoutMs: 5000,
  });
  assert.deepEqual([ok.timedOut, ok.code, dec(ok.stdout), dec(ok.stderr)], [
    false,
    0,
    "hi",
    "err\n",
  ]);
});

const dir = await Deno.makeTempDir({ prefix: "dg-cli-flags-" });
const model = `${dir}/model`;
await Deno.mkdir(model);
await Deno.writeTextFile(`${dir}/file.txt`, "x");
await writeDemoTrainingData(`${dir}/data`);

Deno.test("train: bad flags and bad SVEN data exit 2 before the model loads", async () => {
  const base = ["--model", model, "--data", `${dir}/data`, "--out", `${dir}/train`];
  await usageError(
    "train.ts",
    [...base, "--seed", "1e300"],
    /--seed must be an integer of at most/,
  );
  await usageError(
    "train.ts",
    [...base, "--weight-decay", "-0.1"],
    /--weight-decay: must be a non-negative number, got -0.1/,
  );
  await usageError(
    "train.ts",
    [...base, "--sec-weight", "-1"],
    /--sec-weight: must be a non-negative number, got -1/,
  );
  await usageError(
    "train.ts",
    ["--model", model, "--data", `${dir}/file.txt`, "--out", `${dir}/train`],
    /--data: .*file\.txt is a file; expected a directory/,
  );
  await usageError(
    "train.ts",
    ["--model", model, "--data", `${dir}/data`, "--out", `${dir}/file.txt`],
    /--out: .*file\.txt exists and is not a directory/,
  );
  await usageError(
    "train.ts",
    ["--model", model, "--data", `${dir}/data`, "--out", "/proc/dg-no/out"],
    /--out: cannot write to \/proc\/dg-no\/out/,
  );
  // A SVEN line whose line_changes is a string: file:line and the field. The model dir is empty,
  // so reaching the model would fail differently: the data is checked first.
  const sven = `${dir}/sven`;
  await Deno.mkdir(`${sven}/train`, { recursive: true });
  await Deno.mkdir(`${sven}/val`, { recursive: true });
  const line = { func_src_before: "a", func_src_after: "b", vul_type: "cwe-078" };
  await Deno.writeTextFile(
    `${sven}/train/cwe-078.jsonl`,
    JSON.stringify(line) + "\n" + JSON.stringify({ ...line, line_changes: "added 3" }) + "\n",
  );
  await Deno.writeTextFile(`${sven}/val/cwe-078.jsonl`, JSON.stringify(line) + "\n");
  await usageError(
    "train.ts",
    ["--model", model, "--data", sven, "--out", `${dir}/train2`],
    /cwe-078\.jsonl:2: field "line_changes" must be an object .*got a string/,
  );
});

Deno.test("eval: --method required, bad judges and seeds exit 2 before the model loads", async () => {
  const base = ["--model", model, "--out", `${dir}/eval`, "--scenarios", DEMO_SCENARIOS];
  await usageError("eval.ts", base, /--method is required/);
  await usageError(
    "eval.ts",
    [...base, "--method", "lm", "--judges", "bogus"],
    /unknown judge "bogus"/,
  );
  await usageError(
    "eval.ts",
    [...base, "--method", "lm", "--seed", "1e300"],
    /--seed must be an integer/,
  );
  await usageError("eval.ts", [...base, "--method", "lm", "--cwe", "999"], /no scenario matches/);
  await usageError(
    "eval.ts",
    [...base, "--method", "lm", "--language", "go"],
    /--language: unknown "go"/,
  );
  await usageError(
    "eval.ts",
    ["--model", `${dir}/nope`, "--method", "lm", "--out", `${dir}/eval`],
    /--model: .*nope does not exist \(expected a directory\)/,
  );
  await usageError(
    "eval.ts",
    ["--model", model, "--method", "lm", "--out", `${dir}/file.txt`],
    /--out: .*file\.txt exists and is not a directory/,
  );
  // Nothing was written for the refused runs.
  assert.equal(await Deno.stat(`${dir}/eval`).then(() => true, () => false), false);
});

Deno.test("eval --dry-run prints the plan and exits 0 without loading the model", async () => {
  const r = await task("eval.ts", [
    ...flags({ model, method: "lm", "eval-type": "all", scenarios: DEMO_SCENARIOS }),
    ...flags({ "scenario-ids": "cwe-078", language: "py", limit: 3, "dry-run": true }),
    ...flags({ out: `${dir}/eval` }),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /plan: lm on 1 scenarios × 3 samples = 3 completions/);
  assert.match(r.stdout, /cwe-078: 90-py/);
  assert.equal(await Deno.stat(`${dir}/eval`).then(() => true, () => false), false);
});

Deno.test("describePlan: token budget and time estimates from measured rates", () => {
  const plan = {
    scenarios: [sc("cwe-078/0-py"), sc("cwe-787/0-c")],
    samples: 20,
    calls: 2,
    judges: [],
  };
  const opts = {
    method: "lm",
    out: "o",
    sampling: {
      samples: 10,
      perCall: 20,
      maxNewTokens: 300,
      temperature: 0.1,
      topP: 0.95,
      seed: 1,
    },
  } as unknown as EvalOptions;
  const text = describePlan(plan, opts, {
    scoreSamplesPerS: 2,
    sampleTokensPerS: { rate: 100, source: "test" },
  });
  assert.match(text, /plan: lm on 2 scenarios × 10 samples = 20 completions/);
  assert.match(
    text,
    /2 generate calls of up to 10 sequences, at most 6000 new tokens; at most about 1m00s at 100\.0 tok\/s \(test\)/,
  );
  assert.match(text, /scoring: judges none; about 10s at 2\/s/);
  assert.match(describePlan(plan, opts), /time unknown for this model and device/);
});

Deno.test("generate: a missing --prompt-file and --samples/--num", async () => {
  await usageError(
    "generate.ts",
    ["--model", model, "--prompt-file", `${dir}/missing.txt`],
    /--prompt-file: .*missing\.txt does not exist \(expected a file\)/,
  );
  await usageError(
    "generate.ts",
    ["--model", model, "--prompt", "x", "--num", "0"],
    /--samples must be at least 1/,
  );
  await usageError(
    "generate.ts",
    ["--model", model, "--prompt", "x", "--guided"],
    /--guided needs --adapter/,
  );
});

Deno.test("score: scoped --dry-run (--cwe, --limit) and bad scope", async () => {
  const lines = ["cwe-078/90-py", "cwe-078/90-py", "cwe-078/90-py", "cwe-787/90-c"].map((s) =>
    JSON.stringify({ scenario: s, completion: "\n" })
  );
  await Deno.writeTextFile(`${dir}/c.jsonl`, lines.join("\n") + "\n");
  const base = ["--completions", `${dir}/c.jsonl`, "--scenarios", DEMO_SCENARIOS];
  const r = await task("score.ts", [
    ...base,
    ...flags({ cwe: 78, limit: 2, "dry-run": true, out: `${dir}/s` }),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /plan: 2 completions of 1 scenarios/);
  assert.match(r.stdout, /cwe-078\/90-py: 2/);
  await usageError(
    "score.ts",
    [...base, "--language", "c,go", "--out", `${dir}/s`],
    /--language: unknown "go"/,
  );
  await usageError(
    "score.ts",
    [...base, "--scenario-ids", "cwe-999", "--out", `${dir}/s`],
    /cwe-999 match none/,
  );
  await usageError(
    "score.ts",
    ["--completions", `${dir}/none.jsonl`, "--out", `${dir}/s`],
    /--completions: .*none\.jsonl does not exist/,
  );
});

Deno.test({
  name: "score: a scoped run scores only its lines and refuses another scope in the same --out",
  ignore: announceSkip("score (scoped run)", [SANDBOX_PROBLEM]),
  fn: async () => {
    const lines = ["cwe-078/90-py", "cwe-078/90-py", "cwe-089/90-py"].map((s) =>
      JSON.stringify({ scenario: s, completion: "\n" })
    );
    await Deno.writeTextFile(`${dir}/c2.jsonl`, lines.join("\n") + "\n");
    const base = ["--completions", `${dir}/c2.jsonl`, "--scenarios", DEMO_SCENARIOS];
    const out = ["--out", `${dir}/scoped`, "--judges", "none", "--no-progress"];
    const r = await task("score.ts", [...base, "--cwe", "078", "--limit", "1", ...out]);
    assert.equal(r.code, 0, r.stderr);
    const results = (await Deno.readTextFile(`${dir}/scoped/results.jsonl`)).trim().split("\n");
    assert.deepEqual(results.map((l) => JSON.parse(l).scenario), ["cwe-078/90-py"]);
    await usageError("score.ts", [...base, ...out], /holds results of a run with another scope/);
    await usageError(
      "score.ts",
      [...base, "--cwe", "89", ...out],
      /holds results of a run with another scope/,
    );
  },
});

Deno.test({
  name: "cli flags: clean up",
  fn: async () => {
    await Deno.remove(dir, { recursive: true });
  },
  sanitizeResources: false,
});
