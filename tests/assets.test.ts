/** lib/util/assets.ts in a checkout: assets next to the modules, env overrides, clear errors. */
import assert from "node:assert/strict";
import { assetDir, AssetError, PACKAGE_IS_LOCAL } from "../lib/util/assets.ts";
import { PROJECT_ROOT } from "../ffi/mod.ts";

Deno.test("assetDir: a checkout's assets sit next to its modules", () => {
  assert.ok(PACKAGE_IS_LOCAL);
  assert.equal(assetDir("data_eval/py", { setup: "-" }), `${PROJECT_ROOT}/data_eval/py`);
});

Deno.test("assetDir: a missing asset is an AssetError naming the path and the setup command", () => {
  assert.throws(
    () => assetDir("data_eval/no-such-asset", { setup: "bash scripts/setup-eval.sh" }),
    (e: unknown) =>
      e instanceof AssetError &&
      e.message ===
        `data_eval/no-such-asset not found (looked at ${PROJECT_ROOT}/data_eval/no-such-asset); ` +
          "run: bash scripts/setup-eval.sh",
  );
});

Deno.test("assetDir: an environment variable names the directory instead", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.env.set("DG_TEST_ASSET_DIR", dir);
    assert.equal(assetDir(".venv-eval", { setup: "-", env: "DG_TEST_ASSET_DIR" }), dir);
    Deno.env.set("DG_TEST_ASSET_DIR", `${dir}/missing`);
    assert.throws(
      () => assetDir(".venv-eval", { setup: "make it", env: "DG_TEST_ASSET_DIR" }),
      /\.venv-eval not found \(looked at \$DG_TEST_ASSET_DIR=.*\/missing\); run: make it/,
    );
  } finally {
    Deno.env.delete("DG_TEST_ASSET_DIR");
    Deno.removeSync(dir, { recursive: true });
  }
});
