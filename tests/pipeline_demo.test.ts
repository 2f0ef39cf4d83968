/**
 * `./dg demo` end to end at its smallest (1 training step, 1 sample per scenario): every method
 * of lib/pipeline/demo_methods.ts is trained where it trains, evaluated, and has its row in the
 * paper's table of comparison.md, with a Δ against the lm run in every column. Also the demo
 * pairs' `char_changes` and the entries' flag expansion.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { charChanges, lineChanges, readDemoPairs } from "../lib/pipeline/demo_data.ts";
import { DEMO_METHODS, expandFlags } from "../lib/pipeline/demo_methods.ts";
import { loadRun } from "../lib/pipeline/compare.ts";
import { paperTable } from "../lib/pipeline/paper_table.ts";

Deno.test("demo pairs: char_changes and line_changes between the common prefix and suffix", async () => {
  // Common prefix "f(", common suffix ")": "x" became "esc(x)".
  assert.deepEqual(charChanges("f(x)", "f(esc(x))"), {
    deleted: [{ char_start: 2, char_end: 3, chars: "x" }],
    added: [{ char_start: 2, char_end: 8, chars: "esc(x)" }],
  });
  assert.deepEqual(charChanges("ü = a + b", "ü = a"), {
    deleted: [{ char_start: 5, char_end: 9, chars: " + b" }], // code points, not UTF-16 units
    added: [],
  });
  assert.deepEqual(lineChanges("a\nü\nc\n", "a\nx\ny\nc\n"), {
    deleted: [{ line_no: 2, char_start: 2, char_end: 4, line: "ü\n" }],
    added: [
      { line_no: 2, char_start: 2, char_end: 4, line: "x\n" },
      { line_no: 3, char_start: 4, char_end: 6, line: "y\n" },
    ],
  });
  const { train, val } = await readDemoPairs();
  for (const p of [...train, ...val]) {
    const lines = lineChanges(p.vulnerable, p.secure);
    for (const [side, text] of [["deleted", p.vulnerable], ["added", p.secure]] as const) {
      for (const l of lines[side]) {
        assert.equal([...text].slice(l.char_start, l.char_end).join(""), l.line, p.description);
        assert.equal(text.split("\n")[l.line_no - 1] + "\n", l.line, p.description);
      }
    }
    const { deleted, added } = charChanges(p.vulnerable, p.secure);
    assert.ok(added.length === 1, `${p.description}: the secure side adds something`);
    const [v, s] = [[...p.vulnerable], [...p.secure]];
    const end = deleted[0]?.char_end ?? added[0].char_start;
    assert.equal(
      v.slice(0, added[0].char_start).join("") + added[0].chars + v.slice(end).join(""),
      s.join(""),
      `${p.description}: before with the change applied is after`,
    );
  }
});

Deno.test("demo methods: the paper's rows, flags expanded per argument", () => {
  for (const m of ["lm", "text", "cosec", "deepguard"]) {
    assert.ok(DEMO_METHODS.some((x) => x.method === m), `the demo runs ${m}`);
  }
  assert.deepEqual(expandFlags("--adapter {train}/best  --seed 1", { train: "/a b" }), [
    "--adapter",
    "/a b/best",
    "--seed",
    "1",
  ]);
  assert.throws(() => expandFlags("--x {nope}", {}), /unknown \{nope\}/);
});

Deno.test({
  name: "./dg demo: every method trained, evaluated and in the paper's table",
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "dg-demo-" });
    try {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${PROJECT_ROOT}/tasks/demo.ts`, "--out", out, "--steps", "1"]
          .concat(["--samples", "1"]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(r.stdout);
      assert.ok(r.success, stdout + new TextDecoder().decode(r.stderr).slice(-3000));
      assert.match(stdout, /## The paper's table/);
      assert.ok(stdout.includes(`Report: ${out}/comparison.html`), stdout);
      const md = await Deno.readTextFile(`${out}/comparison.md`);
      const runs = await Promise.all(DEMO_METHODS.map((m) => loadRun(`${out}/eval-${m.method}`)));
      for (const [i, m] of DEMO_METHODS.entries()) {
        assert.equal(runs[i].summary.meta?.generation?.method, m.method);
        assert.equal(runs[i].summary.samples, 13, `${m.method}: 13 scenarios × 1 sample`);
        if (m.train) await Deno.stat(`${out}/train-${m.method}`);
        // A row in each of the four tables (base/untrain × sec-pass@1/pass@1).
        const rows = md.split("\n").filter((l) => l.startsWith(`| tiny-qwen2 | ${m.method} |`));
        assert.equal(rows.length, 4, `${m.method} rows in comparison.md:\n${md.slice(0, 3000)}`);
      }
      for (const g of paperTable(runs)) {
        const methods = (xs: (string | null)[]) => [...xs].sort();
        assert.deepEqual(
          methods(g.rows.map((r) => r.method)),
          methods(DEMO_METHODS.map((m) => m.method)),
        );
        for (const row of g.rows.filter((x) => x.method !== "lm")) {
          assert.ok(row.cells.every((c) => c?.delta), `${g.group} ${row.label}: a Δ everywhere`);
        }
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
