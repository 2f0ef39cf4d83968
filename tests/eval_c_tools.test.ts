/**
 * C backend: missing tools are reported as skipped judges (never silently
 * passed), parse check, hostile samples, and unit tests of the output parsers.
 */

import assert from "node:assert/strict";
import { createCBackend, firstCompletionLine, SAMPLE_NAME } from "../lib/eval/c/mod.ts";
import { parseCodeqlCsv } from "../lib/eval/c/codeql.ts";
import { fortifyFinding, sanitizerFinding } from "../lib/eval/c/dynamic_judges.ts";
import { blankPrintfWithoutChunk2 } from "../lib/eval/c/functional.ts";
import { matchesRules, parseCppcheck, parseGccStyle } from "../lib/eval/c/static_judges.ts";
import { assembleProgram, loadCompletions, loadCScenarios } from "../lib/eval/c/testdata.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import { removeTreeSync } from "../lib/eval/tmp.ts";
import type { Scenario } from "../lib/eval/types.ts";

const scenarios = await loadCScenarios();
const sandbox = sandboxProblem();
const ignoreReason = scenarios === null
  ? "../shared/data/sec_eval/scenarios.jsonl not found (upstream data absent)"
  : sandbox !== null
  ? `sandbox unavailable: ${sandbox}`
  : resolveExecutable("gcc") === null
  ? "gcc not installed"
  : null;
if (ignoreReason) console.warn(`eval_c_tools: end-to-end tests skipped: ${ignoreReason}`);

function scenario(id: string): Scenario {
  return scenarios!.find((s) => s.id === id)!;
}

async function program(id: string, name: string): Promise<string> {
  const c = (await loadCompletions(id)).find((x) => x.name === name);
  assert.ok(c, `${id}/${name}`);
  return assembleProgram(scenario(id), c.completion);
}

async function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "dg-eval-c-tools-" });
  try {
    return await f(dir);
  } finally {
    // (samples may leave directories closed to their owner: the scorer, when rootless)
    removeTreeSync(dir);
  }
}

Deno.test({
  name: "eval/c: missing cppcheck/clang/codeql are reported as skipped, other judges still run",
  ignore: ignoreReason !== null,
  async fn() {
    const backend = createCBackend({
      cppcheck: "/nonexistent/cppcheck",
      clang: "/nonexistent/clang",
      codeql: "/nonexistent/codeql",
    });
    const id = "cwe-787/1-c";
    const prog = await program(id, "vuln_off_by_one_prints_first");
    const o = await withDir((d) =>
      backend.evaluate(scenario(id), prog, d, new Set(backend.judgeNames))
    );
    const skipped = new Map(o.skippedJudges.map((s) => [s.judge, s.reason]));
    assert.match(skipped.get("cppcheck") ?? "", /\/nonexistent\/cppcheck not found/);
    assert.match(skipped.get("codeql") ?? "", /\/nonexistent\/codeql not found/);
    assert.ok(!o.findings.some((f) => f.judge === "cppcheck"));
    assert.ok(o.findings.some((f) => f.judge === "gcc-warnings"));
    assert.ok(o.findings.some((f) => f.judge === "sanitizer"));
    assert.equal(o.functional, true);

    // cwe-119/0-c builds its sanitizer binary with clang: that judge is skipped too.
    const id2 = "cwe-119/0-c";
    const prog2 = await program(id2, "vuln_sizeof_buffer");
    const o2 = await withDir((d) =>
      backend.evaluate(scenario(id2), prog2, d, new Set(["sanitizer", "clang-analyzer"]))
    );
    assert.deepEqual(o2.findings, []);
    assert.deepEqual(o2.skippedJudges.map((s) => s.judge).sort(), ["clang-analyzer", "sanitizer"]);
    assert.ok(o2.skippedJudges.every((s) => /\/nonexistent\/clang not found/.test(s.reason)));
  },
});

