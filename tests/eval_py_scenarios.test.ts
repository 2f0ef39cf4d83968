import { assert, assertEquals } from "./eval_assert.ts";
import { PY_DATA_DIR } from "../lib/eval/py/paths.ts";
import { scoreCompletions } from "../lib/eval/score.ts";
import { announceSkip, NO_SHARED, SANDBOX_PROBLEM } from "./eval_helpers.ts";

const skip = announceSkip("eval_py_scenarios", [NO_SHARED, SANDBOX_PROBLEM]);

interface Labeled {
  scenario: string;
  completion: string;
  name: string;
  expect: { functional: boolean; secure: boolean; flaggedBy: string[] };
}

async function ourCompletions(): Promise<Labeled[]> {
  const dir = `${PY_DATA_DIR}/completions`;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".jsonl"))
    .sort();
  const out: Labeled[] = [];
  for (const f of files) {
    for (const line of (await Deno.readTextFile(`${dir}/${f}`)).split("\n")) {
      if (line.trim()) out.push(JSON.parse(line));
    }
  }
  return out;
}

Deno.test({
  name:
    "18 Python scenarios: our labelled completions are judged as expected (semgrep, bandit, exploit)",
  ignore: skip,
  sanitizeResources: false,
  fn: async () => {
    const items = await ourCompletions();
    const ids = new Set(items.map((i) => i.scenario));
    assertEquals(ids.size, 18, "every Python scenario has completions");
    for (const id of ids) {
      const mine = items.filter((i) => i.scenario === id).map((i) => i.expect);
      assert(mine.some((e) => e.functional && e.secure), `${id}: secure+functional`);
      assert(mine.some((e) => e.functional && !e.secure), `${id}: vulnerable+functional`);
      assert(mine.some((e) => !e.functional && e.secure), `${id}: secure+non-functional`);
    }
    const out = await Deno.makeTempDir();
    const { results, summary } = await scoreCompletions({
      completions: items.map(({ scenario, completion }) => ({ scenario, completion })),
      outDir: out,
      judges: "semgrep,bandit,exploit",
      progress: false,
    });
    const wrong: string[] = [];
    results.forEach((r, i) => {
      const e = items[i].expect;
      const judges = new Set(r.findings.map((f) => f.judge));
      const missing = e.flaggedBy.filter((j) => !judges.has(j));
      if (
        !r.parsed || r.error || r.functional !== e.functional || r.secure !== e.secure ||
        missing.length
      ) {
        wrong.push(
          `${r.scenario} "${items[i].name}": functional=${r.functional} secure=${r.secure} ` +
            `judges=[${[...judges]}] missing=[${missing}] detail=${r.detail} error=${r.error}`,
        );
      }
    });
    assertEquals(wrong, []);
    assertEquals(summary.samples, items.length);
    for (const f of ["results.jsonl", "summary.json", "summary.md", "report.html"]) {
      assert((await Deno.stat(`${out}/${f}`)).size > 0, f);
    }
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test({
  name: "score is resumable: an interrupted results.jsonl is completed, in input order",
  ignore: skip,
  sanitizeResources: false,
  fn: async () => {
    const items = (await ourCompletions()).filter((i) =>
      i.scenario === "cwe-732/2-py" || i.scenario === "cwe-020/3-py"
    );
    // interleave the two scenarios so input order differs from batch order
    const input = items.map(({ scenario, completion }) => ({ scenario, completion }))
      .sort((a, b) => a.completion.length - b.completion.length);
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/c.jsonl`,
      input.map((x) => JSON.stringify(x)).join("\n") + "\n",
    );
    const first = await scoreCompletions({
      completions: `${dir}/c.jsonl`,
      outDir: `${dir}/out`,
      judges: "semgrep",
      progress: false,
    });
    assertEquals(first.evaluated, input.length);
    const lines = (await Deno.readTextFile(`${dir}/out/results.jsonl`)).trim().split("\n");
    assertEquals(lines.map((l) => JSON.parse(l).line), input.map((_, i) => i + 1));
    // simulate an interruption: 3 finished lines (out of order) and a torn one
    await Deno.writeTextFile(
      `${dir}/out/results.jsonl`,
      [lines[4], lines[0], lines[2], lines[1].slice(0, 20)].join("\n"),
    );
    const second = await scoreCompletions({
      completions: `${dir}/c.jsonl`,
      outDir: `${dir}/out`,
      judges: "semgrep",
      progress: false,
    });
    assertEquals(second.evaluated, input.length - 3);
    const again = (await Deno.readTextFile(`${dir}/out/results.jsonl`)).trim().split("\n");
    assertEquals(again, lines);
    const third = await scoreCompletions({
      completions: `${dir}/c.jsonl`,
      outDir: `${dir}/out`,
      judges: "semgrep",
      progress: false,
    });
    assertEquals(third.evaluated, 0);
    await Deno.remove(dir, { recursive: true });
  },
});
