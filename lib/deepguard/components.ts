/**
 * SecurityComponents: the aggregator, the analyzer and the token statistics, saved beside a PEFT
 * adapter as `security_components.safetensors` + `security_config.json`.
 * @module
 */
import { fromBytes, noGrad, type Tensor, tensor, type TensorOptions, tidy } from "../../ffi/mod.ts";
import { Module } from "../nn/mod.ts";
import { readOrThrow } from "../util/fs.ts";
import {
  type Aggregation,
  type AggregatorInit,
  MultiLayerAggregator,
  parseAggregation,
} from "../aggregator/mod.ts";
import {
  readHeader,
  readTensorBytes,
  stToTorchDType,
  writeSafetensors,
} from "../model/safetensors.ts";
import { SECURITY_EMBED_DIM, SecurityAnalyzer, TokenSecurityStats } from "../analyzer/mod.ts";

/** File names inside an adapter directory. */
export const COMPONENTS_FILE = "security_components.safetensors";
/** File name of the security config. */
export const SECURITY_CONFIG_FILE = "security_config.json";

/** Error for security component files that are missing, malformed or for another base model. */
export class ComponentsError extends Error {
  /** Error class name. */
  override name = "ComponentsError";
}

/** Contents of `security_config.json` (the required keys; writers may add more). */
export interface SecurityConfig {
  /** Aggregation method. */
  aggregation: Aggregation;
  /** Number L of aggregated hidden states. */
  num_layers: number;
  /** Hidden size H of the base model. */
  hidden_size: number;
  /** Vocabulary size V of the base model. */
  vocab_size: number;
  /** Width of the analyzer token embedding (128). */
  security_embed_dim: number;
  /** Further keys written by the toolkit (base model, LoRA, loss settings). */
  [key: string]: unknown;
}

/** Sizes that fix the shape of the components. */
export interface ComponentsShape {
  /** Aggregation method. */
  aggregation: Aggregation;
  /** Number L of aggregated hidden states. */
  numLayers: number;
  /** Hidden size H. */
  hiddenSize: number;
  /** Vocabulary size V. */
  vocabSize: number;
}

/** Sizes of the base model that components must fit (see {@link SecurityComponents.load}). */
export interface BaseModelSizes {
  /** Hidden size H of the base model. */
  hiddenSize?: number;
  /** Embedding rows V of the base model. */
  vocabSize?: number;
  /** Decoder layer count N (the hidden-states list has N + 1 entries). */
  numLayers?: number;
}

/** Options of {@link SecurityComponents}. */
export interface ComponentsOptions extends TensorOptions {
  /** Analyzer dropout (default 0.1). */
  dropout?: number;
  /** Aggregator Linear initialisation (default `xavier`; irrelevant when weights are loaded). */
  aggregatorInit?: AggregatorInit;
}

/** Aggregator (`aggregator.*`) + analyzer (`analyzer.*`) + token statistics. */
export class SecurityComponents extends Module {
  /** The sizes these components were built for. */
  readonly shape: ComponentsShape;
  /** The multi-layer aggregator. */
  readonly aggregator: MultiLayerAggregator;
  /** The per-token analyzer. */
  readonly analyzer: SecurityAnalyzer;
  /** Per-token statistics (host). */
  readonly stats: TokenSecurityStats;

  /** Builds freshly initialised components. */
  constructor(shape: ComponentsShape, options: ComponentsOptions = {}) {
    super();
    this.shape = { ...shape, aggregation: parseAggregation(shape.aggregation) };
    const o: TensorOptions = { dtype: options.dtype, device: options.device };
    this.aggregator = this.registerModule(
      "aggregator",
      new MultiLayerAggregator(shape.aggregation, shape.numLayers, shape.hiddenSize, {
        ...o,
        init: options.aggregatorInit,
      }),
    );
    this.analyzer = this.registerModule(
      "analyzer",
      new SecurityAnalyzer(shape.hiddenSize, shape.vocabSize, { ...o, dropout: options.dropout }),
    );
    this.stats = new TokenSecurityStats(shape.vocabSize);
  }

  /** The security_config.json object (required keys plus `extra`). */
  config(extra: Record<string, unknown> = {}): SecurityConfig {
    return {
      aggregation: this.shape.aggregation,
      num_layers: this.shape.numLayers,
      hidden_size: this.shape.hiddenSize,
      vocab_size: this.shape.vocabSize,
      security_embed_dim: SECURITY_EMBED_DIM,
      ...extra,
    };
  }