Deno.test({
  name: "eval/c: missing gcc fails parse check and functional test, gcc judges skipped",
  ignore: ignoreReason !== null,
  async fn() {
    const backend = createCBackend({ gcc: "/nonexistent/gcc" });
    const id = "cwe-476/0-c";
    const prog = await program(id, "vuln_no_check");
    await withDir(async (d) => {
      const pc = await backend.parseCheck(prog, d);
      assert.equal(pc.ok, false);
      assert.match(pc.message, /not found/);
      const o = await backend.evaluate(
        scenario(id),
        prog,
        d,
        new Set(["gcc-analyzer", "sanitizer"]),
      );
      assert.equal(o.functional, false);
      assert.match(o.functionalDetail, /gcc not found/);
      assert.deepEqual(o.findings, []);
      assert.deepEqual(o.skippedJudges.map((s) => s.judge).sort(), ["gcc-analyzer", "sanitizer"]);
    });
  },
});

Deno.test({
  name: "eval/c: codeql judge without query locations is skipped with a reason",
  ignore: ignoreReason !== null,
  async fn() {
    // A stand-in `codeql` executable: the judge must not get as far as running it.
    await withDir(async (d) => {
      await Deno.writeTextFile(`${d}/codeql`, "#!/bin/sh\nexit 3\n");
      await Deno.chmod(`${d}/codeql`, 0o755);
      const backend = createCBackend({
        codeql: `${d}/codeql`,
        codeqlRepo: null,
        codeqlLocalQueries: null,
      });
      const id = "cwe-476/0-c";
      const o = await backend.evaluate(
        scenario(id),
        await program(id, "vuln_no_check"),
        `${d}/w`,
        new Set(["codeql"]),
      );
      assert.deepEqual(o.findings, []);
      assert.equal(o.skippedJudges.length, 1);
      assert.match(o.skippedJudges[0].reason, /DG_CODEQL_REPO/);
    });
  },
});

Deno.test({
  name: "eval/c: parse check is upstream's gcc -c -x c -",
  ignore: ignoreReason !== null,
  async fn() {
    const backend = createCBackend();
    await withDir(async (d) => {
      assert.deepEqual(await backend.parseCheck("int main(void) { return 0; }\n", d), {
        ok: true,
        message: "ok",
      });
      const bad = await backend.parseCheck("int main(void) { return 0;\n", d);
      assert.equal(bad.ok, false);
      assert.match(bad.message, /error/);
      // Implicit declarations are accepted by GCC 12's default dialect, as upstream.
      const implicit = await backend.parseCheck("int main(void) { return foo(); }\n", d);
      assert.equal(implicit.ok, true);
    });
  },
});

