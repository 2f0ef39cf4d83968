/**
 * Runs the functional test and the exploit test of many Python samples of one
 * scenario in one sandboxed batch (data_eval/py/harness.py inside bubblewrap).
 * In rootless mode (lib/eval/rootless.ts) every sample gets a sandbox of its
 * own instead: a user namespace has one uid, so only separate namespaces keep
 * samples apart.
 *
 * @module
 */

import { allocUids, bwrapArgs, isRootless, SANDBOX_MOUNTS, spawnBwrap } from "../bwrap.ts";
import { sandboxProblem, SandboxUnavailableError } from "../sandbox.ts";
import { PY_DATA_DIR, pythonProblem, pythonRoBinds, SANDBOX_PYTHON } from "./paths.ts";

/** Limits applied to every sample process by the harness. */
export interface PyLimits {
  cpuSeconds: number;
  memoryBytes: number;
  fileSizeBytes: number;
  maxProcesses: number;
}

/** Default per-sample limits. */
export const PY_LIMITS: PyLimits = {
  cpuSeconds: 10,
  memoryBytes: 2 * 1024 ** 3,
  fileSizeBytes: 16 << 20,
  maxProcesses: 32,
};

/** Wall-clock limit per phase, seconds. */
export const PHASE_TIMEOUTS = { functional: 15, exploit: 30 } as const;

/** A phase of the dynamic evaluation. */
export type Phase = keyof typeof PHASE_TIMEOUTS;

/** What the harness reported for one sample and phase. */
export interface PhaseReport {
  index: number;
  phase: Phase;
  wallMs?: number;
  /** Limit that was hit (`timeout`, `cpu`, `memory`, `file-size`, `processes`, `signal`). */
  limit: string | null;
  /** Harness-level error (no verdict): a limit, tampering, a forged/missing verdict line. */
  error?: string;
  /** Exploit attempts that ended abnormally (SystemExit, ...): the phase is inconclusive. */
  incomplete?: string[];
  /** Check verdict: functional {functional, detail} or exploit {findings, detail}. */
  verdict: {
    functional?: boolean;
    detail?: string;
    findings?: { rule: string; message: string }[];
    harnessError?: string;
  };
  logTail?: string;
  leftoverAfterKill?: number;
}

/** Module name of the check for a scenario id: `cwe-078/0-py` → `cwe_078_0`. */
export function checkModule(scenarioId: string): string {
  const m = /^cwe-(\d+)\/(\d+)-py$/.exec(scenarioId);
  if (!m) throw new Error(`not a Python scenario id: ${scenarioId}`);
  return `cwe_${m[1]}_${m[2]}`;
}

/** True iff data_eval/py has a check module for the scenario. */
export function hasCheck(scenarioId: string): boolean {
  try {
    Deno.statSync(`${PY_DATA_DIR}/checks/${checkModule(scenarioId)}.py`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `phases` for every program of one scenario; returns, per program (input
 * order), the report of each phase. Programs must already have parsed.
 */
export async function runPyBatch(
  scenarioId: string,
  programs: readonly string[],
  phases: readonly Phase[],
  opts: { limits?: Partial<PyLimits> } = {},
): Promise<Map<Phase, PhaseReport>[]> {
  const problem = sandboxProblem() ?? pythonProblem();
  if (problem) throw new SandboxUnavailableError(problem);
  if (programs.length === 0 || phases.length === 0) return programs.map(() => new Map());
  if (!isRootless()) return await runJob(scenarioId, programs, phases, opts);
  const out: Map<Phase, PhaseReport>[] = [];
  for (const [i, program] of programs.entries()) {
    const [reports] = await runJob(scenarioId, [program], phases, opts);
    for (const r of reports.values()) r.index = i;
    out.push(reports);
  }
  return out;
}

/** One harness run (one sandbox) over `programs`. */
async function runJob(
  scenarioId: string,
  programs: readonly string[],
  phases: readonly Phase[],
  opts: { limits?: Partial<PyLimits> },
): Promise<Map<Phase, PhaseReport>[]> {
  const out = programs.map(() => new Map<Phase, PhaseReport>());
  const rootless = isRootless();
  // Programs travel in the job on stdin (never as files another sample could read).
  const uidBase = rootless ? null : allocUids(programs.length);
  const samples = programs.map((program, i) => ({
    index: i,
    program,
    uid: uidBase === null ? null : uidBase + i,
    phases,
  }));
  const job = {
    scenario: scenarioId,
    module: checkModule(scenarioId),
    limits: { ...PY_LIMITS, ...opts.limits },
    timeouts: PHASE_TIMEOUTS,
    rootless,
    samples,
  };
  const args = [
    ...bwrapArgs({
      roBinds: pythonRoBinds(),
      tmpfs: [
        { path: "/tmp", sizeBytes: 512 << 20 },
        { path: "/safe", sizeBytes: 1 << 20 },
        { path: "/images", sizeBytes: 1 << 20 },
      ],
      chdir: "/tmp",
    }),
  ];
  const command = [SANDBOX_PYTHON, "-I", "-B", `${SANDBOX_MOUNTS.py}/harness.py`];
  const perSample = phases.reduce((s, p) => s + PHASE_TIMEOUTS[p], 0) + 2;
  const budgetMs = (perSample * programs.length + 30) * 1000;
  const child = spawnBwrap(args, command, {
    env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", PYTHONDONTWRITEBYTECODE: "1" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, budgetMs);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(job))).catch(() => {});
  await w.close().catch(() => {});
  const res = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(res.stdout);
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let rep: PhaseReport;
    try {
      rep = JSON.parse(line);
    } catch {
      continue;
    }
    if (out[rep.index]) out[rep.index].set(rep.phase, rep);
  }
  const stderr = new TextDecoder().decode(res.stderr).slice(-2000);
  for (let i = 0; i < programs.length; i++) {
    for (const ph of phases) {
      if (!out[i].has(ph)) {
        out[i].set(ph, {
          index: i,
          phase: ph,
          limit: null,
          error: `harness produced no report (exit ${res.code}${
            res.signal ? " " + res.signal : ""
          }): ${stderr}`,
          verdict: {},
        });
      }
    }
  }
  return out;
}
