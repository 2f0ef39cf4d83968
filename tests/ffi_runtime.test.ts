/**
 * Argument checks at the FFI boundary (shapes, seeds, file ranges), scalar results that may
 * legally be NaN, and the scope of the live-handle counter.
 */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";

Deno.test("shape entries: int64 values reach libtorch intact; bad entries are clear errors", () => {
  T.tidy(() => {
    // 2^32+1 used to wrap to 1 through an int32 array.
    assert.deepEqual(T.zeros([1]).expand([2 ** 32 + 1]).shape, [2 ** 32 + 1]);
    assert.deepEqual(T.zeros([1, 1]).reshape([1, -1]).shape, [1, 1]);
  });
  // 2^80 elements overflow the storage size: libtorch's own error, not a wrapped shape.
  assert.throws(() => T.zeros([2 ** 40, 2 ** 40]), T.TorchError);
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => T.zeros([2, bad]),
      (e: unknown) =>
        e instanceof TypeError && /shape \[2, .*\]: expected integers/.test(e.message) &&
        /entry 1 is/.test(e.message),
      `zeros([2, ${bad}])`,
    );
  }
  assert.throws(() => T.ones([1]).reshape([-2]), /expected integers \(≥ -1/);
  assert.throws(() => T.ones([1]).sum([0.5]), /dims \[0.5\]: expected integers/);
});

Deno.test("manualSeed: non-finite, fractional, negative and unsafe seeds are RangeErrors", () => {
  for (const bad of [NaN, Infinity, -Infinity, 1.5, -1, 2 ** 53]) {
    assert.throws(
      () => T.manualSeed(bad),
      (e: unknown) =>
        e instanceof RangeError &&
        e.message === `manualSeed: seed must be an integer in [0, 2^53-1], got ${bad}`,
    );
  }
  const draw = (seed: number) => {
    T.manualSeed(seed);
    return T.tidy(() => T.rand([4]).toNumbers());
  };
  assert.deepEqual(draw(2 ** 53 - 1), draw(2 ** 53 - 1));
  assert.notDeepEqual(draw(2 ** 40), draw(2 ** 40 + 1));
});

