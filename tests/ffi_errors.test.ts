/** Misuse and libtorch failures surface as typed errors; the process stays alive. */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";

Deno.test("matmul shape mismatch is a TorchError with libtorch's message", () => {
  T.tidy(() => {
    assert.throws(
      () => T.zeros([2, 3]).matmul(T.zeros([4, 5])),
      (e: unknown) =>
        e instanceof T.TorchError && e.op === "dg_matmul" &&
        /cannot be multiplied \(2x3 and 4x5\)/.test(e.message),
    );
  });
});

Deno.test("bad dtype and bad shapes are rejected before reaching libtorch", () => {
  assert.throws(() => T.zeros([2], { dtype: "f8" as T.DType }), /unknown dtype "f8"/);
  assert.throws(() => T.zeros([2.5]), /expected integers/);
  assert.throws(() => T.tensor([1, 2, 3], [2, 2]), /data has 12 bytes but shape and dtype need 16/);
  assert.throws(() => T.tensor(new Uint16Array([1])), /explicit dtype/);
});

Deno.test("CUDA asked for with no GPU is a DeviceError", () => {
  if (T.cuda.isAvailable()) {
    console.warn("skipped: this machine has CUDA");
    return;
  }
  assert.throws(() => T.zeros([2], { device: "cuda" }), T.DeviceError);
  T.tidy(() => assert.throws(() => T.zeros([2]).toDevice("cuda:0"), /CUDA is not available/));
  assert.throws(() => T.zeros([2], { device: "gpu" as T.Device }), /unknown device "gpu"/);
});

Deno.test("use after dispose and double dispose throw; the process goes on", () => {
  const t = T.ones([2]);
  t.dispose();
  assert.throws(() => t.add(1), T.DisposedTensorError);
  assert.throws(() => t.shape, T.DisposedTensorError);
  assert.throws(() => t.dispose(), /disposed twice/);
  T.tidy(() => assert.deepEqual(T.ones([2]).add(1).toNumbers(), [2, 2]));
});

Deno.test("item on a multi-element tensor and grad-less backward are errors", () => {
  T.tidy(() => {
    assert.throws(() => T.ones([3]).item(), T.TorchError);
    assert.throws(() => T.ones([1]).backward(), /does not require grad/);
    assert.throws(() => T.ones([2]).requiresGrad_().mul(2).backward(), /scalar outputs/);
  });
});

Deno.test("tidy frees intermediates, keeps results, and frees everything on throw", () => {
  const start = T.liveTensors();
  const [a, b] = T.tidy(() => {
    const x = T.ones([3]);
    const y = x.mul(2);
    return [y.add(1), { nested: y.sub(1) }.nested];
  });
  assert.equal(T.liveTensors(), start + 2);
  assert.deepEqual(a.toNumbers(), [3, 3, 3]);
  assert.deepEqual(b.toNumbers(), [1, 1, 1]);
  a.dispose();
  b.dispose();
  assert.throws(() =>
    T.tidy(() => {
      T.ones([4]).mul(3);
      throw new Error("boom");
    }), /boom/);
  assert.equal(T.liveTensors(), start);
  // nested scopes hand results outward; keep() opts out of every scope.
  const kept = T.tidy(() => {
    const inner = T.tidy(() => T.ones([1]).add(1));
    const k = T.ones([1]).keep();
    return { inner, k };
  });
  assert.equal(T.liveTensors(), start + 2);
  kept.inner.dispose();
  kept.k.dispose();
  assert.throws(() => T.tidy(() => Promise.resolve(1)), /synchronous/);
  assert.equal(T.liveTensors(), start);
});

Deno.test("`using` disposes at block end", () => {
  const start = T.liveTensors();
  {
    using _t = T.ones([2]);
    assert.equal(T.liveTensors(), start + 1);
  }
  assert.equal(T.liveTensors(), start);
});
