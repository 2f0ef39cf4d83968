/**
 * SVEN's learned prefix (upstream unknownhl/DeepGuard `sven/model.py`, `Qwen2Prefix` L187-216 and
 * `CodeLlamaPrefix` L11-38): for each of `n_control` controls (0 = sec, 1 = vul), each layer and
 * each of {key, value}, one zero-initialised parameter [kv_heads, n_prefix, head_dim], kept in
 * upstream's flat order (index = control·layers·2 + layer·2 + {0 key, 1 value}). The past of a
 * control is these tensors, each through dropout (`get_past_from_prefix`, L207-216), fed to the
 * decoder as past keys/values.
 *
 * Saved as `prefix_config.json` + `prefix.safetensors` (tensor `prefix_params.{index}`, the names
 * of upstream's `prefix_params` state dict); upstream writes the HF config and a
 * `pytorch_model.bin` instead (`save_model`, L408-419).
 * @module
 */
import {
  type Device,
  dropout,
  type DType,
  fromBytes,
  noGrad,
  type Tensor,
  tidy,
  zeros,
} from "../../ffi/mod.ts";
import type { ModelConfig } from "../model/config.ts";
import { readHeader, readTensorBytes, stToTorchDType, writeSafetensors } from "../model/mod.ts";

/** The two files of a prefix directory. */
export const PREFIX_FILES = Object.freeze({
  config: "prefix_config.json",
  weights: "prefix.safetensors",
});

/** A prefix directory that cannot be used (missing, malformed, or for another model). */
export class PrefixError extends Error {
  /** Error class name. */
  override name = "PrefixError";
}

/** The saved configuration of a prefix. */
export interface PrefixConfig {
  /** Always "sven-prefix" (tells a prefix directory from an adapter). */
  method: "sven-prefix";
  /** The base model it was trained on (as given to `train`). */
  base_model: string;
  /** Past positions per control (upstream `n_prefix_token`). */
  n_prefix_token: number;
  /** Controls: 2 (0 = sec, 1 = vul). */
  n_control: number;
  /** Dropout on the prefix while training (upstream `prefix_dropout`). */
  prefix_dropout: number;
  /** Decoder layers of the base model. */
  num_hidden_layers: number;
  /** Key/value heads of the base model. */
  num_key_value_heads: number;
  /** Head dimension of the base model. */
  head_dim: number;
}

/**
 * Reads and checks `dir/prefix_config.json` (cheap: callers check a prefix directory with it
 * before loading a model); throws a {@link PrefixError} naming the file and field.
 */
export async function readPrefixConfig(dir: string): Promise<PrefixConfig> {
  const cfgPath = `${dir}/${PREFIX_FILES.config}`;
  let config: PrefixConfig;
  try {
    config = JSON.parse(await Deno.readTextFile(cfgPath));
  } catch (e) {
    throw new PrefixError(
      e instanceof Deno.errors.NotFound
        ? `${dir} is not a prefix directory: no ${PREFIX_FILES.config} (from \`train --method prefix\`)`
        : `${cfgPath}: not valid JSON (${(e as Error).message})`,
    );
  }
  if (config?.method !== "sven-prefix") {
    throw new PrefixError(`${cfgPath}: "method" must be "sven-prefix"`);
  }
  const fields = [
    "n_prefix_token",
    "n_control",
    "num_hidden_layers",
    "num_key_value_heads",
    "head_dim",
  ] as const;
  for (const k of fields) {
    if (!Number.isInteger(config[k]) || config[k] < 1) {
      throw new PrefixError(`${cfgPath}: "${k}" must be a positive integer, got ${config[k]}`);
    }
  }
  if (
    typeof config.prefix_dropout !== "number" ||
    !(config.prefix_dropout >= 0 && config.prefix_dropout < 1)
  ) {
    throw new PrefixError(`${cfgPath}: "prefix_dropout" must be a number in [0, 1)`);
  }
  return config;
}

/** Past keys and values of one control: per layer [kv_heads, n_prefix, head_dim]. */
export interface PrefixPast {
  k: Tensor[];
  v: Tensor[];
}

/** The prefix parameters of one model (see the module doc). */
export class PrefixParams {
  /** Configuration (saved beside the weights). */
  readonly config: PrefixConfig;
  /** The parameters, in upstream's flat order. */
  readonly tensors: Tensor[];

  private constructor(config: PrefixConfig, tensors: Tensor[]) {
    this.config = config;
    this.tensors = tensors;
  }