Deno.test("fromFile: a negative or fractional range is named; past the end is a short read", () => {
  const path = Deno.makeTempFileSync({ suffix: ".bin" });
  try {
    Deno.writeFileSync(path, new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    T.tidy(() => assert.deepEqual(T.fromFile(path, 4, 8, [2], "f32").toNumbers(), [2, 3]));
    assert.throws(
      () => T.fromFile(path, -4, 8, [2], "f32"),
      /^RangeError: fromFile: byteOffset must be an integer in \[0, 2\^53-1\], got -4$/,
    );
    assert.throws(() => T.fromFile(path, 0.5, 8, [2], "f32"), /fromFile: byteOffset must be/);
    assert.throws(() => T.fromFile(path, 0, NaN, [2], "f32"), /fromFile: byteLength must be/);
    assert.throws(() => T.fromFile(path, 12, 8, [2], "f32"), /short read from/);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("scalar results: NaN is a value, not an error", () => {
  T.tidy(() => {
    assert.ok(Number.isNaN(T.tensor([NaN]).item()));
    assert.equal(T.tensor([2.5]).item(), 2.5);
    const p = T.tensor([1, 2]).requiresGrad_();
    p.mul(NaN).sum().backward();
    assert.ok(Number.isNaN(T.clipGradNorm([p], 1)));
    const q = T.tensor([3, 4]).requiresGrad_();
    q.mul(1).sum().backward();
    assert.equal(T.clipGradNorm([q], 100), Math.fround(Math.SQRT2));
  });
});

Deno.test("liveTensors counts the calling thread's handles: a Worker's tensors do not show", async () => {
  const before = T.liveTensors();
  const src = `
    import * as T from "${import.meta.resolve("../ffi/mod.ts")}";
    const start = T.liveTensors();
    const kept = [T.ones([2]).keep(), T.ones([3]).keep(), T.ones([4]).keep()];
    const held = T.liveTensors();
    for (const t of kept) t.dispose();
    self.postMessage({ start, held, end: T.liveTensors() });
  `;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    const msg = await new Promise<{ start: number; held: number; end: number }>((ok, fail) => {
      worker.onmessage = (e) => ok(e.data);
      worker.onerror = (e) => fail(e.message);
    });
    assert.equal(msg.held - msg.start, 3, "the worker counts its own three tensors");
    assert.equal(msg.end, msg.start);
    assert.equal(T.liveTensors(), before, "the main thread's count is unchanged");
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});

Deno.test("libtorch and shim lookup: a bad $LIBTORCH, $DG_SHIM or cache is named", () => {
  const saved = ["LIBTORCH", "DG_SHIM", "DG_CACHE"].map((k) => [k, Deno.env.get(k)] as const);
  const tmp = Deno.makeTempDirSync();
  try {
    Deno.env.set("LIBTORCH", `${tmp}/nowhere`);
    assert.throws(
      () => T.locateLibtorch(),
      (e: unknown) =>
        e instanceof T.NativeLibraryError &&
        e.message.includes(`LIBTORCH=${tmp}/nowhere is not a libtorch directory`),
    );
    Deno.env.delete("LIBTORCH");
    Deno.env.set("DG_SHIM", `${tmp}/no.so`);
    assert.throws(() => T.ensureShim(), new RegExp(`DG_SHIM=${tmp}/no.so does not exist`));
    Deno.env.delete("DG_SHIM");
    Deno.writeTextFileSync(`${tmp}/file`, "");
    Deno.env.set("DG_CACHE", `${tmp}/file/cache`);
    assert.throws(() => T.ensureShim(), /set DG_CACHE to a writable directory/);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("shim cache: processes starting together compile once; a stale lock is taken over", async () => {
  const tmp = Deno.makeTempDirSync();
  try {
    // A stand-in compiler: counts its runs, takes a while, "builds" by copying the real shim.
    const cxx = `${tmp}/cxx.sh`;
    Deno.writeTextFileSync(
      cxx,
      `#!/bin/bash\necho run >> ${tmp}/runs\nsleep 2\n` +
        `while [ $# -gt 0 ]; do [ "$1" = -o ] && cp ${T.ensureShim()} "$2"; shift; done\n`,
    );
    Deno.chmodSync(cxx, 0o755);
    const probe = `import { ensureShim } from "${import.meta.resolve("../ffi/native.ts")}";
      console.log(ensureShim());`;
    const run = (cache: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", probe],
        env: { DG_CACHE: cache, CXX: cxx },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([1, 2, 3].map(() => run(`${tmp}/cache`)));
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    for (const o of outs) assert.ok(o.success, dec(o.stderr));
    const paths = new Set(outs.map((o) => dec(o.stdout).trim()));
    assert.equal(paths.size, 1);
    assert.equal(Deno.readTextFileSync(`${tmp}/runs`), "run\n", "one compile for three processes");
    // A lock left by a killed build (older than 15 minutes) does not block forever.
    const [path] = paths;
    Deno.removeSync(path);
    Deno.writeTextFileSync(`${path}.lock`, "");
    Deno.utimeSync(`${path}.lock`, new Date(0), new Date(0));
    const again = await run(`${tmp}/cache`);
    assert.ok(again.success, dec(again.stderr));
    assert.equal(dec(again.stdout).trim(), path);
    assert.ok(!Deno.statSync(path).isDirectory);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("SDPA backends: the pick is reported, a restriction is honoured, bad lists are errors", () => {
  T.tidy(() => {
    const q = T.randn([1, 2, 3, 8]), k = T.randn([1, 2, 3, 8]), v = T.randn([1, 2, 3, 8]);
    const all = ["math", "flash", "efficient", "cudnn"] as const;
    try {
      // CPU: flash for float inputs without a mask; math once flash is not allowed
      assert.equal(T.sdpaBackend(q, k, v, { isCausal: true }), "flash");
      T.setSdpaBackends(["math"]);
      assert.equal(T.sdpaBackend(q, k, v, { isCausal: true }), "math");
      const viaMath = T.scaledDotProductAttention(q, k, v, { isCausal: true });
      T.setSdpaBackends(all);
      const viaFlash = T.scaledDotProductAttention(q, k, v, { isCausal: true });
      assert.ok(viaMath.sub(viaFlash).abs().maxAll().item() < 1e-5);
    } finally {
      T.setSdpaBackends(all);
    }
    assert.throws(() => T.setSdpaBackends([]), /at least one/);
    // @ts-expect-error: not a backend
    assert.throws(() => T.setSdpaBackends(["fast"]), /unknown backend "fast"/);
  });
});

Deno.test("TF32 switch and CUDA memory: callable on a CPU build, CUDA memory a clear error", () => {
  T.setTf32(true);
  T.setTf32(false);
  if (!T.cuda.isAvailable()) assert.throws(() => T.cuda.memory(0), T.TorchError);
});
