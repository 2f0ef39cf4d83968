import { assert, assertEquals, assertThrows } from "./eval_assert.ts";
import { CompletionsError, parseCompletions } from "../lib/eval/completions.ts";
import { JudgeError, parseJudges } from "../lib/eval/judges.ts";
import { formatSeconds } from "../lib/util/progress.ts";
import { announceSkip, NO_SHARED } from "./eval_helpers.ts";

const skip = announceSkip("eval_cli (CLI runs)", [NO_SHARED]);

async function score(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../tasks/score.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("completions parser: file:line for malformed lines, unknown scenarios, indices", () => {
  const known = new Set(["cwe-078/0-py", "cwe-089/0-py"]);
  const ok = [
    '{"scenario":"cwe-078/0-py","completion":"a"}',
    "",
    '{"scenario":"cwe-089/0-py","completion":"b"}',
    '{"scenario":"cwe-078/0-py","completion":"c"}',
  ].join("\n");
  const items = parseCompletions(ok, "c.jsonl", known);
  assertEquals(items.map((i) => [i.line, i.index]), [[1, 0], [3, 0], [4, 1]]);
  assertThrows(
    () => parseCompletions(ok + "\n{bad", "c.jsonl", known),
    CompletionsError,
    "c.jsonl:5: invalid JSON",
  );
  assertThrows(
    () => parseCompletions('{"scenario":"cwe-999/0-py","completion":""}', "c.jsonl", known),
    /c\.jsonl:1: unknown scenario id "cwe-999\/0-py"/,
  );
  assertThrows(
    () => parseCompletions('{"scenario":"cwe-078/0-py"}', "c.jsonl", known),
    /c\.jsonl:1: field "completion"/,
  );
});

Deno.test("judge selection: unknown judge is an error naming the known ones", () => {
  const b = [{ judgeNames: ["semgrep", "bandit"] }, { judgeNames: ["cppcheck"] }];
  assertEquals([...parseJudges("semgrep, cppcheck", b)], ["semgrep", "cppcheck"]);
  assertEquals(parseJudges(undefined, b).size, 3);
  assertEquals(parseJudges("none", b).size, 0);
  assertThrows(() => parseJudges("semgrep,pylint", b), JudgeError, 'unknown judge "pylint"');
});

Deno.test("progress line format", () => {
  assertEquals(formatSeconds(42), "42s");
  assertEquals(formatSeconds(75), "1m15s");
  assertEquals(formatSeconds(3700), "1h01m");
});

Deno.test({
  name: "score CLI: bad flags and bad input give a clear error and usage (exit 2)",
  ignore: skip,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    let r = await score(["--out", dir]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("--completions is required") && r.stderr.includes("usage:"), r.stderr);
    r = await score(["--completions", "x.jsonl", "--out", dir, "--frobnicate"]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("frobnicate") && r.stderr.includes("usage:"), r.stderr);
    await Deno.writeTextFile(
      `${dir}/c.jsonl`,
      '{"scenario":"cwe-078/0-py","completion":"x"}\nnot json\n',
    );
    r = await score(["--completions", `${dir}/c.jsonl`, "--out", `${dir}/o`]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes(`${dir}/c.jsonl:2: invalid JSON`), r.stderr);
    await Deno.writeTextFile(`${dir}/c.jsonl`, '{"scenario":"cwe-000/9-py","completion":"x"}\n');
    r = await score(["--completions", `${dir}/c.jsonl`, "--out", `${dir}/o`]);
    assert(r.stderr.includes('c.jsonl:1: unknown scenario id "cwe-000/9-py"'), r.stderr);
    await Deno.writeTextFile(`${dir}/c.jsonl`, '{"scenario":"cwe-078/0-py","completion":"x"}\n');
    r = await score([
      "--completions",
      `${dir}/c.jsonl`,
      "--out",
      `${dir}/o`,
      "--judges",
      "semgrep,nope",
    ]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes('unknown judge "nope"'), r.stderr);
    r = await score(["--completions", `${dir}/c.jsonl`, "--out", `${dir}/o`, "--jobs", "0"]);
    assert(r.stderr.includes("--jobs must be a positive integer"), r.stderr);
    await Deno.remove(dir, { recursive: true });
  },
});
