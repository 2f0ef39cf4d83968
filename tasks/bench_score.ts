/**
 * `deno task bench:score [--samples 100] [--jobs 2] [--judges all] [--out DIR]`
 *
 * Benchmark of the scorer: every scenario × N completions (our labelled test
 * completions, repeated; C ones from data_eval/c/<cwe>_<n>/completions.json),
 * scored end to end. Writes score.json in `--out` (default bench/results).
 *
 * @module
 */

import { PY_DATA_DIR } from "../lib/eval/py/paths.ts";
import { PROJECT_ROOT } from "../lib/util/paths.ts";
import { loadScenarios } from "../lib/eval/scenarios.ts";
import { defaultBackends, scoreCompletions } from "../lib/eval/score.ts";
import { parseJudges } from "../lib/eval/judges.ts";
import { asUsageError } from "./scope.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  samples: {
    type: "int",
    min: 1,
    default: 100,
    alias: ["per-scenario"],
    help: "completions scored per scenario",
  },
  jobs: { type: "int", min: 1, default: 2, help: "concurrent batches" },
  judges: {
    type: "string",
    default: "all",
    arg: "LIST",
    help: 'comma-separated judges, "all" or "none"',
  },
  out: { type: "outDir", default: `${PROJECT_ROOT}/bench/results`, help: "where score.json goes" },
}, { name: "bench:score" });

async function ourCompletions(): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  const add = (id: string, c: string) => {
    if (!by.has(id)) by.set(id, []);
    by.get(id)!.push(c);
  };
  for (const e of Deno.readDirSync(`${PY_DATA_DIR}/completions`)) {
    if (!e.name.endsWith(".jsonl")) continue;
    for (const line of Deno.readTextFileSync(`${PY_DATA_DIR}/completions/${e.name}`).split("\n")) {
      if (line.trim()) {
        const o = JSON.parse(line);
        add(o.scenario, o.completion);
      }
    }
  }
  try {
    for (const e of Deno.readDirSync(`${PROJECT_ROOT}/data_eval/c`)) {
      const m = /^(cwe-\d+)_(\d+)$/.exec(e.name);
      if (!m) continue;
      try {
        const list = JSON.parse(
          await Deno.readTextFile(`${PROJECT_ROOT}/data_eval/c/${e.name}/completions.json`),
        ) as { completion: string }[];
        for (const x of list) add(`${m[1]}/${m[2]}-c`, x.completion);
      } catch { /* no completions there */ }
    }
  } catch { /* no C data */ }
  return by;
}

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values } = cli.parse(Deno.args);
    const { jobs, samples: n } = values;
    const scenarios = await asUsageError(async () => {
      parseJudges(values.judges, Object.values(await defaultBackends()));
      return await loadScenarios();
    });
    const ours = await ourCompletions();
    const lines: string[] = [];
    const missing: string[] = [];
    for (const s of scenarios) {
      const pool = ours.get(s.id) ?? [];
      if (pool.length === 0) missing.push(s.id);
      for (let i = 0; i < n; i++) {
        lines.push(
          JSON.stringify({
            scenario: s.id,
            completion: pool.length ? pool[i % pool.length] : "\n",
          }),
        );
      }
    }
    if (missing.length) {
      console.error(`no test completions for: ${missing.join(", ")} (using "\\n")`);
    }
    const work = await Deno.makeTempDir({ prefix: "dg-bench-score-" });
    await Deno.writeTextFile(`${work}/completions.jsonl`, lines.join("\n") + "\n");
    const t0 = performance.now();
    const { summary } = await scoreCompletions({
      completions: `${work}/completions.jsonl`,
      outDir: `${work}/out`,
      judges: values.judges,
      jobs,
    });
    const wall = (performance.now() - t0) / 1000;
    const result = {
      samples: lines.length,
      wall_s: Number(wall.toFixed(1)),
      samples_per_s: Number((lines.length / wall).toFixed(2)),
      jobs,
      judges: summary.judges,
      cpus: navigator.hardwareConcurrency,
      errors: summary.scenarios.reduce((a, r) => a + r.errors, 0),
      date: new Date().toISOString(),
    };
    await Deno.mkdir(values.out, { recursive: true });
    await Deno.writeTextFile(`${values.out}/score.json`, JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result));
    await Deno.remove(work, { recursive: true });
  });
}
