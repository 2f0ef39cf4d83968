/**
 * Loads evaluation scenarios from `scenarios.jsonl` or from the upstream
 * directory layout `sec_eval/<type>/<cwe>/<scenario>/{info.json,
 * file_context.*, func_context.*}` (a clone of DeepGuard or SVEN).
 *
 * @module
 */

import type { Language, Scenario } from "./types.ts";
import { isDir } from "../util/fs.ts";
import { parseJsonLines } from "../util/jsonl.ts";
import { PROJECT_ROOT } from "../util/paths.ts";

/** Malformed scenario input; `where` is `file:line` or `file`, `field` the offending field. */
export class ScenarioError extends Error {
  /** Error class name. */
  override name = "ScenarioError";
  /** Construct with the location, the field (if any) and what is wrong. */
  constructor(readonly where: string, readonly field: string | null, detail: string) {
    super(`${where}${field ? ` (field "${field}")` : ""}: ${detail}`);
  }
}

/** Default location: `../shared/data/sec_eval/scenarios.jsonl` relative to the project root. */
export const DEFAULT_SCENARIOS = `${PROJECT_ROOT}/../shared/data/sec_eval/scenarios.jsonl`;

/** DeepGuard's VAL_SCENARIOS (sven/constant.py). */
export const VALIDATION_IDS: ReadonlySet<string> = new Set([
  "cwe-022/2-py",
  "cwe-078/2-py",
  "cwe-089/2-py",
  "cwe-125/2-c",
  "cwe-190/2-c",
  "cwe-787/2-c",
]);

const ID_RE = /^cwe-\d{3}\/\d+-(py|c)$/;

function str(o: Record<string, unknown>, k: string, where: string, nullable = false): string {
  const v = o[k];
  if (typeof v === "string") return v;
  if (nullable && (v === null || v === undefined)) return null as unknown as string;
  throw new ScenarioError(
    where,
    k,
    v === undefined ? "missing" : `expected a string, got ${JSON.stringify(v)}`,
  );
}

/** Validate one decoded scenarios.jsonl object. */
export function scenarioFromJson(o: unknown, where: string): Scenario {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new ScenarioError(where, null, "expected a JSON object");
  }
  const r = o as Record<string, unknown>;
  const id = str(r, "id", where);
  if (!ID_RE.test(id)) throw new ScenarioError(where, "id", `malformed id ${JSON.stringify(id)}`);
  const evalType = str(r, "eval_type", where);
  if (evalType !== "base" && evalType !== "untrain") {
    throw new ScenarioError(where, "eval_type", `expected "base" or "untrain", got "${evalType}"`);
  }
  const language = str(r, "language", where);
  if (language !== "py" && language !== "c") {
    throw new ScenarioError(where, "language", `expected "py" or "c", got "${language}"`);
  }
  if (!id.endsWith(`-${language}`)) {
    throw new ScenarioError(where, "language", `"${language}" does not match id ${id}`);
  }
  if (typeof r.validation !== "boolean") {
    throw new ScenarioError(where, "validation", "expected a boolean");
  }
  return {
    id,
    evalType,
    cwe: str(r, "cwe", where),
    language: language as Language,
    fileContext: str(r, "file_context", where),
    funcContext: str(r, "func_context", where),
    description: str(r, "description", where, true),
    codeqlQuery: str(r, "codeql_query", where, true),
    validation: r.validation,
  };
}

/** Parse scenarios.jsonl text; `file` is used in error messages. */
export function parseScenariosJsonl(text: string, file: string): Scenario[] {
  const out: Scenario[] = [];
  const seen = new Set<string>();
  const lines = parseJsonLines(
    text,
    file,
    (where, msg) => new ScenarioError(where, null, `invalid JSON: ${msg}`),
  );
  for (const { value, where } of lines) {
    const s = scenarioFromJson(value, where);
    if (seen.has(s.id)) throw new ScenarioError(where, "id", `duplicate id ${s.id}`);
    seen.add(s.id);
    out.push(s);
  }
  if (out.length === 0) throw new ScenarioError(file, null, "no scenarios");
  return out;
}

async function sortedDirs(p: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(p)) if (e.isDirectory) names.push(e.name);
  return names.sort();
}

