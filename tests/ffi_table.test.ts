/**
 * The op table (ffi/ops.ts) and the elementwise tables (ffi/elementwise.ts) against the C shim:
 * the exported functions and their parameter/result types parsed from csrc/dgtorch.cpp, the
 * dynamic symbols of the built library (`nm -D`), and the elementwise names the shim reports.
 * So a row without a C function, a C function without a row, or a type that disagrees fails here
 * rather than as a crash at run time.
 */
import assert from "node:assert/strict";
import { lib } from "../ffi/bindings.ts";
import { BINARY, UNARY } from "../ffi/elementwise.ts";
import { ensureShim } from "../ffi/native.ts";
import { OPS, RUNTIME, SYMBOLS } from "../ffi/ops.ts";

const CPP = Deno.readTextFileSync(new URL("../csrc/dgtorch.cpp", import.meta.url));

interface CSig {
  parameters: string[];
  result: string;
}

function paramType(decl: string): string {
  const t = decl.trim().replace(/\s+\w+$/, "").replace(/\s+/g, " ");
  if (t === "dg_t") return "pointer";
  if (t === "int32_t") return "i32";
  if (t === "double") return "f64";
  if (t.endsWith("*")) return "buffer"; // arrays, out-parameters and C strings
  throw new Error(`unmapped C parameter type "${t}" in "${decl}"`);
}

function resultType(t: string): string {
  const r = t.replace(/\s+/g, " ").trim();
  const map: Record<string, string> = {
    "dg_t": "pointer",
    "const char*": "pointer",
    "int32_t": "i32",
    "double": "f64",
    "void": "void",
  };
  if (!(r in map)) throw new Error(`unmapped C result type "${r}"`);
  return map[r];
}

/** The functions defined in the extern "C" block, with Deno types. */
function cExports(): Map<string, CSig> {
  const start = CPP.indexOf('extern "C" {');
  const end = CPP.indexOf('}  // extern "C"');
  assert.ok(start >= 0 && end > start, 'csrc/dgtorch.cpp has one extern "C" block');
  const body = CPP.slice(start, end);
  const out = new Map<string, CSig>();
  const re = /^(const char\*|dg_t|int32_t|double|void)\s+(dg_\w+)\(([^)]*)\)\s*\{/gm;
  for (const m of body.matchAll(re)) {
    const params = m[3].trim() === "" ? [] : m[3].split(",").map(paramType);
    assert.ok(!out.has(m[2]), `${m[2]} defined twice`);
    out.set(m[2], { parameters: params, result: resultType(m[1]) });
  }
  return out;
}

Deno.test("ops table: every C export has one row with the same types, and every row a C function", () => {
  const c = cExports();
  assert.ok(c.size > 50, `parsed ${c.size} C functions`);
  const table = new Map(Object.entries(SYMBOLS).map(([k, v]) => [k, v]));
  assert.deepEqual([...c.keys()].sort(), [...table.keys()].sort());
  for (const [name, sig] of c) {
    const row = table.get(name)!;
    assert.deepEqual(
      { parameters: [...row.parameters], result: row.result },
      sig,
      `${name}: table row vs C signature`,
    );
  }
});

Deno.test("ops table: one failure convention (fallible rows return a handle or an int32 status)", () => {
  for (const [name, row] of Object.entries(OPS)) {
    assert.ok(row.result === "pointer" || row.result === "i32", `${name} returns ${row.result}`);
  }
  // The functions the C source says cannot fail are exactly the RUNTIME rows.
  const m = /\/\/ cannot fail: ([^.]+)\./.exec(CPP);
  assert.ok(m, "csrc/dgtorch.cpp lists the functions that cannot fail");
  const listed = m[1].split(/[,\s/]+/).filter((s) => s.startsWith("dg_")).sort();
  assert.deepEqual(listed, Object.keys(RUNTIME).sort());
  // No double result may double as an error: the only f64 results are the counters that cannot
  // fail (live handles, counted ops, host reads).
  const f64 = Object.entries(SYMBOLS).filter(([, r]) => r.result === "f64").map(([k]) => k);
  assert.deepEqual(f64, ["dg_live_count", "dg_op_count", "dg_host_read_count"]);
});

const nm = (() => {
  try {
    return new Deno.Command("nm", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "ops table: the built shim exports exactly the table's symbols (nm -D)",
  ignore: !nm,
  fn() {
    const out = new Deno.Command("nm", {
      args: ["-D", "--defined-only", ensureShim()],
      stdout: "piped",
    }).outputSync();
    assert.ok(out.success);
    const exported = new TextDecoder().decode(out.stdout).split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && f[1] === "T" && f[2].startsWith("dg_"))
      .map((f) => f[2])
      .sort();
    assert.deepEqual(exported, Object.keys(SYMBOLS).sort());
  },
});

Deno.test("elementwise tables: the TS rows name the C rows, in the same order", () => {
  const name = (kind: number, code: number) => {
    const p = lib().dg_op_name(kind, code);
    return p === null ? null : Deno.UnsafePointerView.getCString(p);
  };
  assert.deepEqual(BINARY.map((_, i) => name(0, i)), BINARY.map(([n]) => n));
  assert.equal(name(0, BINARY.length), null, "C has no binary op past the TS table");
  assert.deepEqual(UNARY.map((_, i) => name(1, i)), UNARY.map(([n]) => n));
  assert.equal(name(1, UNARY.length), null, "C has no unary op past the TS table");
  assert.equal(name(0, -1), null);
});