  /** Fresh zero parameters (upstream's init), requiring gradients, for `model` (its config). */
  static create(
    model: ModelConfig,
    o: { nPrefix: number; dropout: number; baseModel: string; nControl?: number; device?: Device },
  ): PrefixParams {
    const config: PrefixConfig = {
      method: "sven-prefix",
      base_model: o.baseModel,
      n_prefix_token: o.nPrefix,
      n_control: o.nControl ?? 2,
      prefix_dropout: o.dropout,
      num_hidden_layers: model.numLayers,
      num_key_value_heads: model.numKvHeads,
      head_dim: model.headDim,
    };
    const shape = [model.numKvHeads, o.nPrefix, model.headDim];
    const n = config.n_control * model.numLayers * 2;
    const device = o.device ?? "cpu";
    const tensors = Array.from(
      { length: n },
      () => zeros(shape, { device }).requiresGrad_().keep(),
    );
    return new PrefixParams(config, tensors);
  }

  /** Reads `dir` (see the module doc) and checks it fits `model`; throws a {@link PrefixError}. */
  static async load(dir: string, model: ModelConfig): Promise<PrefixParams> {
    const config = await readPrefixConfig(dir);
    const cfgPath = `${dir}/${PREFIX_FILES.config}`;
    const want: [keyof PrefixConfig, number][] = [
      ["num_hidden_layers", model.numLayers],
      ["num_key_value_heads", model.numKvHeads],
      ["head_dim", model.headDim],
    ];
    for (const [k, v] of want) {
      if (config[k] !== v) {
        throw new PrefixError(
          `${cfgPath}: "${k}" is ${config[k]} but the model has ${v} — the prefix was trained ` +
            `for another base model (${config.base_model})`,
        );
      }
    }
    const file = `${dir}/${PREFIX_FILES.weights}`;
    let header;
    try {
      header = await readHeader(file);
    } catch (e) {
      throw new PrefixError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const n = config.n_control * config.num_hidden_layers * 2;
    const shape = [config.num_key_value_heads, config.n_prefix_token, config.head_dim];
    const tensors: Tensor[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const name = `prefix_params.${i}`;
        const info = header.tensors.get(name);
        if (!info) throw new PrefixError(`${file} lacks tensor ${name} (${n} expected)`);
        if (info.shape.join() !== shape.join()) {
          throw new PrefixError(`${file}: ${name} has shape [${info.shape}], expected [${shape}]`);
        }
        const bytes = await readTensorBytes(info);
        const dt = stToTorchDType(info.dtype, file, name);
        tensors.push(noGrad(() => fromBytes(bytes, info.shape, dt, { dtype: "f32" }).keep()));
      }
    } catch (e) {
      for (const t of tensors) t.dispose();
      throw e;
    }
    if (header.tensors.size !== n) {
      for (const t of tensors) t.dispose();
      throw new PrefixError(`${file} holds ${header.tensors.size} tensors, expected ${n}`);
    }
    return new PrefixParams(config, tensors);
  }

  /** (name, tensor) pairs, for the optimizer. */
  namedParameters(): [string, Tensor][] {
    return this.tensors.map((t, i) => [`prefix_params.${i}`, t]);
  }

  /**
   * The past of `control` (upstream `get_past_from_prefix`): dropout when `training`, cast to
   * `dtype` (the decoder's activation dtype). Tensors are new (free them, or build in a `tidy`).
   */
  past(control: number, training: boolean, dtype: DType = "f32"): PrefixPast {
    if (!Number.isInteger(control) || control < 0 || control >= this.config.n_control) {
      throw new RangeError(
        `prefix control must be 0..${this.config.n_control - 1}, got ${control}`,
      );
    }
    const L = this.config.num_hidden_layers;
    const get = (i: number) => {
      const t = dropout(this.tensors[i], this.config.prefix_dropout, training);
      return t.dtype === dtype ? t : t.to(dtype);
    };
    const k: Tensor[] = [], v: Tensor[] = [];
    for (let layer = 0; layer < L; layer++) {
      const idx = control * L * 2 + layer * 2;
      k.push(get(idx));
      v.push(get(idx + 1));
    }
    return { k, v };
  }

  /** Writes `prefix_config.json` and `prefix.safetensors` into `dir`. */
  async save(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/${PREFIX_FILES.config}`,
      JSON.stringify(this.config, null, 2) + "\n",
    );
    const host = tidy(() =>
      this.namedParameters().map(([name, t]) => ({ name, tensor: t.detach().keep() }))
    );
    try {
      await writeSafetensors(`${dir}/${PREFIX_FILES.weights}`, host);
    } finally {
      for (const h of host) h.tensor.dispose();
    }
  }

  /** Frees the parameters. */
  dispose(): void {
    for (const t of this.tensors) if (!t.isDisposed) t.dispose();
  }
}
