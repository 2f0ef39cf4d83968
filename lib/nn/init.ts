/**
 * Parameter initialisers (PyTorch's formulas), drawing from the seeded global generator.
 * @module
 */
import { rand, randn, type Tensor, type TensorOptions, tidy } from "../../ffi/mod.ts";

/** U(−bound, bound). */
export function uniform(
  shape: readonly number[],
  bound: number,
  options: TensorOptions = {},
): Tensor {
  return tidy(() => rand(shape, options).mul(2 * bound).sub(bound));
}

/** N(0, std²). */
export function normal(shape: readonly number[], std: number, options: TensorOptions = {}): Tensor {
  return tidy(() => randn(shape, options).mul(std));
}

/** Xavier/Glorot uniform for a [out, in] weight: bound = √(6 / (in + out)). */
export function xavierUniform(
  shape: readonly [number, number],
  options: TensorOptions = {},
): Tensor {
  const [fanOut, fanIn] = shape;
  return uniform(shape, Math.sqrt(6 / (fanIn + fanOut)), options);
}

/**
 * Kaiming uniform with leaky-ReLU slope `a` for a [out, in] weight:
 * bound = √(2 / (1 + a²)) · √(3 / in). With a = √5 (PyTorch's Linear default) bound = 1/√in.
 */
export function kaimingUniform(
  shape: readonly [number, number],
  a: number = Math.sqrt(5),
  options: TensorOptions = {},
): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  return uniform(shape, gain * Math.sqrt(3 / shape[1]), options);
}
