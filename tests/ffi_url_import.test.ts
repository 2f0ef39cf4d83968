/**
 * The package as published: the files `deno publish --dry-run` would upload, copied to a temp
 * dir and served over loopback HTTP, imported by URL from a subprocess that has no config file,
 * no read access to the checkout or the served copy, and a fresh `$DG_CACHE`. It loads a tiny
 * checkpoint and generates the same tokens as the checkout does; package assets (lib/util/assets.ts)
 * are looked up in the cache, with an error naming the setup command until they are fetched.
 *
 * What the fast test proves: every module and bare-specifier-free import resolves over HTTP; the
 * C sources reach the shim builder through the module graph, byte for byte (the subprocess
 * computes the cache key from the sources it received; the key matches the checkout's, so the
 * shim copied into the fresh cache under that key is found — a single differing byte would have
 * started a compile, which the test rejects); libtorch is found through `$DG_PYTHON` (not the
 * checkout's venv, which a URL import must not look for). The compile itself from those sources
 * runs in the opt-in test below (`DG_TEST_COMPILE=1`, about a minute).
 */
import assert from "node:assert/strict";
import { ensureShim, PROJECT_ROOT } from "../ffi/native.ts";
import { generate, loadPretrained } from "../lib/model/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";

const deno = Deno.execPath();
const VENV_PYTHON = `${PROJECT_ROOT}/.venv/bin/python`;
const hasVenv = (() => {
  try {
    Deno.statSync(VENV_PYTHON);
    return true;
  } catch {
    return false;
  }
})();

/** Relative paths of the files `deno publish --dry-run` lists for this package. */
async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(deno, {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `deno publish --dry-run failed:\n${text.slice(-3000)}`);
  const root = `file://${PROJECT_ROOT}/`;
  const files = [...text.matchAll(/^\s+(file:\/\/\S+) \(/gm)]
    .map((m) => m[1])
    .filter((u) => u.startsWith(root))
    .map((u) => decodeURIComponent(u.slice(root.length)))
    .filter((p) => p !== ".git");
  assert.ok(files.includes("mod.ts") && files.includes("csrc/dgtorch.cpp"), files.join("\n"));
  return files;
}

/** Copies the published files into `dir` (then read-only) and serves `dir` on 127.0.0.1. */
async function servePackage(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  for (const rel of await publishedFiles()) {
    const to = `${dir}/${rel}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${PROJECT_ROOT}/${rel}`, to);
  }
  await new Deno.Command("chmod", { args: ["-R", "a-w", dir] }).output();
  // A fresh path per run: Deno caches remote modules by URL without revalidating, so a port
  // reused from an earlier run would otherwise serve that run's sources from the cache.
  const prefix = `/${crypto.randomUUID()}`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const full = decodeURIComponent(new URL(req.url).pathname);
    if (!full.startsWith(`${prefix}/`)) return new Response("not found", { status: 404 });
    const path = full.slice(prefix.length);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${dir}${path}`);
      const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}${prefix}`, close: () => server.shutdown() };
}

const PROBE = (base: string) => `
import { generate, loadPretrained } from "${base}/mod.ts";
import { ensureShim } from "${base}/ffi/native.ts";
import { assetDir, fetchAssetFiles } from "${base}/lib/util/assets.ts";
let missing = "";
try {
  assetDir("data_eval/py", { setup: "SETUP-COMMAND" });
} catch (e) {
  missing = e.name + ": " + e.message;
}
const fetched = await fetchAssetFiles("data_eval/py", ["harness.py"]);
const harness = Deno.readTextFileSync(assetDir("data_eval/py", { setup: "-" }) + "/harness.py");
const { model, tokenizer } = await loadPretrained(Deno.args[0]);
const out = generate(model, tokenizer, ["def read(path):"], { maxNewTokens: 6, seed: 3 });
console.log(JSON.stringify({
  shim: ensureShim(), tokens: out.tokens, texts: out.texts, missing, fetched, harness,
}));
`;

interface ProbeResult {
  ok: boolean;
  stderr: string;
  result?: {
    shim: string;
    tokens: number[][];
    texts: string[];
    missing: string;
    fetched: string;
    harness: string;
  };
}

