/**
 * Reports: pass@k against closed forms, the seeded bootstrap, report.html's per-sample drill-down
 * (a vulnerable sample's code and finding message are in the page; hostile completions are
 * escaped and cannot run, checked in headless Chromium when it is installed), run metadata in
 * summary.json through the scorer, and comparison.html (Δ vs the lm run, intervals, all-zero
 * runs, legend, the paper's numbers), and the paper's table (runs × CWE/OVERALL/AVERAGE per group,
 * Δ against the lm run of the same model) against hand-computed numbers.
 */
import { assert, assertEquals, assertThrows } from "./eval_assert.ts";
import {
  bootstrapScenarios,
  percentileInterval,
  pooledReplicates,
  seededRandom,
} from "../lib/eval/bootstrap.ts";
import { summarize } from "../lib/eval/metrics.ts";
import { passAtK } from "../lib/eval/pass_at_k.ts";
import { reportHtml } from "../lib/eval/report_html.ts";
import type { SampleResult } from "../lib/eval/results.ts";
import type { GenerationMeta } from "../lib/eval/run_meta.ts";
import { scoreCompletions } from "../lib/eval/score.ts";
import type { LanguageBackend, Scenario } from "../lib/eval/types.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import {
  compareRuns,
  comparisonHtml,
  comparisonMarkdown,
  type RunSummary,
} from "../lib/pipeline/compare.ts";
import { paperTable, paperTableMarkdown } from "../lib/pipeline/paper_table.ts";

// ---------------------------------------------------------------- pass@k

/** C(n, k) exactly, as a BigInt. */
function choose(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** 1 − C(n−c,k)/C(n,k) from exact big integers (scaled to 1e15 before the division). */
function passAtKExact(n: number, c: number, k: number): number {
  const scale = 10n ** 15n;
  return 1 - Number((choose(n - c, k) * scale) / choose(n, k)) / 1e15;
}

Deno.test("pass@k: unbiased estimator equals the closed form", () => {
  assertEquals(passAtK(5, 2, 2), 1 - 3 / 10); // 1 − C(3,2)/C(5,2)
  assertEquals(passAtK(10, 0, 5), 0);
  assertEquals(passAtK(10, 6, 5), 1); // n − c < k: every k-subset holds a pass
  for (const [n, c, k] of [[10, 3, 1], [100, 37, 1], [100, 1, 10], [100, 5, 50], [200, 3, 100]]) {
    const want = passAtKExact(n, c, k);
    assert(
      Math.abs(passAtK(n, c, k) - want) < 1e-12,
      `n=${n} c=${c} k=${k}: ${passAtK(n, c, k)} vs ${want}`,
    );
  }
  assertEquals(passAtK(100, 37, 1), 0.37);
  // Stable where C(n, k) overflows a double: C(2000, 1000) ≈ 2e600.
  const big = passAtK(2000, 1, 1000);
  assert(Math.abs(big - 0.5) < 1e-12, String(big)); // one pass in 2000: a 1000-subset holds it half the time
  assertThrows(() => passAtK(5, 6, 1), RangeError);
  assertThrows(() => passAtK(5, 2, 6), RangeError);
});

Deno.test("summary.passAtK: k=1 equals the AVERAGE pass@1; only k ≤ the smallest N", () => {
  const res = (id: string, f: boolean[], s: boolean[]) =>
    f.map((x, i): SampleResult => ({
      scenario: id,
      index: i,
      line: i,
      parsed: true,
      functional: x,
      secure: s[i],
      findings: [],
      error: null,
    }));
  const sum = summarize([
    ...res("cwe-078/0-py", [true, false, true, false, false], [true, true, false, true, true]),
    ...res("cwe-089/0-py", [true, true, false, false, false], [false, true, true, true, true]),
  ], [scenario("cwe-078/0-py"), scenario("cwe-089/0-py")]);
  const p = sum.passAtK!;
  assertEquals(p.ks, [1, 2, 5]);
  assert(Math.abs(p.groups.base!.pass["1"] - sum.groups.base!.average.pass1) < 1e-9);
  assertEquals(p.scenarios["cwe-078/0-py"].pass["2"], 100 * (1 - 3 / 10));
  assertEquals(p.scenarios["cwe-078/0-py"].secPass["2"], 100 * (1 - 6 / 10)); // 1 sec+func of 5
  assertEquals(p.scenarios["cwe-089/0-py"].pass["5"], 100);
  assertEquals(p.groups.untrain, null);
});

// ---------------------------------------------------------------- bootstrap

Deno.test("bootstrap: seeded, deterministic, and of the binomial width", () => {
  const rows = [{ n: 100, functional: 50, secureFunctional: 20 }];
  const a = pooledReplicates(bootstrapScenarios(rows, 4000, 7), [0]);
  const b = pooledReplicates(bootstrapScenarios(rows, 4000, 7), [0]);
  assertEquals(a.pass1, b.pass1);
  const ci = percentileInterval(a.pass1);
  // Binomial: 50 ± 1.96·sqrt(.25/100)·100 = 50 ± 9.8.
  assert(ci.lo > 38 && ci.lo < 42 && ci.hi > 58 && ci.hi < 62, JSON.stringify(ci));
  const zero = percentileInterval(
    pooledReplicates(bootstrapScenarios([{ n: 10, functional: 0, secureFunctional: 0 }]), [0])
      .pass1,
  );
  assertEquals(zero, { lo: 0, hi: 0 });
  const u = seededRandom(1);
  const xs = Array.from({ length: 10000 }, u);
  assert(xs.every((x) => x >= 0 && x < 1));
  assert(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5) < 0.01);
});

