/**
 * Shared setup of the parity tests against the Python oracles in tools/ (the project venv:
 * torch, transformers, PEFT): running a tool, reading its float32 safetensors output, the
 * secure/vulnerable example pairs, and a LoRA made to matter.
 */
import assert from "node:assert/strict";
import { noGrad, PROJECT_ROOT, randn, type Tensor, tidy } from "../ffi/mod.ts";
import { readHeader, readTensorBytes } from "../lib/model/safetensors.ts";
import { applyLora, type LoraAdapter } from "../lib/lora/mod.ts";
import type { Module } from "../lib/nn/mod.ts";
import { haveVenvPython, VENV_PY, venvPythonJson } from "../lib/util/python.ts";

/**
 * Whether the venv's Python is there; when not, warns once that `what` is skipped (the tests
 * then pass `ignore: !HAS_VENV`).
 */
export function venvOrWarn(what: string): boolean {
  const ok = haveVenvPython();
  if (!ok) console.warn(`skipping ${what}: ${VENV_PY} not found (run scripts/setup.sh)`);
  return ok;
}

/**
 * Runs `tools/<script>` with the venv's Python, single-threaded (deterministic sums); returns
 * stdout + stderr, and throws with them when it fails.
 */
export async function oracle(script: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(VENV_PY, {
    args: [`${PROJECT_ROOT}/tools/${script}`, ...args],
    env: { OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`python tools/${script} failed:\n${text}`);
  return text;
}

/** Every tensor of a safetensors file written by an oracle; each must be float32. */
export async function readF32(file: string): Promise<Map<string, Float32Array>> {
  const h = await readHeader(file);
  const out = new Map<string, Float32Array>();
  for (const [name, info] of h.tensors) {
    assert.equal(info.dtype, "F32", `${file}: ${name}`);
    const b = await readTensorBytes(info);
    out.set(name, new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));
  }
  return out;
}

/** Secure sides of the two loss-parity pairs (Python, C). */
export const SECURE = [
  'def read(path):\n    full = os.path.abspath(os.path.join(base, path))\n    if not full.startswith(base):\n        raise ValueError("x")',
  "int main() { char buf[64]; strncpy(buf, argv[1], sizeof(buf) - 1); return 0; }",
];
/** Vulnerable sides of the same pairs. */
export const VULNERABLE = [
  "def read(path):\n    return open(path).read()",
  "int main() { char buf[64]; strcpy(buf, argv[1]); }",
];

/**
 * A trained-looking LoRA: every `lora_B` (zero when fresh, which would make the adapter a no-op)
 * becomes 0.05·N(0, 1); `also` names further parameters set to N(0, 1). Draws in parameter order.
 */
export function randomizeLoraB(params: Iterable<[string, Tensor]>, also?: string): void {
  noGrad(() =>
    tidy(() => {
      for (const [n, t] of params) {
        if (n.includes("lora_B")) t.copy_(randn(t.shape).mul(0.05));
        if (n === also) t.copy_(randn(t.shape));
      }
    })
  );
}

/** The CoSec expert LoRA of the parity tests: r 8, α 16 on q/v, no dropout (draws not shared). */
const COSEC_LORA = { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "v_proj"] };

/** Loss values (`gen`, `sec`, `kl`, `total`, …) and gradients an oracle computed. */
export interface OracleLoss {
  /** The loss values, as the oracle's `--json` names them. */
  values: Record<string, number>;
  /** Gradients by PEFT / component name. */
  grads: Map<string, Float32Array>;
}

/**
 * Runs a loss oracle (`loss_ref.py`, `loss_ref_upstream.py`) on `dir`/model, `dir`/adapter and
 * `dir`/batch.json; it writes `dir`/grads.safetensors and `dir`/loss.json, returned here.
 */
export async function lossOracle(script: string, dir: string): Promise<OracleLoss> {
  await oracle(script, [
    ...["--model", `${dir}/model`, "--adapter", `${dir}/adapter`, "--batch", `${dir}/batch.json`],
    ...["--out", `${dir}/grads.safetensors`, "--json", `${dir}/loss.json`],
  ]);
  return {
    values: JSON.parse(await Deno.readTextFile(`${dir}/loss.json`)),
    grads: await readF32(`${dir}/grads.safetensors`),
  };
}

/**
 * `tools/peft_logits.py` on `dir`/model with the adapter `adapter` and the ids in `dir`/ids.json
 * (merged into the base weights first when `merged`): PEFT's logits, flat.
 */
export async function peftLogits(dir: string, adapter: string, merged = false) {
  await oracle("peft_logits.py", [
    ...["--model", `${dir}/model`, "--adapter", adapter],
    ...["--ids", `${dir}/ids.json`, "--out", `${dir}/logits.safetensors`],
    ...(merged ? ["--merged"] : []),
  ]);
  return (await readF32(`${dir}/logits.safetensors`)).get("logits")!;
}

/** `tools/cosec_ref.py MODE FILE` after writing `spec` to `file`: the oracle's JSON result. */
export async function cosecRef<T>(mode: string, file: string, spec: unknown): Promise<T> {
  await Deno.writeTextFile(file, JSON.stringify(spec));
  return await venvPythonJson<T>(`cosec_ref.py ${mode}`, [
    `${PROJECT_ROOT}/tools/cosec_ref.py`,
    mode,
    file,
  ]);
}

/** The CoSec expert LoRA of the parity tests ({@link COSEC_LORA}) on `model`, lora_B randomised. */
export function cosecLora(model: Module): LoraAdapter {
  const adapter = applyLora(model, COSEC_LORA);
  randomizeLoraB(adapter.namedParameters());
  return adapter;
}
