/**
 * Wrapping a model's Linear layers with LoRA by HF module name, switching the adapter on and off,
 * merging, and saving / loading it in HF PEFT format (`adapter_config.json` +
 * `adapter_model.safetensors` with names `base_model.model.<module>.lora_{A,B}.weight`).
 * @module
 */
import { fromBytes, noGrad, type Tensor, tidy } from "../../ffi/mod.ts";
import { Linear, type Module } from "../nn/mod.ts";
import { readOrThrow } from "../util/fs.ts";
import {
  readHeader,
  readTensorBytes,
  stToTorchDType,
  writeSafetensors,
} from "../model/safetensors.ts";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterError,
  type LoraConfig,
  parsePeftAdapterConfig,
  peftAdapterConfig,
} from "./config.ts";
import { LoraLinear } from "./linear.ts";

/** Prefix PEFT puts before the base model's own parameter names. */
export const PEFT_PREFIX = "base_model.model.";

/** The LoRA layers of one model, by HF module name. */
export class LoraAdapter {
  /** Configuration used to build the layers. */
  readonly config: LoraConfig;
  /** `[module name, layer]` in model order. */
  readonly layers: [string, LoraLinear][];

  readonly #model: Module;

  /** @internal use {@link applyLora}. */
  constructor(config: LoraConfig, layers: [string, LoraLinear][], model: Module) {
    this.config = config;
    this.layers = layers;
    this.#model = model;
  }

  /** Trainable tensors with their PEFT names (without the `base_model.model.` prefix). */
  namedParameters(): [string, Tensor][] {
    return this.layers.flatMap(([n, l]): [string, Tensor][] => [
      [`${n}.lora_A.weight`, l.loraA],
      [`${n}.lora_B.weight`, l.loraB],
    ]);
  }

  /** Turns every adapter on or off (off = the base model exactly). */
  setEnabled(on: boolean): void {
    for (const [, l] of this.layers) l.enabled = on;
  }

  /** Runs `fn` with the adapter switched off, restoring the previous state afterwards. */
  withDisabled<R>(fn: () => R): R {
    const prev = this.layers.map(([, l]) => l.enabled);
    this.setEnabled(false);
    try {
      return fn();
    } finally {
      this.layers.forEach(([, l], i) => (l.enabled = prev[i]));
    }
  }

  /** Training mode (LoRA dropout on) or evaluation mode for the LoRA layers only. */
  train(on = true): void {
    for (const [, l] of this.layers) l.train(on);
  }

  /** Folds every adapter into its base weight. */
  merge(): void {
    for (const [, l] of this.layers) l.merge();
    this.#model.treeChanged(); // e.g. the model's fused q/k/v may run again
  }

  /** Undoes {@link merge}. */
  unmerge(): void {
    for (const [, l] of this.layers) l.unmerge();
    this.#model.treeChanged();
  }

  /**
   * PEFT's `merge_and_unload`: folds every adapter into its base weight, puts the plain base
   * Linear back into `model` (so inference runs the base model's own path, fused projections
   * included) and frees the LoRA tensors. The adapter is empty afterwards.
   */
  mergeAndUnload(model: Module): void {
    for (const [name, l] of this.layers) {
      l.merge();
      model.setSubmodule(name, l.base.train(l.training));
      l.loraA.dispose();
      l.loraB.dispose();
    }
    this.layers.length = 0;
  }

  /** Writes `adapter_config.json` and `adapter_model.safetensors` (f32, metadata format=pt). */
  async save(dir: string, baseModel: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const entries = tidy(() =>
      this.namedParameters().map(([name, t]) => {
        const f = t.dtype === "f32" ? t.contiguous() : t.to("f32");
        return { name: PEFT_PREFIX + name, dtype: "F32", shape: [...t.shape], bytes: f.bytes() };
      })
    );
    await writeSafetensors(`${dir}/${ADAPTER_WEIGHTS_FILE}`, entries);
    await Deno.writeTextFile(
      `${dir}/${ADAPTER_CONFIG_FILE}`,
      JSON.stringify(peftAdapterConfig(this.config, baseModel), null, 2) + "\n",
    );
  }

