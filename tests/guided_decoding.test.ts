/** The guided-decoding logit adjustment, exact values for hand-made statistics. */
import assert from "node:assert/strict";
import * as T from "../ffi/mod.ts";
import {
  guidanceBias,
  guidanceStrength,
  normalizeStats,
  securityLogitsProcessor,
} from "../lib/deepguard/mod.ts";
import { TEST_DEVICE } from "./util_device.ts";

const stats = [0.5, -1, 0, 0.25]; // max|stats| = 1
const close = (a: ArrayLike<number>, b: number[]) =>
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${i}: ${a[i]} vs ${v}`));

Deno.test("normalisation and strength follow the formulas", () => {
  close(normalizeStats(stats), [0.5 / (1 + 1e-8), -1 / (1 + 1e-8), 0, 0.25 / (1 + 1e-8)]);
  assert.equal(guidanceStrength(0.25), 4);
  assert.equal(guidanceStrength(0.5, 3), 6);
  assert.throws(() => guidanceStrength(0), /must be in \(0, 1\]/);
  assert.throws(() => guidanceStrength(1.5), RangeError);
});

Deno.test("bias: strength·n every step, plus max(n, 0) at positions 1 and 2 only", () => {
  const n = normalizeStats(stats);
  const s = guidanceStrength(0.25); // 4
  close(guidanceBias(n, s, 0), [2, -4, 0, 1]);
  close(guidanceBias(n, s, 1), [2.5, -4, 0, 1.25]);
  close(guidanceBias(n, s, 2), [2.5, -4, 0, 1.25]);
  close(guidanceBias(n, s, 3), [2, -4, 0, 1]);
});

Deno.test("the logits processor adds the bias per row and per step", () => {
  T.tidy(() => {
    const proc = securityLogitsProcessor(stats, [4, 2]);
    const logits = T.tensor([0, 0, 0, 0, 1, 1, 1, 1], [2, 4], { device: TEST_DEVICE });
    close(proc([[], []], logits, 0).toNumbers(), [2, -4, 0, 1, 2, -1, 1, 1.5]);
    close(proc([[5], [5]], logits, 1).toNumbers(), [2.5, -4, 0, 1.25, 2.5, -1, 1, 1.75]);
    close(proc([[5, 6, 7], [5, 6, 7]], logits, 3).toNumbers(), [2, -4, 0, 1, 2, -1, 1, 1.5]);
    proc.dispose();
    const custom = securityLogitsProcessor(stats, 1, { boostPositions: [0], strengthScale: 2 });
    close(custom([[]], T.zeros([1, 4], { device: TEST_DEVICE }), 0).toNumbers(), [
      1.5,
      -2,
      0,
      0.75,
    ]);
    custom.dispose();
    const bad = securityLogitsProcessor(stats, 1);
    assert.throws(
      () => bad([[]], T.zeros([1, 5], { device: TEST_DEVICE }), 0),
      /cover 4 token ids but the logits have 5/,
    );
  });
});
