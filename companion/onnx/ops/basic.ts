/**
 * Elementwise and shape helpers over Values. Each emits one node in the value's graph (scope-prefixed name);
 * numbers become scalar constants of the other operand's dtype.
 */
import { type ElemType, type Value, GraphBuildError } from '../graph';

type Operand = Value | number;

function lift(other: Value, x: Operand): Value {
  return typeof x === 'number' ? other.graph.scalar(x, other.dtype) : x;
}

function binary(op: string, a: Operand, b: Operand): Value {
  if (typeof a === 'number' && typeof b === 'number') throw new GraphBuildError(`${op} of two numbers: compute it in TypeScript`);
  const va = typeof a === 'number' ? lift(b as Value, a) : a;
  const vb = lift(va, b);
  return va.graph.op(op, [va, vb]);
}

export const add = (a: Operand, b: Operand): Value => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Value => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Value => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Value => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Value => binary('Pow', a, b);
export const equal = (a: Operand, b: Operand): Value => binary('Equal', a, b);

export const sqrt = (x: Value): Value => x.graph.op('Sqrt', [x]);
export const exp = (x: Value): Value => x.graph.op('Exp', [x]);
export const sin = (x: Value): Value => x.graph.op('Sin', [x]);
export const cos = (x: Value): Value => x.graph.op('Cos', [x]);
export const sigmoid = (x: Value): Value => x.graph.op('Sigmoid', [x]);
export const erf = (x: Value): Value => x.graph.op('Erf', [x]);
export const tanh = (x: Value): Value => x.graph.op('Tanh', [x]);
export const neg = (x: Value): Value => x.graph.op('Neg', [x]);
export const cast = (x: Value, dtype: ElemType): Value => x.graph.cast(x, dtype);

export function where(cond: Value, a: Operand, b: Operand): Value {
  const ref = typeof a === 'number' ? (b as Value) : a;
  return cond.graph.op('Where', [cond, lift(ref, a), lift(ref, b)]);
}

export function matmul(a: Value, b: Value): Value {
  return a.graph.op('MatMul', [a, b]);
}

/** Reshape to `dims` (ONNX semantics: 0 copies the input dim, -1 is inferred). */
export function reshape(x: Value, dims: readonly number[]): Value {
  return x.graph.op('Reshape', [x, x.graph.ints(dims)]);
}

export function transpose(x: Value, perm: readonly number[]): Value {
  return x.graph.op('Transpose', [x], { perm });
}

export function concat(values: readonly Value[], axis: number): Value {
  if (values.length === 0) throw new GraphBuildError('concat of nothing');
  if (values.length === 1) return values[0]!;
  return values[0]!.graph.op('Concat', values, { axis });
}

/** x[starts:ends] along `axes` (constants). */
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): Value {
  const g = x.graph;
  return g.op('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes), steps ? g.ints(steps) : null]);
}

export function gather(data: Value, indices: Value, axis = 0): Value {
  return data.graph.op('Gather', [data, indices], { axis });
}

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  return x.graph.op('Unsqueeze', [x, x.graph.ints(axes)]);
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  return x.graph.op('Squeeze', [x, x.graph.ints(axes)]);
}

export function split(x: Value, sizes: readonly number[], axis: number): Value[] {
  return x.graph.opN('Split', [x, x.graph.ints(sizes)], { axis }, { outputs: sizes.length });
}

export function softmax(x: Value, axis = -1): Value {
  return x.graph.op('Softmax', [x], { axis });
}

/** Mean over `axes` (opset 17 ReduceMean: axes are an attribute). */
export function reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
  return x.graph.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
}

export function argMax(x: Value, axis: number, keepdims = true): Value {
  return x.graph.op('ArgMax', [x], { axis, keepdims: keepdims ? 1 : 0 });
}

export function expand(x: Value, shape: readonly number[]): Value {
  return x.graph.op('Expand', [x, x.graph.ints(shape)]);
}

/** The static size of a dim, or a build error naming the value (for code that needs numbers). */
export function staticDim(x: Value, axis: number): number {
  const d = x.dim(axis);
  if (typeof d !== 'number') throw new GraphBuildError(`${x.name}: dim ${axis} is symbolic (${d}); a static size is needed here`);
  return d;
}