  /**
   * Copies the weights of a saved PEFT adapter into these layers. Every tensor must exist with the
   * layer's shape; a shape that differs in the model dimension means the adapter was trained for
   * another base model, and the error says so.
   */
  async loadWeights(dir: string): Promise<void> {
    const file = `${dir}/${ADAPTER_WEIGHTS_FILE}`;
    const header = await readOrThrow(file, readHeader, (m) => new AdapterError(m));
    const own = new Map(this.namedParameters().map(([n, t]) => [PEFT_PREFIX + n, t]));
    const unexpected = [...header.tensors.keys()].filter((k) => !own.has(k));
    if (unexpected.length) {
      const layerCount = new Set(this.layers.map(([n]) => /layers\.(\d+)\./.exec(n)?.[1])).size;
      throw new AdapterError(
        `${file} holds tensors this model has no layer for (${unexpected.slice(0, 3).join(", ")}` +
          `${
            unexpected.length > 3 ? ", …" : ""
          }); the model has ${layerCount} decoder layers with ` +
          `targets [${
            this.config.targetModules.join(", ")
          }] — the adapter belongs to a different ` +
          `base model or configuration`,
      );
    }
    const missing = [...own.keys()].filter((k) => !header.tensors.has(k));
    if (missing.length) {
      throw new AdapterError(
        `${file} lacks ${missing.length} tensor(s) the model expects (${
          missing.slice(0, 3).join(", ")
        }…)`,
      );
    }
    for (const [name, info] of header.tensors) {
      const dst = own.get(name)!;
      if (dst.shape.join() !== info.shape.join()) {
        throw new AdapterError(
          `${file}: ${name} has shape [${info.shape}] but this model's layer needs [${dst.shape}] — ` +
            `the adapter was trained for a base model with other layer sizes (hidden size mismatch)`,
        );
      }
      const bytes = await readTensorBytes(info);
      noGrad(() =>
        tidy(() => {
          dst.copy_(fromBytes(bytes, info.shape, stToTorchDType(info.dtype, file, name)));
        })
      );
    }
  }
}

/**
 * Replaces every Linear of `model` whose dotted name ends with `.<target>` (PEFT's suffix rule)
 * by a {@link LoraLinear}. Base parameters are frozen. Throws when a target matches nothing.
 */
export function applyLora(
  model: Module,
  config: LoraConfig,
  dtype: "f32" | "f64" = "f32",
): LoraAdapter {
  if (!config.targetModules.length) throw new AdapterError("no LoRA target modules given");
  model.freeze();
  const layers: [string, LoraLinear][] = [];
  const matched = new Set<string>();
  for (const [name, m] of model.namedModules()) {
    const target = config.targetModules.find((t) => name === t || name.endsWith(`.${t}`));
    if (!target) continue;
    if (m instanceof LoraLinear) throw new AdapterError(`${name} is already wrapped with LoRA`);
    if (!(m instanceof Linear)) {
      throw new AdapterError(`LoRA target ${name} is a ${m.constructor.name}, not a Linear layer`);
    }
    const l = new LoraLinear(m, {
      r: config.r,
      alpha: config.alpha,
      dropout: config.dropout,
      dtype,
    });
    model.setSubmodule(name, l);
    layers.push([name, l]);
    matched.add(target);
  }
  const unmatched = config.targetModules.filter((t) => !matched.has(t));
  if (unmatched.length) {
    throw new AdapterError(
      `LoRA target module(s) [${unmatched.join(", ")}] match no Linear layer of the model`,
    );
  }
  return new LoraAdapter(config, layers, model);
}

/** Reads `adapter_config.json` of an adapter directory. */
export async function readAdapterConfig(
  dir: string,
): Promise<LoraConfig & { baseModel: string | null }> {
  const file = `${dir}/${ADAPTER_CONFIG_FILE}`;
  const raw: unknown = await readOrThrow(
    file,
    async (f) => JSON.parse(await Deno.readTextFile(f)),
    (m) => new AdapterError(m),
  );
  return parsePeftAdapterConfig(raw, file);
}

/** Wraps `model` per the adapter's config and loads its weights (dropout from the config). */
export async function loadLora(model: Module, dir: string): Promise<LoraAdapter> {
  const cfg = await readAdapterConfig(dir);
  const adapter = applyLora(model, cfg);
  await adapter.loadWeights(dir);
  return adapter;
}
