/**
 * Static judges for Python samples: Semgrep (our rules mirroring the scenario's
 * CodeQL query) and Bandit (only the tests relevant to the scenario's CWE). Each
 * tool runs once over a whole batch of files. The tools only parse the samples;
 * nothing is executed.
 *
 * @module
 */

import type { Finding } from "../types.ts";
import { SANDBOX_MOUNTS } from "../bwrap.ts";
import { runSandboxed } from "../sandbox.ts";
import { pythonRoBinds, RULES_DIR, SANDBOX_PYTHON, venvDir, venvTool } from "./paths.ts";

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
  | { ok: false; reason: string; inconclusive?: boolean };

/**
 * Run a venv tool (semgrep, bandit) in the sandbox over the batch directory that
 * holds `files`: the venv and the rules are visible read-only at their neutral
 * mount points, the batch directory is the only writable path, nothing else of
 * the host is visible.
 */
async function runTool(
  exe: string,
  args: string[],
  files: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; limit: string | null }> {
  const dir = files[0].replace(/\/[^/]+$/, "");
  // Semgrep's launcher re-executes `pysemgrep`, whose shebang names the venv's real
  // path: the venv is also visible there (these tools never run sample code).
  const venv = Deno.realPathSync(venvDir());
  const res = await runSandboxed(
    [SANDBOX_PYTHON, `${SANDBOX_MOUNTS.venv}/bin/${exe.replace(/^.*\//, "")}`, ...args],
    {
      dir,
      env: {
        SEMGREP_ENABLE_VERSION_CHECK: "0",
        SEMGREP_SEND_METRICS: "off",
        PATH: `${venv}/bin:/usr/bin:/bin`,
      },
      roBinds: [...pythonRoBinds(), venv, [RULES_DIR, SANDBOX_MOUNTS.rules]],
      limits: {
        timeoutMs,
        cpuSeconds: Math.ceil(timeoutMs / 1000),
        memoryBytes: 8 * 2 ** 30,
        fileSizeBytes: 256 << 20,
        maxProcesses: 64,
      },
    },
  );
  return { code: res.exitCode, stdout: res.stdout, stderr: res.stderr, limit: res.limitHit };
}

/** A tool run whose JSON report did not parse (a crash or a limit hit): inconclusive. */
type ToolFailure = { ok: false; reason: string; inconclusive: true };

/**
 * {@link runTool}, then its stdout parsed as the tool's JSON report; output that is not JSON is
 * a {@link ToolFailure} naming the tool, its exit code, the limit hit and the tail of stderr.
 */
async function runToolJson<T>(
  tool: string,
  exe: string,
  args: string[],
  files: readonly string[],
): Promise<{ ok: true; report: T } | ToolFailure> {
  const res = await runTool(exe, args, files, 600_000);
  try {
    return { ok: true, report: JSON.parse(res.stdout) };
  } catch {
    return {
      ok: false,
      inconclusive: true,
      reason: `${tool} failed (exit ${res.code}, ${res.limit ?? "no limit"}): ${
        res.stderr.slice(-300)
      }`,
    };
  }
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
    ...mapping.semgrep.flatMap((r) => ["--config", `${SANDBOX_MOUNTS.rules}/semgrep/${r}`]),
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
  const run = await runToolJson<{
    results?: {
      check_id: string;
      path: string;
      start: { line: number };
      extra: { message: string };
    }[];
    errors?: { message?: string; level?: string }[];
  }>("semgrep", exe, args, files);
  if (!run.ok) return run;
  for (const r of run.report.results ?? []) {
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
  const run = await runToolJson<{
    results?: {
      filename: string;
      test_id: string;
      test_name: string;
      issue_severity: keyof typeof SEVERITY_RANK;
      issue_text: string;
      line_number: number;
    }[];
  }>("bandit", exe, ["-f", "json", "-q", "-t", tests.join(","), ...files], files);
  if (!run.ok) return run;
  for (const r of run.report.results ?? []) {
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