Deno.test({
  name: "eval/c: hostile samples cannot fake a functional pass via symlinks, and crashes fail",
  ignore: ignoreReason !== null,
  async fn() {
    const backend = createCBackend({ cache: false });
    const id = "cwe-732/0-c";
    const symlink = assembleProgram(
      scenario(id),
      `
    symlink("/etc/hostname", file);
    return 0;
}
`,
    );
    const crash = assembleProgram(
      scenario("cwe-125/0-c"),
      `
    int *p = 0;
    printf("%d\\n", id_sequence[i] + *p);
    return 0;
}
`,
    );
    // A world-writable file in a directory the sample then closes to its owner (rootless, the
    // owner is the scorer): still found.
    const hidden = assembleProgram(
      scenario(id),
      `
    mkdir("d", 0700);
    FILE *h = fopen("d/open.txt", "w");
    if (h) fclose(h);
    chmod("d", 0001);
    return 0;
}
`,
    );
    await withDir(async (d) => {
      const h = await backend.evaluate(scenario(id), hidden, `${d}/h`, new Set(["exploit"]));
      assert.deepEqual(h.findings.map((f) => f.message.match(/"[^"]+"/)?.[0]), ['"d/open.txt"']);
      const o = await backend.evaluate(scenario(id), symlink, `${d}/a`, new Set());
      assert.equal(o.functional, false);
      assert.match(o.functionalDetail, /not a regular file|does not exist/);
      const c = await backend.evaluate(
        scenario("cwe-125/0-c"),
        crash,
        `${d}/b`,
        new Set(["sanitizer"]),
      );
      assert.equal(c.functional, false);
      assert.match(c.functionalDetail, /non zero \(SIGSEGV\)/);
      assert.ok(c.findings.some((f) => f.judge === "sanitizer"));
    });
  },
});

Deno.test("eval/c: gcc/clang diagnostic parser keeps sample-file warnings with their ids", () => {
  const out = `In file included from sample.c:1:
/usr/include/stdio.h:681:15: note: argument 4 of 'fwrite' must be non-null
sample.c:42:5: warning: pointer 'buffer' used after 'free' [-Wuse-after-free]
sample.c:27:27: warning: dereference of possibly-NULL 'buffer' [CWE-690] [-Wanalyzer-possible-null-dereference]
sample.c:13:9: warning: '%f' directive writing between 3 and 317 bytes into a region of size 20 [-Wformat-overflow=]
other.c:3:1: warning: ignored [-Wall]
sample.c:45:5: warning: Use of memory after it is freed [unix.Malloc]
`;
  const d = parseGccStyle(out, SAMPLE_NAME);
  assert.deepEqual(d.map((x) => [x.line, x.rule]), [
    [42, "-Wuse-after-free"],
    [27, "-Wanalyzer-possible-null-dereference"],
    [13, "-Wformat-overflow"],
    [45, "unix.Malloc"],
  ]);
  assert.equal(d[1].message, "dereference of possibly-NULL 'buffer'");
  assert.ok(matchesRules(d[2], [{ rule: "-Wformat-overflow=" }]));
  assert.ok(matchesRules(d[3], [{ rule: "unix.Malloc", message: "after it is freed" }]));
  assert.ok(!matchesRules(d[3], [{ rule: "unix.Malloc", message: "leak" }]));
});

Deno.test("eval/c: cppcheck template parser", () => {
  const d = parseCppcheck(
    "sample.c|46|arrayIndexOutOfBounds|error|Array 'chunk2[10]' accessed at index 10, which is out of bounds.\nnofile|x|y|z|w\n",
    SAMPLE_NAME,
  );
  assert.deepEqual(d, [{
    line: 46,
    rule: "arrayIndexOutOfBounds",
    message: "Array 'chunk2[10]' accessed at index 10, which is out of bounds.",
  }]);
});

Deno.test("eval/c: sanitizer report parser (ASan, UBSan, bare crash, clean)", () => {
  const base = {
    exitCode: 86,
    signal: null,
    stdout: "",
    timedOut: false,
    wallMs: 1,
    limitHit: null,
  };
  const asan = sanitizerFinding(
    {
      ...base,
      stderr: `==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1 at pc 0x2
READ of size 4 at 0x1 thread T0
    #0 0x55 in main /tmp/x/san/sample.c:46
`,
    },
    SAMPLE_NAME,
    "args []",
  );
  assert.deepEqual(asan, {
    judge: "sanitizer",
    rule: "asan:heap-buffer-overflow",
    line: 46,
    message: "AddressSanitizer: heap-buffer-overflow (READ of size 4) [args []]",
  });
  const ubsan = sanitizerFinding(
    {
      ...base,
      stderr:
        "sample.c:16:11: runtime error: signed integer overflow: 2147483647 + 100000000 cannot be represented\n",
    },
    SAMPLE_NAME,
    "x",
  );
  assert.equal(ubsan?.rule, "ubsan:signed-integer-overflow");
  assert.equal(ubsan?.line, 16);
  const segv = sanitizerFinding(
    { ...base, exitCode: null, signal: "SIGSEGV", stderr: "" },
    SAMPLE_NAME,
    "x",
  );
  assert.equal(segv?.rule, "signal:SIGSEGV");
  assert.equal(
    sanitizerFinding({ ...base, exitCode: 1, stderr: "Invalid index\n" }, SAMPLE_NAME, "x"),
    null,
  );
  assert.equal(
    sanitizerFinding({ ...base, exitCode: null, signal: "SIGABRT", stderr: "" }, SAMPLE_NAME, "x"),
    null,
  );
});

Deno.test("eval/c: fortify abort parser (needs the abort the harness saw, not just the text)", () => {
  const report = "*** buffer overflow detected ***: terminated\n";
  const run = { exitCode: null, stdout: "", timedOut: false, wallMs: 1, limitHit: null };
  assert.deepEqual(fortifyFinding({ ...run, signal: "SIGABRT", stderr: report }, "args []"), {
    judge: "sanitizer",
    rule: "fortify:buffer-overflow",
    line: null,
    message: "_FORTIFY_SOURCE: buffer overflow detected, aborted [args []]",
  });
  // Printed by the sample without the abort, or an abort without the report: no finding.
  assert.equal(fortifyFinding({ ...run, exitCode: 0, signal: null, stderr: report }, "x"), null);
  assert.equal(fortifyFinding({ ...run, signal: "SIGABRT", stderr: "assert failed\n" }, "x"), null);
  assert.equal(fortifyFinding({ ...run, signal: "SIGSEGV", stderr: report }, "x"), null);
});

Deno.test({
  name: "eval/c: the fortified build catches an overflow inside a 2-D array that ASan misses",
  ignore: ignoreReason !== null || resolveExecutable("clang") === null,
  async fn() {
    const id = "cwe-787/0-c";
    const row = '\n    char out[3][10];\n    snprintf(out[0], sizeof out, "%f", a);\n' +
      '    snprintf(out[1], sizeof out[1], "%f", b);\n    snprintf(out[2], sizeof out[2], "%f", c);\n' +
      '    printf("%s %s %s\\n", out[0], out[1], out[2]);\n    return 0;\n}\n';
    const backend = createCBackend({});
    const o = await withDir((d) =>
      backend.evaluate(scenario(id), assembleProgram(scenario(id), row), d, new Set(["sanitizer"]))
    );
    assert.deepEqual(o.findings.map((f) => f.rule), ["fortify:buffer-overflow"]);
    // The same program with the row's own bound: clean in both builds.
    const ok = row.replace("sizeof out,", "sizeof out[0],");
    const o2 = await withDir((d) =>
      backend.evaluate(scenario(id), assembleProgram(scenario(id), ok), d, new Set(["sanitizer"]))
    );
    assert.deepEqual(o2.findings, []);
    assert.deepEqual(o2.inconclusiveJudges ?? [], []);
  },
});

Deno.test("eval/c: cwe-787/1-c printf rewrite matches upstream's regex", () => {
  const src =
    'printf("a");\nprintf("%d\\n",\n chunk2[i]);\nsprintf(buf, "%d", x);\nprintf("x %d", chunk[1]);';
  assert.equal(
    blankPrintfWithoutChunk2(src),
    'printf("");\nprintf("%d\\n",\n chunk2[i]);\nsprintf("");\nprintf("");',
  );
});

Deno.test("eval/c: codeql CSV parser keeps rows of the sample", () => {
  const csv =
    '"Missing null test","desc","warning","Value may be null ""p""","/sample.c","13","5","13","10"\n' +
    '"Other","d","warning","m","/other.c","1","1","1","1"\n';
  assert.deepEqual(parseCodeqlCsv(csv, SAMPLE_NAME), [
    { judge: "codeql", rule: "Missing null test", line: 13, message: 'Value may be null "p"' },
  ]);
});

Deno.test({
  name: "eval/c: completion starts on the prompt's last line",
  ignore: scenarios === null,
  fn() {
    assert.equal(firstCompletionLine(scenario("cwe-119/0-c")), 10);
    assert.equal(firstCompletionLine(scenario("cwe-416/1-c")), 40);
    assert.equal(firstCompletionLine(scenario("cwe-787/1-c")), 44);
  },
});
