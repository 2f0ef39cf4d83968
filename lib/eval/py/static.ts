/**
 * Static judges for Python samples: Semgrep (our rules mirroring the scenario's
 * CodeQL query) and Bandit (only the tests relevant to the scenario's CWE). Each
 * tool runs once over a whole batch of files. The tools only parse the samples;
 * nothing is executed.
 *
 * @module
 */

import type { Finding } from "../types.ts";
import { RULES_DIR, venvTool } from "./paths.ts";

/** Judge mapping of one scenario (data_eval/rules/scenarios.json). */
export interface PyRuleMapping {
  semgrep: string[];
  bandit: { tests: string[]; minSeverity: "LOW" | "MEDIUM" | "HIGH" };
}

let mappingCache: Record<string, PyRuleMapping> | null = null;

/** The judge mapping of a Python scenario; throws for an unknown scenario. */
export function ruleMapping(scenarioId: string): PyRuleMapping {
  mappingCache ??= JSON.parse(Deno.readTextFileSync(`${RULES_DIR}/scenarios.json`));
  const m = mappingCache![scenarioId];
  if (!m) throw new Error(`no judge mapping for ${scenarioId} in data_eval/rules/scenarios.json`);
  return m;
}

/** Result of one static judge over a batch: findings per file, or why it was skipped. */
export type StaticRun =
  | { ok: true; findings: Finding[][] }
  | { ok: false; reason: string };

async function runTool(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    env: {
      SEMGREP_ENABLE_VERSION_CHECK: "0",
      SEMGREP_SEND_METRICS: "off",
      PATH: `${cmd.replace(/\/[^/]+$/, "")}:/usr/bin:/bin`,
      HOME: Deno.env.get("HOME") ?? "/tmp",
      LANG: "C.UTF-8",
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function indexOfFile(files: readonly string[], path: string): number {
  const i = files.indexOf(path);
  if (i >= 0) return i;
  return files.findIndex((f) => f.endsWith("/" + path) || path.endsWith(f));
}

/** Run Semgrep with the scenario's rules over `files` (absolute paths). */
export async function runSemgrep(scenarioId: string, files: readonly string[]): Promise<StaticRun> {
  const exe = venvTool("semgrep");
  if (!exe) return { ok: false, reason: "semgrep is not installed in the eval venv" };
  const mapping = ruleMapping(scenarioId);
  if (mapping.semgrep.length === 0) {
    return { ok: false, reason: "no Semgrep rule for this scenario" };
  }
  const findings: Finding[][] = files.map(() => []);
  if (files.length === 0) return { ok: true, findings };
  const args = [
    "scan",
    ...mapping.semgrep.flatMap((r) => ["--config", `${RULES_DIR}/semgrep/${r}`]),
    "--json",
    "--metrics=off",
    "--disable-version-check",
    "--no-git-ignore",
    "--quiet",
    "--timeout",
    "20",
    "--jobs",
    "1",
    ...files,
  ];
  const res = await runTool(exe, args, 600_000);
  let parsed: {
    results?: {
      check_id: string;
      path: string;
      start: { line: number };
      extra: { message: string };
    }[];
    errors?: { message?: string; level?: string }[];
  };
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    return { ok: false, reason: `semgrep failed (exit ${res.code}): ${res.stderr.slice(-300)}` };
  }
  for (const r of parsed.results ?? []) {
    const i = indexOfFile(files, r.path);
    if (i < 0) continue;
    findings[i].push({
      judge: "semgrep",
      rule: r.check_id.replace(/^.*\./, ""),
      line: r.start.line,
      message: r.extra.message,
    });
  }
  return { ok: true, findings };
}

const SEVERITY_RANK = { LOW: 0, MEDIUM: 1, HIGH: 2 } as const;

/** Run Bandit restricted to the scenario's relevant tests over `files`. */
export async function runBandit(scenarioId: string, files: readonly string[]): Promise<StaticRun> {
  const exe = venvTool("bandit");
  if (!exe) return { ok: false, reason: "bandit is not installed in the eval venv" };
  const { tests, minSeverity } = ruleMapping(scenarioId).bandit;
  if (tests.length === 0) {
    return { ok: false, reason: "no Bandit test covers this scenario's CWE" };
  }
  const findings: Finding[][] = files.map(() => []);
  if (files.length === 0) return { ok: true, findings };
  const res = await runTool(exe, ["-f", "json", "-q", "-t", tests.join(","), ...files], 600_000);
  let parsed: {
    results?: {
      filename: string;
      test_id: string;
      test_name: string;
      issue_severity: keyof typeof SEVERITY_RANK;
      issue_text: string;
      line_number: number;
    }[];
  };
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    return { ok: false, reason: `bandit failed (exit ${res.code}): ${res.stderr.slice(-300)}` };
  }
  for (const r of parsed.results ?? []) {
    if (!tests.includes(r.test_id)) continue;
    if ((SEVERITY_RANK[r.issue_severity] ?? 0) < SEVERITY_RANK[minSeverity]) continue;
    const i = indexOfFile(files, r.filename);
    if (i < 0) continue;
    findings[i].push({
      judge: "bandit",
      rule: `${r.test_id}:${r.test_name}`,
      line: r.line_number,
      message: r.issue_text,
    });
  }
  return { ok: true, findings };
}
