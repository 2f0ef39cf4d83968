/**
 * Run metadata: what produced an evaluation run (model and a hash of its config.json, adapter,
 * method, sampling settings and seeds, tool and judge versions, git commit, date, duration).
 * Recorded where the run is produced (the eval pipeline and the scorer) and carried in
 * summary.json and report.html, so that a number in a report can be traced to its run.
 *
 * @module
 */

import type { SampleSettings } from "../pipeline/sampling_settings.ts";
import { PROJECT_ROOT, venvDir, venvPython, venvTool } from "./py/paths.ts";

/** The model of a run: its directory, config.json hash and the shape that identifies it. */
export interface ModelMeta {
  /** The model directory as given. */
  path: string;
  /** SHA-256 (hex) of config.json's bytes; null when unreadable. */
  configSha256: string | null;
  /** config.json `model_type` (e.g. `qwen2`, `llama`). */
  modelType: string | null;
  /** config.json `hidden_size`. */
  hiddenSize: number | null;
  /** config.json `num_hidden_layers`. */
  layers: number | null;
  /** config.json `vocab_size`. */
  vocabSize: number | null;
}

/** The adapter of a run (null: none). */
export interface AdapterMeta {
  /** The adapter directory as given. */
  path: string;
  /** SHA-256 (hex) of adapter_config.json; null when unreadable. */
  configSha256: string | null;
  /** True when the directory holds DeepGuard's security_config.json. */
  deepguard: boolean;
}

/** Generation-side facts, known to the eval pipeline (absent when only scoring). */
export interface GenerationMeta {
  /** The base model. */
  model: ModelMeta;
  /** The adapter, null for none. */
  adapter: AdapterMeta | null;
  /** The sampling method (`--method`: `lm`, `text`, `cosec`, `deepguard`, …). */
  method: string;
  /** `base`, `untrain` or `all`. */
  evalType: string;
  /** Sampling settings. */
  sampling: SampleSettings;
  /** How the seeds were used, in words (e.g. "call i seeded with seed + i"). */
  seeds: string;
  /** Weight precision (`f32`, `bf16`). */
  dtype: string;
  /** Device (`cpu`, `cuda`, `cuda:N`). */
  device: string;
}

/** Everything summary.json's `meta` holds. */
export interface RunMeta {
  /** This package (name, version), the deno version, and the git commit (null outside a checkout; dirty = tracked files differ). */
  tool: { name: string; version: string; deno: string; commit: string | null; dirty: boolean };
  /** ISO-8601 start of this invocation (sampling + scoring, or scoring alone). */
  startedAt: string;
  /** ISO-8601 end of this invocation. */
  finishedAt: string;
  /** finishedAt − startedAt, seconds. */
  durationSeconds: number;
  /** What generated the completions; null when the run only scored a completions file. */
  generation: GenerationMeta | null;
  /** Judges enabled for scoring. */
  judges: string[];
  /** The version line of each tool the judges use (null: not found). */
  tools: Record<string, string | null>;
  /** Samples scored in this invocation (the rest were resumed from results.jsonl). */
  scoredNow: number;
  /** Samples in the run. */
  samples: number;
}

async function sha256File(path: string): Promise<string | null> {
  try {
    const bytes = await Deno.readFile(path);
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    return null;
  }
}

/** Model metadata from DIR/config.json (fields null where absent). */
export async function modelMeta(dir: string): Promise<ModelMeta> {
  const cfg = await Deno.readTextFile(`${dir}/config.json`).then(JSON.parse, () => ({}));
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    path: dir,
    configSha256: await sha256File(`${dir}/config.json`),
    modelType: typeof cfg.model_type === "string" ? cfg.model_type : null,
    hiddenSize: num(cfg.hidden_size),
    layers: num(cfg.num_hidden_layers),
    vocabSize: num(cfg.vocab_size),
  };
}