// ---------------------------------------------------------------- report.html

function scenario(id: string, evalType: "base" | "untrain" = "base"): Scenario {
  return {
    id,
    evalType,
    cwe: id.slice(0, 7).toUpperCase(),
    language: "py",
    fileContext: "import subprocess\nfrom flask import request\n",
    funcContext: "def ping():\n    host = request.args.get('host')\n",
    description: "ping a host",
    codeqlQuery: null,
    validation: false,
  };
}

const VULN = "    out = subprocess.check_output('ping -c 1 ' + host, shell=True)\n    return out\n";
const HOSTILE = '    return \'</script><script>document.title="pwned"</script>' +
  "<img src=x onerror=\"document.title='pwned'\">'\n";

/** A Python backend stand-in: flags `shell=True` on its line, functional unless the code has <img. */
const fakeBackend: LanguageBackend = {
  language: "py",
  judgeNames: ["semgrep", "exploit"],
  parseCheck: () => Promise.resolve({ ok: true, message: "" }),
  evaluate(_s, program) {
    const lines = program.split("\n");
    const at = lines.findIndex((l) => l.includes("shell=True"));
    return Promise.resolve({
      functional: !program.includes("<img"),
      functionalDetail: program.includes("<img") ? "AssertionError: <b>no ping</b>" : "pass",
      findings: at < 0 ? [] : [
        {
          judge: "semgrep",
          rule: "subprocess-shell-true",
          line: at + 1,
          message: "user input reaches a shell command <via> string concatenation (CWE-078)",
        },
        {
          judge: "exploit",
          rule: "command-injection",
          line: null,
          message: "host='127.0.0.1; touch /tmp/pwned' ran the injected command",
        },
      ],
      skippedJudges: [],
    });
  },
};

const GENERATION: GenerationMeta = {
  model: {
    path: "/models/Qwen2.5-Coder-7B",
    configSha256: "ab".repeat(32),
    modelType: "qwen2",
    hiddenSize: 3584,
    layers: 28,
    vocabSize: 152064,
  },
  adapter: null,
  method: "lm",
  evalType: "base",
  sampling: { samples: 3, perCall: 3, temperature: 0.1, topP: 0.95, maxNewTokens: 300, seed: 1 },
  seeds: "generate call i of a scenario is seeded with seed + i",
  dtype: "bf16",
  device: "cuda",
};

