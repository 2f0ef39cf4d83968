/**
 * The shim's op and host-read counters (docs/ffi.md, "Counting"): top-level ATen ops only (an
 * op's internal calls count once), host reads on the shim's device→host paths, and the same
 * count for the same ops in Python — by the shim's callback loaded there, and by torch.profiler's
 * top-level events (an independent reference).
 */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import { lib } from "../ffi/bindings.ts";
import { venvPython } from "./util_ffi.ts";

/** linear, softmax, layer_norm, sum, item: five top-level ops, one host read. */
function sequence(x: T.Tensor, w: T.Tensor): number {
  const y = T.linear(x, w, null).softmax(-1);
  return T.layerNorm(y, [6], null, null, 1e-5).sum().item();
}

Deno.test("countOps: top-level ATen ops and shim host reads, nothing counted when off", () => {
  T.tidy(() => {
    const x = T.randn([4, 8]), w = T.randn([6, 8]);
    // linear dispatches matmul/mm inside: one top-level op
    assert.deepEqual(T.countOps(() => T.linear(x, w, null)).counts, { ops: 1, hostReads: 0 });
    assert.deepEqual(T.countOps(() => x.add(x).mul(x)).counts, { ops: 2, hostReads: 0 });
    assert.equal(T.countOps(() => x.toNumbers()).counts.hostReads, 1);
    assert.deepEqual(T.countOps(() => sequence(x, w)).counts, { ops: 5, hostReads: 1 });
    const before = lib().dg_op_count();
    x.add(x);
    assert.equal(lib().dg_op_count(), before, "ops are not counted outside countOps");
  });
});

const py = venvPython();
Deno.test({
  name: "countOps: Python counts the same ops the same, by the shim's callback and the profiler",
  ignore: py === null,
  async fn() {
    const script = `
import ctypes, json, sys, torch
import torch.nn.functional as F
lib = ctypes.CDLL(sys.argv[1]); lib.dg_op_count.restype = ctypes.c_double
x, w = torch.randn(4, 8), torch.randn(6, 8)
def seq():
    y = torch.softmax(F.linear(x, w), -1)
    return F.layer_norm(y, [6], None, None, 1e-5).sum().item()
lib.dg_count_ops(1); b = lib.dg_op_count(); seq(); shim = lib.dg_op_count() - b; lib.dg_count_ops(0)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as p:
    seq()
top = sum(1 for e in p.events() if e.name.startswith("aten::") and e.cpu_parent is None)
print(json.dumps({"shim": shim, "profiler": top}))`;
    const out = await new Deno.Command(py!, { args: ["-c", script, T.ensureShim()] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(r, { shim: 5, profiler: 5 });
  },
});
