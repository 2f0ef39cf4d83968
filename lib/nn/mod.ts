/**
 * Neural-network building blocks over the FFI tensors.
 * @module
 */
export { type Layer, Module, ModuleList, StateDictError } from "./module.ts";
export { Dropout, Embedding, LayerNorm, Linear, RMSNorm, Sequential } from "./layers.ts";
export { kaimingUniform, normal, uniform, xavierUniform } from "./init.ts";
export { AdamW, type AdamWOptions, linearWarmupDecay } from "./optim.ts";