  /** Writes `security_components.safetensors` and `security_config.json` into `dir`. */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    const entries = tidy(() =>
      this.namedParameters().map(([name, t]) => {
        const f = t.dtype === "f32" ? t.contiguous() : t.to("f32");
        return { name, dtype: "F32", shape: [...t.shape], bytes: f.bytes() };
      })
    );
    entries.push({
      name: "token_security_stats",
      dtype: "F32",
      shape: [this.stats.size],
      bytes: new Uint8Array(this.stats.values.slice().buffer),
    });
    await writeSafetensors(`${dir}/${COMPONENTS_FILE}`, entries);
    await Deno.writeTextFile(
      `${dir}/${SECURITY_CONFIG_FILE}`,
      JSON.stringify(this.config(extra), null, 2) + "\n",
    );
  }

  /**
   * Loads components from `dir`. When `expect` is given, the saved sizes must match it (hidden
   * size, layer count, vocabulary) — else a {@link ComponentsError} naming both values.
   */
  static async load(
    dir: string,
    expect?: BaseModelSizes,
    options: ComponentsOptions = {},
  ): Promise<{ components: SecurityComponents; config: SecurityConfig }> {
    const config = await readSecurityConfig(dir);
    const shape: ComponentsShape = {
      aggregation: config.aggregation,
      numLayers: config.num_layers,
      hiddenSize: config.hidden_size,
      vocabSize: config.vocab_size,
    };
    if (expect) checkShape(`${dir}/${SECURITY_CONFIG_FILE}`, shape, expect);
    const file = `${dir}/${COMPONENTS_FILE}`;
    const header = await readOrThrow(file, readHeader, (m) => new ComponentsError(m));
    const comps = new SecurityComponents(shape, options);
    try {
      const want = new Set([...comps.stateDict().keys(), "token_security_stats"]);
      const have = new Set(header.tensors.keys());
      const missing = [...want].filter((k) => !have.has(k));
      const extraNames = [...have].filter((k) => !want.has(k));
      if (missing.length || extraNames.length) {
        throw new ComponentsError(
          `${file} does not match security_config.json (${shape.aggregation}, H=${shape.hiddenSize}, ` +
            `V=${shape.vocabSize}): missing [${missing.join(", ")}], unexpected [${
              extraNames.join(", ")
            }]`,
        );
      }
      const own = comps.stateDict();
      for (const [name, info] of header.tensors) {
        const bytes = await readTensorBytes(info);
        if (name === "token_security_stats") {
          const t = fromBytes(bytes, info.shape, stToTorchDType(info.dtype, file, name), {
            dtype: "f32",
          });
          try {
            comps.stats.values.set(t.data() as Float32Array);
          } finally {
            t.dispose();
          }
          continue;
        }
        const dst = own.get(name)!;
        if (dst.shape.join() !== info.shape.join()) {
          throw new ComponentsError(
            `${file}: ${name} has shape [${info.shape}], expected [${dst.shape}]`,
          );
        }
        noGrad(() =>
          tidy(() => {
            dst.copy_(fromBytes(bytes, info.shape, stToTorchDType(info.dtype, file, name)));
          })
        );
      }
    } catch (e) {
      comps.dispose();
      throw e;
    }
    return { components: comps, config };
  }

  /** Token statistics as a [V] f32 tensor. */
  statsTensor(options: TensorOptions = {}): Tensor {
    return tensor(this.stats.values, [this.stats.size], options);
  }
}

/** Reads and validates `security_config.json` of an adapter directory. */
export async function readSecurityConfig(dir: string): Promise<SecurityConfig> {
  const path = `${dir}/${SECURITY_CONFIG_FILE}`;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ComponentsError(`cannot read ${path}: ${(e as Error).message}`);
  }
  for (const k of ["num_layers", "hidden_size", "vocab_size"]) {
    if (!Number.isInteger(raw[k]) || (raw[k] as number) < 1) {
      throw new ComponentsError(`${path}: "${k}" must be a positive integer, got ${raw[k]}`);
    }
  }
  if (typeof raw.aggregation !== "string") {
    throw new ComponentsError(`${path}: "aggregation" is missing`);
  }
  try {
    parseAggregation(raw.aggregation);
  } catch (e) {
    throw new ComponentsError(`${path}: ${(e as Error).message}`);
  }
  const dim = raw.security_embed_dim ?? SECURITY_EMBED_DIM;
  if (dim !== SECURITY_EMBED_DIM) {
    throw new ComponentsError(
      `${path}: security_embed_dim must be ${SECURITY_EMBED_DIM}, got ${dim}`,
    );
  }
  return raw as SecurityConfig;
}

function checkShape(file: string, got: ComponentsShape, want: BaseModelSizes): void {
  const rows: [string, number | undefined, number][] = [
    ["hidden size", want.hiddenSize, got.hiddenSize],
    ["vocabulary size", want.vocabSize, got.vocabSize],
  ];
  for (const [what, w, g] of rows) {
    if (w !== undefined && w !== g) {
      throw new ComponentsError(
        `${file} was trained for a base model with ${what} ${g}, but this model has ${what} ${w}: ` +
          `the adapter belongs to a different base model`,
      );
    }
  }
  if (want.numLayers !== undefined && got.numLayers > want.numLayers + 1) {
    throw new ComponentsError(
      `${file} aggregates ${got.numLayers} hidden states, but the base model has only ` +
        `${want.numLayers} (+1 embedding) — the adapter belongs to a different base model`,
    );
  }
}
