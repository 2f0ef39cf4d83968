/**
 * SecurityAnalyzer: a per-token security score in (0, 1) from the aggregated hidden state and a
 * learned token embedding.
 *
 * x = cat([aggregated (H), token_embedding(ids) (128)], −1) → fc1 → norm1 → ReLU → Dropout 0.1 →
 * fc2 → norm2 → ReLU → Dropout 0.1 → fc3 → ReLU → out → sigmoid.
 *
 * Linear weights Xavier-uniform with zero biases; token embedding N(0, 0.02²); LayerNorm eps 1e-5.
 * Parameter names are those of `security_components.safetensors` without the `analyzer.` prefix.
 * @module
 */
import { cat, type Tensor, type TensorOptions, tidy } from "../../ffi/mod.ts";
import { Dropout, Embedding, LayerNorm, type Linear, Module, normal } from "../nn/mod.ts";
import { xavierLinear } from "../aggregator/mod.ts";

/** Width of the analyzer's token embedding (fixed by the file format). */
export const SECURITY_EMBED_DIM = 128;

/** Error for inputs that do not fit the analyzer. */
export class AnalyzerError extends Error {
  /** Error class name. */
  override name = "AnalyzerError";
}

/** Options of {@link SecurityAnalyzer}. */
export interface AnalyzerOptions extends TensorOptions {
  /** Dropout probability after the two normalised blocks (default 0.1). */
  dropout?: number;
}

/** The DeepGuard security analyzer head. */
export class SecurityAnalyzer extends Module {
  /** Width H of the aggregated hidden state. */
  readonly hiddenSize: number;
  /** Number of token-embedding rows V. */
  readonly vocabSize: number;

  /**
   * Builds a freshly initialised analyzer.
   * @param hiddenSize H of the base model
   * @param vocabSize V (embedding rows of the base model)
   * @param options dtype/device of the parameters, dropout probability
   */
  constructor(hiddenSize: number, vocabSize: number, options: AnalyzerOptions = {}) {
    super();
    this.hiddenSize = hiddenSize;
    this.vocabSize = vocabSize;
    const p = options.dropout ?? 0.1;
    const o: TensorOptions = { dtype: options.dtype, device: options.device };
    const emb = new Embedding(vocabSize, SECURITY_EMBED_DIM, o);
    emb.setWeight(normal([vocabSize, SECURITY_EMBED_DIM], 0.02, o));
    this.registerModule("token_embedding", emb);
    this.registerModule("fc1", xavierLinear(hiddenSize + SECURITY_EMBED_DIM, 512, o));
    this.registerModule("norm1", new LayerNorm(512, 1e-5, o));
    this.registerModule("drop1", new Dropout(p));
    this.registerModule("fc2", xavierLinear(512, 256, o));
    this.registerModule("norm2", new LayerNorm(256, 1e-5, o));
    this.registerModule("drop2", new Dropout(p));
    this.registerModule("fc3", xavierLinear(256, 128, o));
    this.registerModule("out", xavierLinear(128, 1, o));
    this.unfreeze();
  }

  #m<M extends Module>(name: string): M {
    return this.getSubmodule(name) as M;
  }

  /**
   * Scores every token: `aggregated` [B,T,H] (cast to the parameters' dtype), `ids` [B,T] integer
   * token ids → [B,T] scores in (0, 1).
   */
  forward(aggregated: Tensor, ids: Tensor): Tensor {
    const want = [...ids.shape, this.hiddenSize].join();
    if (aggregated.shape.join() !== want) {
      throw new AnalyzerError(
        `analyzer input [${aggregated.shape}] does not match ids [${ids.shape}] × hidden size ${this.hiddenSize}`,
      );
    }
    return tidy(() => {
      const emb = this.#m<Embedding>("token_embedding");
      const e = emb.forward(ids);
      const a = aggregated.dtype === e.dtype ? aggregated : aggregated.to(e.dtype);
      let x = cat([a, e], -1);
      x = this.#m<Linear>("fc1").forward(x);
      x = this.#m<LayerNorm>("norm1").forward(x).relu();
      x = this.#m<Dropout>("drop1").forward(x);
      x = this.#m<Linear>("fc2").forward(x);
      x = this.#m<LayerNorm>("norm2").forward(x).relu();
      x = this.#m<Dropout>("drop2").forward(x);
      x = this.#m<Linear>("fc3").forward(x).relu();
      return this.#m<Linear>("out").forward(x).squeeze(-1).sigmoid();
    });
  }
}