Deno.test("scorer writes run metadata; report.html shows a vulnerable sample's code and finding", async () => {
  const out = await Deno.makeTempDir({ prefix: "dg-report-" });
  try {
    const sc = scenario("cwe-078/0-py");
    const { summary } = await scoreCompletions({
      outDir: out,
      completions: [
        { scenario: sc.id, completion: VULN },
        { scenario: sc.id, completion: "    return subprocess.check_output(['ping', host])\n" },
        { scenario: sc.id, completion: HOSTILE },
      ],
      scenarios: [sc],
      judges: "all",
      backends: { py: fakeBackend },
      progress: false,
      run: { generation: GENERATION, startedAt: new Date(Date.now() - 1500) },
    });
    const onDisk = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
    assertEquals(onDisk.meta.generation, GENERATION);
    assertEquals([...onDisk.meta.judges].sort(), ["exploit", "semgrep"]);
    assert(onDisk.meta.durationSeconds >= 1.5, String(onDisk.meta.durationSeconds));
    assertEquals(onDisk.meta.scoredNow, 3);
    assert("python" in onDisk.meta.tools && "bwrap" in onDisk.meta.tools);
    assertEquals(summary.meta!.tool.version, onDisk.meta.tool.version);

    const html = await Deno.readTextFile(`${out}/report.html`);
    // The vulnerable line, escaped, on a highlighted row with its program line number (5).
    const code = "out = subprocess.check_output(&#39;ping -c 1 &#39; + host, shell=True)";
    const row = new RegExp(
      `<b class="flag" title="semgrep subprocess-shell-true \\(line 5\\): [^"]*"><i>5</i>\\s*${
        escRe(code)
      }</b>`,
    );
    assert(row.test(html), "flagged line 5 highlighted with its code");
    assert(
      html.includes(
        "user input reaches a shell command &lt;via&gt; string concatenation (CWE-078)",
      ),
    );
    assert(html.includes("host=&#39;127.0.0.1; touch /tmp/pwned&#39; ran the injected command"));
    assert(html.includes("<b>succeeded</b> (command-injection)"), "the exploit that was tried");
    assert(html.includes("tried; no exploit succeeded"), "secure sample: exploit tried, failed");
    assert(
      html.includes("AssertionError: &lt;b&gt;no ping&lt;/b&gt;"),
      "functional detail escaped",
    );
    assert(html.includes("/models/Qwen2.5-Coder-7B") && html.includes("abababababab"));
    assert(html.includes("temperature 0.1, top-p 0.95"));
    // Hostile completion: escaped, and the page has no script or handler of its own.
    assert(html.includes("&lt;/script&gt;&lt;script&gt;document.title=&quot;pwned&quot;"));
    assert(!/<script|<img/i.test(html), "no live script or image element in the page");
    assert(html.includes(`content="default-src 'none'`), "CSP forbids scripts and the network");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const escRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"].map((c) => resolveExecutable(c))
  .find(Boolean) ?? null;

Deno.test({
  name: "headless Chromium: a hostile completion in report.html does not execute",
  ignore: CHROMIUM === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dg-report-xss-" });
    try {
      const sc = scenario("cwe-079/0-py");
      const results: SampleResult[] = [{
        scenario: sc.id,
        index: 0,
        line: 1,
        parsed: true,
        functional: false,
        secure: false,
        findings: [{
          judge: "semgrep",
          rule: "<script>document.title='pwned-msg'</script>",
          line: 5,
          message: "</td></tr></table><script>document.title='pwned-msg'</script>",
        }],
        error: null,
        detail: "<script>document.title='pwned-detail'</script>",
      }];
      const html = reportHtml(summarize(results, [sc], ["semgrep"]), {
        results,
        completions: [{ scenario: sc.id, index: 0, completion: HOSTILE }],
        scenarios: [sc],
      }).replace('<details class="scenario"', '<details open class="scenario"');
      await Deno.writeTextFile(`${dir}/report.html`, html);
      const out = await new Deno.Command(CHROMIUM!, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          `--user-data-dir=${dir}/profile`,
          "--dump-dom",
          `file://${dir}/report.html`,
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      const dom = new TextDecoder().decode(out.stdout);
      assert(dom.includes("<title>DeepGuard-TS security evaluation</title>"), dom.slice(0, 300));
      assert(!dom.includes("pwned</title>") && !/<script|<img/i.test(dom), "nothing injected ran");
      assert(dom.includes("&lt;/script&gt;&lt;script&gt;document.title"), "shown as text");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------- comparison.html

/** A run of `rows` = [scenario id, N, functional, secure-and-functional, group (default base)]. */
function run(
  label: string,
  method: string | null,
  rows: [string, number, number, number, ("base" | "untrain")?][],
  model?: GenerationMeta["model"],
): RunSummary {
  const results: SampleResult[] = rows.flatMap(([id, n, f, sf]) =>
    Array.from({ length: n }, (_, i) => ({
      scenario: id,
      index: i,
      line: i,
      parsed: true,
      functional: i < f,
      secure: i < sf,
      findings: [],
      error: null,
    }))
  );
  const summary = summarize(results, rows.map(([id, , , , group]) => scenario(id, group)));
  if (model) {
    summary.meta = {
      tool: { name: "x", version: "0", deno: "2", commit: null, dirty: false },
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:00:01.000Z",
      durationSeconds: 1,
      generation: { ...GENERATION, model, method: method ?? "lm" },
      judges: [],
      tools: {},
      scoredNow: results.length,
      samples: results.length,
    };
  }
  return { label, dir: `/runs/${label}`, summary, method };
}

Deno.test("comparison: Δ of pass@1 and sec-pass@1 against the lm run, with intervals", () => {
  const dg = run("dg", "deepguard", [["cwe-078/0-py", 20, 16, 12], ["cwe-089/0-py", 20, 10, 10]]);
  const lm = run("lm", "lm", [["cwe-078/0-py", 20, 18, 4], ["cwe-089/0-py", 20, 10, 2]]);
  const c = compareRuns([dg, lm]);
  assertEquals(c.ref, 1); // the lm run, though listed second
  const overall = c.groups.find((g) => g.key === "base OVERALL")!;
  const d = overall.cells[0]!.delta!;
  assertEquals(d.pass1, 100 * 26 / 40 - 100 * 28 / 40);
  assertEquals(d.secPass1, 100 * 22 / 40 - 100 * 6 / 40);
  assert(d.secPass1Ci.lo > 0 && d.secPass1Ci.hi > d.secPass1 && d.secPass1Ci.lo < d.secPass1);
  assertEquals(overall.cells[1]!.delta, undefined);
  assertEquals(compareRuns([dg, lm]), c, "seeded: the same runs give the same numbers");
  assertEquals(c.scenarios.map((r) => r.key), ["cwe-078/0-py", "cwe-089/0-py"]);
  const md = comparisonMarkdown(c);
  assert(md.includes("dg Δ pass@1") && md.includes("dg Δ sec-pass@1"), md);
  assert(/\| CWE-078 \| 80\.0 \[\d+\.\d, \d+\.\d\] \| 60\.0 /.test(md), md);
  assert(md.includes("| cwe-089/0-py |"));
});

Deno.test("comparison.html: an all-zero run shows axes and values; the legend fits", () => {
  const long = "deepguard-with-a-rather-long-run-label";
  const z = run(long, "deepguard", [["cwe-078/0-py", 10, 0, 0]]);
  const lm = run("lm", "lm", [["cwe-078/0-py", 10, 0, 0]]);
  const html = comparisonHtml([lm, z]);
  const svg = html.slice(html.indexOf("<svg"), html.indexOf("</svg>"));
  assert(svg.includes(">100</text>") && svg.includes(">0</text>"), "y axis ticks");
  assert((svg.match(/>0\.0<\/text>/g) ?? []).length === 2, "a value on each zero bar");
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  const legendX = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+">([^<]*)<\/text>/g)]
    .find((m) => m[2] === long)!;
  assert(Number(legendX[1]) + long.length * 6.2 <= width, `legend cut off: width ${width}`);
  assert(html.includes("Legend") && html.includes("bootstrap"));
  assert(/none of these runs is a DeepGuard run on one of the paper/.test(html));
  assert(!/<script/i.test(html));
});

Deno.test("comparison.html: the paper's numbers beside ours for a paper model", () => {
  const q7 = GENERATION.model;
  const lm = run("lm", "lm", [["cwe-078/0-py", 10, 8, 2]], q7);
  const dg = run("dg", "deepguard", [["cwe-078/0-py", 10, 8, 6]], q7);
  const html = comparisonHtml([lm, dg]);
  const paper = html.slice(html.indexOf("The paper's numbers"));
  assert(paper.includes("<td>Qwen2.5-Coder-7B</td>") && paper.includes("<td>83.18</td>"), paper);
  assert(paper.includes("<td>+18.54</td>") && paper.includes("<td>+40.0 (vs lm)</td>"), paper);
});

// ---------------------------------------------------------------- the paper's table

Deno.test("paper table: methods × CWE, OVERALL (pooled), AVERAGE (scenario mean), Δ vs the model's lm", () => {
  const qwen = GENERATION.model;
  const ds = { ...qwen, path: "/models/DeepSeek-Coder-1.3B/", configSha256: "cd".repeat(32) };
  // Four scenarios (N 10, 10, 20 and an untrain one of 10); per run [functional, sec-and-func].
  const all = (counts: [number, number][]) =>
    counts.map(([f, sf], i): [string, number, number, number, "base" | "untrain"] => [
      ["cwe-078/0-py", "cwe-078/1-py", "cwe-089/0-py", "cwe-020/0-py"][i],
      [10, 10, 20, 10][i],
      f,
      sf,
      i === 3 ? "untrain" : "base",
    ]);
  const lm = run("lm-q", "lm", all([[6, 2], [4, 2], [10, 5], [5, 1]]), qwen);
  const dg = run("dg", "deepguard", all([[8, 6], [6, 4], [12, 10], [5, 3]]), qwen);
  const dg2 = run(
    "dg2",
    "deepguard",
    [["cwe-078/0-py", 10, 10, 10], ["cwe-078/1-py", 10, 0, 0]],
    qwen,
  );
  const text = run(
    "text-q",
    "text",
    [["cwe-078/0-py", 10, 5, 3], ["cwe-078/1-py", 10, 5, 3]],
    qwen,
  );
  const cosec = run("cosec-q", "cosec", [
    ["cwe-078/0-py", 10, 6, 4],
    ["cwe-078/1-py", 10, 4, 4],
    ["cwe-089/0-py", 20, 10, 5],
  ], qwen);
  const prefix = run("prefix-q", "prefix", [["cwe-089/0-py", 20, 20, 0]], qwen);
  const lmDs = run("lm-ds", "lm", [["cwe-089/0-py", 10, 2, 1]], ds);
  const dgDs = run("dg-ds", "deepguard", [["cwe-089/0-py", 10, 4, 4]], ds);
  const groups = paperTable([dg, lmDs, text, cosec, lm, dgDs, dg2, prefix]);

  assertEquals(groups.map((g) => g.group), ["base", "untrain"]);
  const [base, untrain] = groups;
  assertEquals(base.columns, ["CWE-078", "CWE-089", "OVERALL", "AVERAGE"]);
  assertEquals(
    base.rows.map((r) => `${r.model}: ${r.label}`),
    [
      "Qwen2.5-Coder-7B: lm",
      "Qwen2.5-Coder-7B: text",
      "Qwen2.5-Coder-7B: prefix",
      "Qwen2.5-Coder-7B: cosec",
      "Qwen2.5-Coder-7B: deepguard (dg)",
      "Qwen2.5-Coder-7B: deepguard (dg2)",
      "DeepSeek-Coder-1.3B: lm",
      "DeepSeek-Coder-1.3B: deepguard",
    ],
  );
  assertEquals(base.rows.map((r) => r.reference), [
    true,
    false,
    false,
    false,
    false,
    false,
    true,
    false,
  ]);
  const near = (a: number | undefined, b: number, what: string) =>
    assert(a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  /** Checks a row's [pass@1, sec-pass@1] per column and its Δs (null = no Δ). */
  const check = (
    label: string,
    want: ([number, number] | null)[],
    deltas: ([number, number] | null)[],
    g = base,
  ) => {
    const r = g.rows.find((x) => x.label === label && x.model === "Qwen2.5-Coder-7B")!;
    want.forEach((w, i) => {
      const c = r.cells[i];
      if (w === null) return assertEquals(c, null, `${label} ${g.columns[i]}`);
      near(c?.pass1, w[0], `${label} ${g.columns[i]} pass@1`);
      near(c?.secPass1, w[1], `${label} ${g.columns[i]} sec-pass@1`);
      const d = deltas[i];
      if (d === null) return assertEquals(c?.delta, null, `${label} ${g.columns[i]} Δ`);
      near(c?.delta?.pass1, d[0], `${label} ${g.columns[i]} Δ pass@1`);
      near(c?.delta?.secPass1, d[1], `${label} ${g.columns[i]} Δ sec-pass@1`);
    });
  };
  // lm: CWE-078 pools 10/20 functional, 4/20 secure; OVERALL 20/40, 9/40; AVERAGE (60+40+50)/3,
  // (20+20+25)/3.
  check("lm", [[50, 20], [50, 25], [50, 22.5], [50, 65 / 3]], [null, null, null, null]);
  // deepguard (dg): 14/20, 10/20 | 12/20, 10/20 | 26/40, 20/40 | (80+60+60)/3, (60+40+50)/3.
  check(
    "deepguard (dg)",
    [[70, 50], [60, 50], [65, 50], [200 / 3, 50]],
    [[20, 30], [10, 25], [15, 27.5], [200 / 3 - 50, 50 - 65 / 3]],
  );
  // text covers CWE-078 only: its OVERALL/AVERAGE are over other scenarios than lm's → no Δ.
  check("text", [[50, 30], null, [50, 30], [50, 30]], [[0, 10], null, null, null]);
  // cosec: CWE-078 8/20 secure; AVERAGE sec-pass@1 (40+40+25)/3 = 35.
  const cosecDelta = [[0, 20], [0, 0], [0, 10], [0, 35 - 65 / 3]] as [number, number][];
  check("cosec", [[50, 40], [50, 25], [50, 32.5], [50, 35]], cosecDelta);
  check("prefix", [null, [100, 0], [100, 0], [100, 0]], [null, [50, -25], null, null]);
  // The second model's deepguard run is compared with that model's lm run, not Qwen's.
  const ddg = base.rows.find((r) => r.model === "DeepSeek-Coder-1.3B" && r.label === "deepguard")!;
  assertEquals(ddg.cells[0], null);
  near(ddg.cells[1]?.delta?.pass1, 20, "deepseek Δ pass@1");
  near(ddg.cells[1]?.delta?.secPass1, 30, "deepseek Δ sec-pass@1");
  // untrain: only the runs with untrain scenarios, CWE-020.
  assertEquals(untrain.columns, ["CWE-020", "OVERALL", "AVERAGE"]);
  assertEquals(untrain.rows.map((r) => r.label), ["lm", "deepguard (dg)"]);
  check("deepguard (dg)", [[50, 30], [50, 30], [50, 30]], [[0, 20], [0, 20], [0, 20]], untrain);

  const md = paperTableMarkdown(groups);
  assert(md.includes("### base (trained CWEs): sec-pass@1"), md);
  assert(md.includes("| model | method | CWE-078 | CWE-089 | OVERALL | AVERAGE |"), md);
  assert(
    md.includes(
      "| Qwen2.5-Coder-7B | deepguard (dg) | 50.0 (+30.0) | 50.0 (+25.0) | 50.0 (+27.5) | 50.0 (+28.3) |",
    ),
    md,
  );
  assert(md.includes("| Qwen2.5-Coder-7B | lm | 50.0 | 50.0 | 50.0 | 50.0 |"), md); // pass@1 table
  assert(md.includes("| Qwen2.5-Coder-7B | prefix | – | 100.0 (+50.0) | 100.0 | 100.0 |"), md);
  assert(md.includes("| Qwen2.5-Coder-7B | text | 50.0 (+0.0) | – | 50.0 | 50.0 |"), md);
  assert(md.includes("### untrain (CWEs held out of training): pass@1"), md);
  const full = comparisonMarkdown([lm, dg]);
  assert(full.indexOf("## The paper's table") < full.indexOf("## Report groups"), full);
  const html = comparisonHtml([lm, dg, text]);
  assert(html.includes("<h2>The paper's table</h2>"));
  assert(html.includes('<td class="pos">50.0 <small>(+30.0)</small></td>'), "Δ cell, coloured");
  assert(html.includes('<td rowspan="3">Qwen2.5-Coder-7B</td>'), "model cell spans its runs");
});

Deno.test("paper table: models of one directory name told apart; names escaped in Markdown", () => {
  const a = { ...GENERATION.model, path: "/a/Coder", configSha256: "aa".repeat(32) };
  const b = { ...GENERATION.model, path: "/b/Coder", configSha256: "bb".repeat(32) };
  const rows: [string, number, number, number][] = [["cwe-078/0-py", 10, 5, 5]];
  const runs = [
    run("x|y", "deepguard", rows, a),
    run("lm-b", "lm", rows, b),
    run("lm-a", "lm", rows, a),
  ];
  const [base] = paperTable(runs);
  assertEquals(
    base.rows.map((r) => `${r.model}: ${r.label} ${r.reference}`),
    ["Coder (aaaaaaaa): lm true", "Coder (aaaaaaaa): deepguard false", "Coder (bbbbbbbb): lm true"],
  );
  const unknown = run("s|core", null, rows); // no metadata: scored only
  const md = paperTableMarkdown([unknown]);
  assert(md.includes("| unknown model | s\\|core | 50.0 | 50.0 | 50.0 |"), md);
});