/** Strip the upstream `../codeql/codeql-repo/` prefix and shell escaping from check_ql. */
export function normalizeCheckQl(q: string | null): string | null {
  if (q === null) return null;
  return q.replace(/^(\.\.\/)*codeql\/codeql-repo\//, "").replace(/\\ /g, " ");
}

/** Load the upstream layout rooted at `root` (containing `base/` and/or `untrain/`). */
export async function loadScenarioDir(root: string): Promise<Scenario[]> {
  const out: Scenario[] = [];
  let types = (await sortedDirs(root)).filter((d) => d === "base" || d === "untrain");
  if (types.length === 0 && (await isDir(`${root}/sec_eval`))) {
    return loadScenarioDir(`${root}/sec_eval`);
  }
  types = types.sort((a, b) => (a === "base" ? -1 : b === "base" ? 1 : 0));
  if (types.length === 0) {
    throw new ScenarioError(root, null, "no base/ or untrain/ folder (and no scenarios.jsonl)");
  }
  for (const t of types) {
    for (const cwe of await sortedDirs(`${root}/${t}`)) {
      for (const sc of await sortedDirs(`${root}/${t}/${cwe}`)) {
        const dir = `${root}/${t}/${cwe}/${sc}`;
        const m = /-(py|c)$/.exec(sc);
        if (!m) throw new ScenarioError(dir, null, "scenario folder name must end in -py or -c");
        const lang = m[1] as Language;
        const infoPath = `${dir}/info.json`;
        let info: Record<string, unknown>;
        try {
          info = JSON.parse(await Deno.readTextFile(infoPath));
        } catch (e) {
          throw new ScenarioError(infoPath, null, (e as Error).message);
        }
        const read = async (name: string) => {
          const p = `${dir}/${name}.${lang}`;
          try {
            return await Deno.readTextFile(p);
          } catch {
            throw new ScenarioError(p, null, "missing file");
          }
        };
        const id = `${cwe}/${sc}`;
        const fields = {
          id,
          eval_type: t,
          cwe: info.cwe ?? cwe.toUpperCase(),
          language: lang,
          file_context: await read("file_context"),
          func_context: await read("func_context"),
          description: info.description ?? null,
          codeql_query: normalizeCheckQl((info.check_ql as string | undefined) ?? null),
          validation: VALIDATION_IDS.has(id),
        };
        out.push(scenarioFromJson(fields, infoPath));
      }
    }
  }
  return out;
}

/**
 * Load scenarios from a `.jsonl` file, a folder holding `scenarios.jsonl`, or an
 * upstream `sec_eval` folder. Throws {@link ScenarioError} on malformed input.
 */
export async function loadScenarios(path: string = DEFAULT_SCENARIOS): Promise<Scenario[]> {
  if (await isDir(path)) {
    const jsonl = `${path}/scenarios.jsonl`;
    const hasJsonl = await Deno.stat(jsonl).then(() => true, () => false);
    return hasJsonl ? loadScenarios(jsonl) : loadScenarioDir(path);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ScenarioError(path, null, `cannot read: ${(e as Error).message}`);
  }
  return parseScenariosJsonl(text, path);
}

/** Which scenarios a run covers (`eval` and `score` flags); every field narrows the set. */
export interface ScenarioScope {
  /** `base`, `untrain` or `all` (default all). */
  evalType?: "base" | "untrain" | "all";
  /** Keep the six validation scenarios (default false for `eval`, which upstream excludes). */
  includeValidation?: boolean;
  /** CWEs, as `cwe-078`, `CWE-078` or `78`. */
  cwes?: readonly string[];
  /** Only these languages. */
  languages?: readonly Language[];
  /** Scenario ids or id prefixes: `cwe-078` selects every cwe-078 scenario, `cwe-078/0-py` one. */
  ids?: readonly string[];
}

/** `cwe-078`, `CWE-78`, `78` → `cwe-078`; `null` when it is not a CWE number. */
export function normalizeCwe(s: string): string | null {
  const m = /^(?:cwe-?)?0*(\d{1,4})$/i.exec(s.trim());
  return m ? `cwe-${m[1].padStart(3, "0")}` : null;
}

/**
 * The scenarios of `all` inside `scope`, in their order. Throws a RangeError naming the problem
 * when a CWE is malformed, an id or prefix matches no scenario of the scope, or nothing is left.
 */
export function selectScenarios(all: readonly Scenario[], scope: ScenarioScope): Scenario[] {
  const evalType = scope.evalType ?? "all";
  const cwes = scope.cwes?.map((c) => {
    const n = normalizeCwe(c);
    if (!n) throw new RangeError(`"${c}" is not a CWE (expected e.g. cwe-078 or 78)`);
    return n;
  });
  const picked = all.filter((s) =>
    (evalType === "all" || s.evalType === evalType) &&
    (scope.includeValidation || !s.validation) &&
    (!cwes?.length || cwes.includes(s.id.split("/")[0])) &&
    (!scope.languages?.length || scope.languages.includes(s.language))
  );
  const matches = (s: Scenario, id: string) =>
    s.id === id || s.id.startsWith(id.endsWith("/") ? id : `${id}/`);
  const ids = scope.ids ?? [];
  const unknown = ids.filter((id) => !picked.some((s) => matches(s, id)));
  if (unknown.length) {
    throw new RangeError(
      `scenario id(s) or prefix(es) ${unknown.join(", ")} match none of the ${picked.length} ` +
        `scenarios selected by the other flags`,
    );
  }
  const out = ids.length ? picked.filter((s) => ids.some((id) => matches(s, id))) : picked;
  if (!out.length) throw new RangeError("no scenario matches the selection");
  return out;
}
