/**
 * LoRA for the decoder: wrapping by HF module name, enable/disable, merge, PEFT save/load.
 * @module
 */
export { type LoraLayerOptions, LoraLinear } from "./linear.ts";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterError,
  defaultLoraConfig,
  defaultTargets,
  type LoraConfig,
  parsePeftAdapterConfig,
  peftAdapterConfig,
} from "./config.ts";
export { applyLora, loadLora, LoraAdapter, PEFT_PREFIX, readAdapterConfig } from "./adapter.ts";