/** Adapter metadata (null for no adapter). */
export async function adapterMeta(dir: string | undefined | null): Promise<AdapterMeta | null> {
  if (!dir) return null;
  const deepguard = await Deno.stat(`${dir}/security_config.json`).then(() => true, () => false);
  return { path: dir, configSha256: await sha256File(`${dir}/adapter_config.json`), deepguard };
}

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string | null> {
  try {
    const child = new Deno.Command(cmd, {
      args,
      cwd: PROJECT_ROOT,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 30_000);
    const out = await child.output();
    clearTimeout(timer);
    if (!out.success) return null;
    const dec = new TextDecoder();
    return dec.decode(out.stdout).trim() || dec.decode(out.stderr).trim();
  } catch {
    return null;
  }
}

/** The project's git commit and whether tracked files differ from it (null outside a checkout). */
export async function gitState(): Promise<{ commit: string | null; dirty: boolean }> {
  const commit = await run("git", ["rev-parse", "HEAD"]);
  if (!commit) return { commit: null, dirty: false };
  const status = await run("git", ["status", "--porcelain", "--untracked-files=no"]);
  return { commit, dirty: status !== null && status.length > 0 };
}

/** Which executables (and version flags) each judge depends on. */
const TOOL_OF_JUDGE: Record<string, string[]> = {
  semgrep: ["semgrep"],
  bandit: ["bandit"],
  codeql: ["codeql"],
  exploit: ["python", "bwrap", "gcc"],
  "gcc-analyzer": ["gcc"],
  "gcc-warnings": ["gcc"],
  sanitizer: ["gcc"],
  cppcheck: ["cppcheck"],
  "clang-analyzer": ["clang"],
};

/** `NAME VERSION` from NAME-VERSION.dist-info in the evaluation venv's site-packages, or null. */
async function venvPackageVersion(name: string): Promise<string | null> {
  try {
    for await (const lib of Deno.readDir(`${venvDir()}/lib`)) {
      const site = `${venvDir()}/lib/${lib.name}/site-packages`;
      for await (const e of Deno.readDir(site)) {
        const m = new RegExp(`^${name}-([^-]+)\\.dist-info$`, "i").exec(e.name);
        if (m) return `${name} ${m[1]}`;
      }
    }
  } catch { /* no venv */ }
  return null;
}

const versionCache = new Map<string, Promise<string | null>>();

/** A tool's version line, asked once per process (tools do not change under a running scorer). */
function toolVersion(tool: string): Promise<string | null> {
  if (!versionCache.has(tool)) versionCache.set(tool, askVersion(tool));
  return versionCache.get(tool)!;
}

async function askVersion(tool: string): Promise<string | null> {
  const firstLine = (s: string | null) => s?.split("\n").find((l) => l.trim())?.trim() ?? null;
  switch (tool) {
    case "python":
      return firstLine(await run(venvPython(), ["--version"]));
    case "semgrep":
    case "bandit":
      // From the venv's package metadata: `semgrep --version` takes seconds (half a minute on a
      // loaded machine) and the version is all we want.
      return venvTool(tool) ? await venvPackageVersion(tool) : null;
    case "codeql":
      return firstLine(await run("codeql", ["version", "--format=terse"]));
    default:
      return firstLine(await run(tool, ["--version"]));
  }
}

/** Version lines of the tools behind the given judges (python and the sandbox always). */
export async function toolVersions(
  judges: readonly string[],
): Promise<Record<string, string | null>> {
  const tools = [...new Set(["python", "bwrap", ...judges.flatMap((j) => TOOL_OF_JUDGE[j] ?? [])])]
    .sort();
  const versions = await Promise.all(tools.map(toolVersion));
  return Object.fromEntries(tools.map((t, i) => [t, versions[i]]));
}

/** Name and version from the package's deno.json (read at run time: it may be served by URL). */
async function packageInfo(): Promise<{ name: string; version: string }> {
  try {
    const res = await fetch(new URL("../../deno.json", import.meta.url));
    const j = await res.json();
    return { name: String(j.name ?? "deepguard-ts"), version: String(j.version ?? "unknown") };
  } catch {
    return { name: "deepguard-ts", version: "unknown" };
  }
}

/**
 * Starts collecting a run's metadata (git state, tool versions: slow tools are asked while the
 * run works); `finish` completes it with the end time and the sample counts.
 */
export function beginRunMeta(opts: {
  startedAt: Date;
  generation: GenerationMeta | null;
  judges: readonly string[];
}): { finish(scoredNow: number, samples: number): Promise<RunMeta> } {
  const facts = Promise.all([gitState(), toolVersions(opts.judges), packageInfo()]);
  return {
    async finish(scoredNow, samples) {
      const [git, tools, pkg] = await facts;
      const end = new Date();
      return {
        tool: {
          name: pkg.name,
          version: pkg.version,
          deno: Deno.version.deno,
          commit: git.commit,
          dirty: git.dirty,
        },
        startedAt: opts.startedAt.toISOString(),
        finishedAt: end.toISOString(),
        durationSeconds: Math.round((end.getTime() - opts.startedAt.getTime()) / 100) / 10,
        generation: opts.generation,
        judges: [...opts.judges],
        tools,
        scoredNow,
        samples,
      };
    },
  };
}
