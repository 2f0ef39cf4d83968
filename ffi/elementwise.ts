/**
 * The elementwise ops, declared once. The code of an op is its row index, the same row as in the
 * C tables `kBinary` / `kUnary` of csrc/dgtorch.cpp (tests/ffi_table.test.ts compares the names
 * through `dg_op_name`). tensor.ts derives a `Tensor` method from each row that names one, so
 * adding an elementwise op is one row here and one row in C.
 * @module
 */

/**
 * Binary ops: [C name, Tensor method, whether a number right-hand side is allowed]. Methods
 * broadcast; comparisons return bool tensors; with a number, `maximum`/`minimum` clamp.
 */
export const BINARY = [
  ["add", "add", true], // this + other
  ["sub", "sub", true], // this − other
  ["mul", "mul", true], // this × other
  ["div", "div", true], // this ÷ other
  ["pow", "pow", true], // this ** other
  ["max", "maximum", true], // elementwise maximum
  ["min", "minimum", true], // elementwise minimum
  ["eq", "eq", true], // this == other
  ["ne", "ne", true], // this != other
  ["lt", "lt", true], // this < other
  ["le", "le", true], // this <= other
  ["gt", "gt", true], // this > other
  ["ge", "ge", true], // this >= other
  ["and", "logicalAnd", false], // logical and of bool tensors
  ["or", "logicalOr", false], // logical or of bool tensors
] as const;

/** Unary ops: [C name, Tensor method or null when a method with arguments wraps it]. */
export const UNARY = [
  ["neg", "neg"], // −x
  ["exp", "exp"], // e^x
  ["log", "log"], // natural logarithm
  ["sqrt", "sqrt"], // square root
  ["rsqrt", "rsqrt"], // 1 / sqrt(x)
  ["abs", "abs"], // |x|
  ["relu", "relu"], // max(x, 0)
  ["silu", "silu"], // x · sigmoid(x)
  ["gelu", null], // GELU, exact erf form: Tensor.gelu("none")
  ["geluTanh", null], // GELU, tanh approximation: Tensor.gelu("tanh")
  ["sigmoid", "sigmoid"], // logistic sigmoid
  ["tanh", "tanh"], // hyperbolic tangent
  ["sin", "sin"], // sine
  ["cos", "cos"], // cosine
  ["not", "logicalNot"], // logical not
  ["isnan", "isnan"], // elementwise NaN test (bool)
  ["isfinite", "isfinite"], // elementwise finiteness test (bool)
  ["sign", "sign"], // −1, 0 or 1
] as const;

type Row<T extends readonly (readonly unknown[])[]> = T[number];

/** Code of a binary op by its C name. */
export const BINARY_CODE: Readonly<Record<Row<typeof BINARY>[0], number>> = Object.fromEntries(
  BINARY.map(([name], i) => [name, i]),
) as Record<Row<typeof BINARY>[0], number>;

/** Code of a unary op by its C name. */
export const UNARY_CODE: Readonly<Record<Row<typeof UNARY>[0], number>> = Object.fromEntries(
  UNARY.map(([name], i) => [name, i]),
) as Record<Row<typeof UNARY>[0], number>;

/**
 * The elementwise methods of a tensor type `T`, one per row of {@link BINARY} / {@link UNARY}
 * that names a method (installed on `Tensor.prototype` from the rows by tensor.ts; the type
 * check below keeps this list and the tables equal). All broadcast and return new tensors.
 */
export interface ElementwiseMethods<T> {
  /** this + other. */
  add(other: T | number): T;
  /** this − other. */
  sub(other: T | number): T;
  /** this × other. */
  mul(other: T | number): T;
  /** this ÷ other. */
  div(other: T | number): T;
  /** this ** exponent. */
  pow(exponent: T | number): T;
  /** Elementwise maximum (with a number: clamp from below). */
  maximum(other: T | number): T;
  /** Elementwise minimum (with a number: clamp from above). */
  minimum(other: T | number): T;
  /** this == other (bool tensor). */
  eq(other: T | number): T;
  /** this != other (bool tensor). */
  ne(other: T | number): T;
  /** this < other (bool tensor). */
  lt(other: T | number): T;
  /** this <= other (bool tensor). */
  le(other: T | number): T;
  /** this > other (bool tensor). */
  gt(other: T | number): T;
  /** this >= other (bool tensor). */
  ge(other: T | number): T;
  /** Logical and of two bool tensors. */
  logicalAnd(other: T): T;
  /** Logical or of two bool tensors. */
  logicalOr(other: T): T;
  /** −this. */
  neg(): T;
  /** e^this. */
  exp(): T;
  /** Natural logarithm. */
  log(): T;
  /** Square root. */
  sqrt(): T;
  /** 1 / sqrt. */
  rsqrt(): T;
  /** Absolute value. */
  abs(): T;
  /** max(x, 0). */
  relu(): T;
  /** x · sigmoid(x). */
  silu(): T;
  /** Logistic sigmoid. */
  sigmoid(): T;
  /** Hyperbolic tangent. */
  tanh(): T;
  /** Sine. */
  sin(): T;
  /** Cosine. */
  cos(): T;
  /** Logical not. */
  logicalNot(): T;
  /** Elementwise NaN test (bool tensor). */
  isnan(): T;
  /** Elementwise finiteness test (bool tensor). */
  isfinite(): T;
  /** Sign (−1, 0, 1). */
  sign(): T;
}

/** The methods the table rows name, with a number right-hand side where the row allows one. */
type FromTables<T> =
  & { [R in Row<typeof BINARY> as R[1]]: (other: R[2] extends true ? T | number : T) => T }
  & { [R in Row<typeof UNARY> as R[1] extends string ? R[1] : never]: () => T };
/** Parameter and result types of each method, as tuples (compared exactly, not bivariantly). */
type Signatures<M> = {
  [K in keyof M]: M[K] extends (...args: infer P) => infer R ? [P, R] : never;
};
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time check: the interface above and the tables name the same methods and types. */
const _tablesMatchInterface: Same<
  Signatures<ElementwiseMethods<"T">>,
  Signatures<FromTables<"T">>
> = true;
void _tablesMatchInterface;