/** Runs the probe with a narrow permission set: it cannot read the checkout or the served dir. */
async function runProbe(base: string, tmp: string, cache: string): Promise<ProbeResult> {
  const script = `${tmp}/probe.ts`;
  await Deno.writeTextFile(script, PROBE(base));
  const torch = Deno.realPathSync(
    new TextDecoder().decode(
      (await new Deno.Command(VENV_PYTHON, {
        args: ["-c", "import torch, os; print(os.path.dirname(torch.__file__))"],
        stdout: "piped",
      }).output()).stdout,
    ).trim(),
  );
  const host = new URL(base).host;
  const out = await new Deno.Command(deno, {
    args: [
      "run",
      "--no-config",
      `--allow-import=${host}`,
      `--allow-net=${host}`,
      `--allow-read=${tmp}/model,${cache},${torch}`,
      `--allow-write=${cache}`,
      "--allow-env",
      "--allow-run",
      "--allow-ffi",
      script,
      `${tmp}/model`,
    ],
    cwd: tmp,
    env: { DG_CACHE: cache, DG_PYTHON: VENV_PYTHON, NO_COLOR: "1" },
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  return { ok: out.success, stderr, result: out.success ? JSON.parse(stdout) : undefined };
}

async function withPackage(fn: (base: string, tmp: string) => Promise<void>) {
  const tmp = await Deno.makeTempDir({ prefix: "dg_url_" });
  await Deno.mkdir(`${tmp}/pkg`);
  const served = await servePackage(`${tmp}/pkg`);
  try {
    await makeTiny("qwen2", `${tmp}/model`);
    await fn(served.url, tmp);
  } finally {
    await served.close();
    await new Deno.Command("chmod", { args: ["-R", "u+w", tmp] }).output();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function localReference(model: string) {
  const { model: m, tokenizer } = await loadPretrained(model);
  try {
    return generate(m, tokenizer, ["def read(path):"], { maxNewTokens: 6, seed: 3 });
  } finally {
    m.dispose();
  }
}

Deno.test({
  name: "published files over HTTP: import by URL, shim sources via the module graph, generate",
  ignore: !hasVenv,
  async fn() {
    await withPackage(async (base, tmp) => {
      // Seed the fresh cache with the checkout's shim under its own name (its key).
      const local = ensureShim();
      const cache = `${tmp}/cache`;
      await Deno.mkdir(`${cache}/shim`, { recursive: true });
      const seeded = `${cache}/shim/${local.slice(local.lastIndexOf("/") + 1)}`;
      await Deno.copyFile(local, seeded);
      const r = await runProbe(base, tmp, cache);
      assert.ok(r.ok, r.stderr.slice(-4000));
      assert.doesNotMatch(r.stderr, /compiling the native shim/, "sources arrived unchanged");
      assert.equal(r.result!.shim, seeded);
      const ref = await localReference(`${tmp}/model`);
      assert.deepEqual(r.result!.tokens, ref.tokens);
      assert.deepEqual(r.result!.texts, ref.texts);
      assert.equal(r.result!.tokens[0].length, 6);
      // Assets: absent from the cache → a clear error naming the setup; fetched → found there.
      assert.match(
        r.result!.missing,
        /^AssetError: data_eval\/py not found \(looked at .*\/cache\/assets\/[0-9a-f]{16}\/data_eval\/py\); run: SETUP-COMMAND$/,
      );
      assert.ok(r.result!.fetched.startsWith(`${cache}/assets/`));
      assert.equal(
        r.result!.harness,
        await Deno.readTextFile(`${PROJECT_ROOT}/data_eval/py/harness.py`),
      );
    });
  },
});

Deno.test({
  name: "published files over HTTP: a fresh cache compiles the shim from the served sources",
  ignore: !hasVenv || Deno.env.get("DG_TEST_COMPILE") !== "1",
  async fn() {
    await withPackage(async (base, tmp) => {
      const r = await runProbe(base, tmp, `${tmp}/cache`);
      assert.ok(r.ok, r.stderr.slice(-4000));
      assert.match(r.stderr, /compiling the native shim against libtorch [^ ]+ \(python: /);
      assert.ok(r.result!.shim.startsWith(`${tmp}/cache/shim/libdgtorch-`));
      assert.deepEqual(r.result!.tokens, (await localReference(`${tmp}/model`)).tokens);
    });
  },
});
