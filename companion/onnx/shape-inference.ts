/**
 * Static shape/dtype inference for the ops the builder emits, so wrong wiring fails at build time with the
 * node's name instead of at session creation (or silently through broadcasting).
 * Returns undefined for ops it does not know; the caller then must declare the output shape.
 */
import type { Attrs, ConstLookup, Dim, ElemType, Shape, TypedValue } from './types';

type Out = { dtype: ElemType; shape: Shape };

const CODE_TO_ELEM: Readonly<Record<number, ElemType>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16',
};

const SAME_SHAPE_UNARY = new Set([
  'Identity', 'Relu', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'Sin', 'Cos',
  'Softmax', 'LayerNormalization', 'InstanceNormalization', 'Trilu', 'Floor', 'Ceil', 'Round',
]);
const MS_SAME_SHAPE = new Set(['Gelu', 'FastGelu', 'QuickGelu', 'GroupNorm', 'SkipLayerNormalization', 'BiasGelu']);
const BINARY_SAME_TYPE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mod']);
const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);
const REDUCE_ATTR_AXES = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare']);

function fail(msg: string): never {
  throw new Error(msg);
}

function attrInt(attrs: Attrs, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (typeof a !== 'number') fail(`attribute ${name} must be an int`);
  return a;
}

function attrInts(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (!Array.isArray(a)) fail(`attribute ${name} must be ints`);
  return a as readonly number[];
}

function req(v: TypedValue | null | undefined, what: string): TypedValue {
  if (!v) fail(`missing input ${what}`);
  return v;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function constInts(g: ConstLookup, v: TypedValue | null | undefined, what: string): number[] {
  const data = v ? g.constValue(v) : undefined;
  if (!data) fail(`${what} must be a constant made by this graph`);
  return data.values.map((x) => Number(x));
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') fail(`cannot broadcast ${a} with ${b}`);
  return typeof a === 'number' ? a : b;
}

export function broadcastShapes(...shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k >= 0) d = broadcastDim(d, s[k]!);
    }
    out.push(d);
  }
  return out;
}

function sameType(inputs: readonly TypedValue[]): ElemType {
  const t = inputs[0]!.dtype;
  for (const v of inputs) if (v.dtype !== t) fail(`dtype mismatch ${t} vs ${v.dtype} (add a Cast at the precision boundary)`);
  return t;
}

function matmulShape(a: Shape, b: Shape): Shape {
  if (a.length < 2 || b.length < 2) fail('MatMul inputs must have rank ≥ 2');
  const k1 = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) fail(`inner dims differ: ${k1} vs ${k2}`);
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  return [...batch, a[a.length - 2]!, b[b.length - 1]!];
}

function swapLast(s: Shape): Shape {
  return [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
}

function product(dims: readonly number[]): number {
  return dims.reduce((x, y) => x * y, 1);
}

function reshapeShape(input: Shape, target: readonly number[]): Shape {
  const out: Dim[] = target.map((d, i) => {
    if (d === 0) {
      const src = input[i];
      if (src === undefined) fail(`Reshape: 0 at position ${i} has no input dim`);
      return src;
    }
    return d;
  });
  const unknown = out.indexOf(-1);
  // Cancel symbolic dims that appear on both sides so -1 can be solved with numbers only.
  const inSyms = input.filter((d): d is string => typeof d === 'string');
  const outSyms = out.filter((d): d is string => typeof d === 'string');
  for (const s of outSyms) {
    const i = inSyms.indexOf(s);
    if (i < 0) fail(`Reshape: symbolic dim ${s} not in the input`);
    inSyms.splice(i, 1);
  }
  const inNum = product(input.filter((d): d is number => typeof d === 'number'));
  const outNum = product(out.filter((d): d is number => typeof d === 'number' && d !== -1));
  if (unknown >= 0) {
    if (inSyms.length > 0) fail(`Reshape: cannot solve -1 with symbolic input dims ${inSyms.join(', ')}`);
    if (out.indexOf(-1, unknown + 1) >= 0) fail('Reshape: more than one -1');
    if (inNum % outNum !== 0) fail(`Reshape: ${shapeText(input)} does not divide into ${shapeText(target)}`);
    out[unknown] = inNum / outNum;
  } else if (inSyms.length > 0 || inNum !== outNum) {
    fail(`Reshape: ${shapeText(input)} has a different size than ${shapeText(target)}`);
  }
  return out;
}

function shapeText(s: Shape): string {
  return `[${s.join(', ')}]`;
}

function sliceShape(g: ConstLookup, inputs: readonly (TypedValue | null)[]): Shape {
  const data = req(inputs[0], 'data');
  const starts = constInts(g, inputs[1], 'Slice starts');
  const ends = constInts(g, inputs[2], 'Slice ends');
  const axes = inputs[3] ? constInts(g, inputs[3], 'Slice axes') : starts.map((_, i) => i);
  const steps = inputs[4] ? constInts(g, inputs[4], 'Slice steps') : starts.map(() => 1);
  const out = [...data.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, data.rank);
    const dim = data.shape[a]!;
    if (typeof dim !== 'number') fail(`Slice on symbolic axis ${a}`);
    const step = steps[i]!;
    if (step <= 0) fail('Slice: only positive steps are supported');
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[i]!);
    const e = clamp(ends[i]!);
    out[a] = Math.max(0, Math.ceil((e - s) / step));
  });
  return out;
}

function convShape(x: Shape, w: Shape, attrs: Attrs): Shape {
  const spatial = x.length - 2;
  if (spatial < 1 || w.length !== x.length) fail(`Conv: input rank ${x.length} vs weight rank ${w.length}`);
  const group = attrInt(attrs, 'group', 1);
  const cin = x[1]!;
  const wc = w[1]!;
  if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * group) {
    fail(`Conv: input has ${cin} channels, weight expects ${wc}×group ${group}`);
  }
  const pads = attrInts(attrs, 'pads') ?? new Array(spatial * 2).fill(0);
  const strides = attrInts(attrs, 'strides') ?? new Array(spatial).fill(1);
  const dil = attrInts(attrs, 'dilations') ?? new Array(spatial).fill(1);
  const out: Dim[] = [x[0]!, w[0]!];
  for (let i = 0; i < spatial; i++) {
    const n = x[2 + i]!;
    const k = w[2 + i]!;
    if (typeof n !== 'number' || typeof k !== 'number') fail('Conv: spatial dims must be static');
    const eff = dil[i]! * (k - 1) + 1;
    out.push(Math.floor((n + pads[i]! + pads[i + spatial]! - eff) / strides[i]!) + 1);
  }
  return out;
}

export function inferShapes(
  g: ConstLookup,
  op: string,
  domain: string,
  inputs: readonly (TypedValue | null)[],
  attrs: Attrs,
  outputs: number,
): Out[] | undefined {
  const x = inputs[0] ?? null;
  if (domain === 'com.microsoft') {
    if (MS_SAME_SHAPE.has(op)) {
      const v = req(x, 'X');
      return Array.from({ length: outputs }, () => ({ dtype: v.dtype, shape: v.shape }));
    }
    if (op === 'BiasSplitGelu') {
      const v = req(x, 'X');
      const d = v.dim(-1);
      if (v.rank !== 3 || typeof d !== 'number' || d % 2 !== 0) fail(`BiasSplitGelu needs [N, S, 2·D] input, got [${v.shape.join(', ')}]`);
      return [{ dtype: v.dtype, shape: [v.shape[0]!, v.shape[1]!, d / 2] }];
    }
    if (op === 'FusedMatMul') {
      const a = req(x, 'A');
      const b = req(inputs[1], 'B');
      const dtype = sameType([a, b]);
      const sa = attrInt(attrs, 'transA', 0) ? swapLast(a.shape) : a.shape;
      const sb = attrInt(attrs, 'transB', 0) ? swapLast(b.shape) : b.shape;
      return [{ dtype, shape: matmulShape(sa, sb) }];
    }
    if (op === 'MultiHeadAttention') {
      const q = req(x, 'query');
      const k = req(inputs[1], 'key');
      const v = req(inputs[2], 'value');
      const dtype = sameType([q, k, v]);
      if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) fail('MultiHeadAttention: query/key/value must be [B, S, hidden]');
      const heads = attrInt(attrs, 'num_heads', 0);
      for (const t of [q, v]) {
        const h = t.shape[2]!;
        if (typeof h === 'number' && h % heads !== 0) fail(`hidden ${h} not divisible by num_heads ${heads}`);
      }
      if (q.shape[2] !== k.shape[2]) fail(`query hidden ${q.shape[2]} ≠ key hidden ${k.shape[2]}`);
      return [{ dtype, shape: [q.shape[0]!, q.shape[1]!, v.shape[2]!] }];
    }
    return undefined;
  }
  if (domain !== '') return undefined;

  if (SAME_SHAPE_UNARY.has(op)) {
    const v = req(x, 'input');
    if (op === 'Softmax') normAxis(attrInt(attrs, 'axis', -1), v.rank);
    if (op === 'LayerNormalization') {
      const scale = req(inputs[1], 'Scale');
      const axis = normAxis(attrInt(attrs, 'axis', -1), v.rank);
      const normShape = v.shape.slice(axis);
      if (scale.shape.length !== normShape.length || scale.shape.some((d, i) => d !== normShape[i])) {
        fail(`LayerNormalization: scale ${shapeText(scale.shape)} does not match normalised dims ${shapeText(normShape)}`);
      }
      sameType(inputs.filter((i): i is TypedValue => !!i));
    }
    if (op === 'InstanceNormalization') {
      const scale = req(inputs[1], 'scale');
      if (scale.rank !== 1 || scale.shape[0] !== v.shape[1]) fail(`InstanceNormalization: scale ${shapeText(scale.shape)} vs channels ${v.shape[1]}`);
    }
    return [{ dtype: v.dtype, shape: v.shape }];
  }
  if (BINARY_SAME_TYPE.has(op)) {
    const a = req(x, 'A');
    const b = req(inputs[1], 'B');
    return [{ dtype: sameType([a, b]), shape: broadcastShapes(a.shape, b.shape) }];
  }
  if (COMPARE.has(op)) {
    const a = req(x, 'A');
    const b = req(inputs[1], 'B');
    sameType([a, b]);
    return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }];
  }
  switch (op) {
    case 'Where': {
      const c = req(x, 'condition');
      const a = req(inputs[1], 'X');
      const b = req(inputs[2], 'Y');
      if (c.dtype !== 'bool') fail('Where: condition must be bool');
      return [{ dtype: sameType([a, b]), shape: broadcastShapes(c.shape, a.shape, b.shape) }];
    }
    case 'Cast': {
      const to = CODE_TO_ELEM[attrInt(attrs, 'to', 0)];
      if (!to) fail('Cast: unsupported "to"');
      return [{ dtype: to, shape: req(x, 'input').shape }];
    }
    case 'MatMul': {
      const a = req(x, 'A');
      const b = req(inputs[1], 'B');
      return [{ dtype: sameType([a, b]), shape: matmulShape(a.shape, b.shape) }];
    }
    case 'Gemm': {
      const a = req(x, 'A');
      const b = req(inputs[1], 'B');
      if (a.rank !== 2 || b.rank !== 2) fail('Gemm: A and B must be 2-D');
      const sa = attrInt(attrs, 'transA', 0) ? swapLast(a.shape) : a.shape;
      const sb = attrInt(attrs, 'transB', 0) ? swapLast(b.shape) : b.shape;
      return [{ dtype: sameType([a, b]), shape: matmulShape(sa, sb) }];
    }
    case 'Reshape': {
      const v = req(x, 'data');
      return [{ dtype: v.dtype, shape: reshapeShape(v.shape, constInts(g, inputs[1], 'Reshape shape')) }];
    }
    case 'Transpose': {
      const v = req(x, 'data');
      const perm = attrInts(attrs, 'perm') ?? v.shape.map((_, i) => v.rank - 1 - i);
      if (perm.length !== v.rank || [...perm].sort().some((p, i) => p !== i)) fail(`Transpose: perm [${perm.join(', ')}] is not a permutation of rank ${v.rank}`);
      return [{ dtype: v.dtype, shape: perm.map((p) => v.shape[p]!) }];
    }
    case 'Concat': {
      const vs = inputs.map((v, i) => req(v, `input ${i}`));
      const dtype = sameType(vs);
      const rank = vs[0]!.rank;
      const axis = normAxis(attrInt(attrs, 'axis', 0), rank);
      const out = [...vs[0]!.shape];
      let total = 0;
      for (const v of vs) {
        if (v.rank !== rank) fail('Concat: ranks differ');
        v.shape.forEach((d, i) => {
          if (i !== axis && d !== out[i]) fail(`Concat: dim ${i} differs (${out[i]} vs ${d})`);
        });
        const d = v.shape[axis]!;
        if (typeof d !== 'number') fail('Concat along a symbolic axis');
        total += d;
      }
      out[axis] = total;
      return [{ dtype, shape: out }];
    }
    case 'Slice': {
      const v = req(x, 'data');
      return [{ dtype: v.dtype, shape: sliceShape(g, inputs) }];
    }
    case 'Gather': {
      const v = req(x, 'data');
      const idx = req(inputs[1], 'indices');
      if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail('Gather: indices must be int32/int64');
      const axis = normAxis(attrInt(attrs, 'axis', 0), v.rank);
      return [{ dtype: v.dtype, shape: [...v.shape.slice(0, axis), ...idx.shape, ...v.shape.slice(axis + 1)] }];
    }
    case 'GatherElements': {
      return [{ dtype: req(x, 'data').dtype, shape: req(inputs[1], 'indices').shape }];
    }
    case 'Unsqueeze': {
      const v = req(x, 'data');
      const rank = v.rank + constInts(g, inputs[1], 'Unsqueeze axes').length;
      const axes = constInts(g, inputs[1], 'Unsqueeze axes').map((a) => normAxis(a, rank));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : v.shape[k++]!);
      return [{ dtype: v.dtype, shape: out }];
    }
    case 'Squeeze': {
      const v = req(x, 'data');
      const axes = constInts(g, inputs[1], 'Squeeze axes').map((a) => normAxis(a, v.rank));
      for (const a of axes) if (v.shape[a] !== 1) fail(`Squeeze: axis ${a} has size ${v.shape[a]}`);
      return [{ dtype: v.dtype, shape: v.shape.filter((_, i) => !axes.includes(i)) }];
    }
    case 'Split': {
      const v = req(x, 'input');
      const axis = normAxis(attrInt(attrs, 'axis', 0), v.rank);
      const d = v.shape[axis]!;
      let sizes: number[];
      if (inputs[1]) sizes = constInts(g, inputs[1], 'Split sizes');
      else {
        if (typeof d !== 'number' || d % outputs !== 0) fail(`Split: ${d} not divisible into ${outputs}`);
        sizes = new Array(outputs).fill(d / outputs);
      }
      if (sizes.length !== outputs) fail(`Split: ${sizes.length} sizes for ${outputs} outputs`);
      if (typeof d === 'number' && sizes.reduce((a, b) => a + b, 0) !== d) fail(`Split: sizes ${sizes.join('+')} ≠ ${d}`);
      return sizes.map((s) => ({ dtype: v.dtype, shape: v.shape.map((dd, i) => (i === axis ? s : dd)) }));
    }
    case 'Expand': {
      const v = req(x, 'input');
      return [{ dtype: v.dtype, shape: broadcastShapes(v.shape, constInts(g, inputs[1], 'Expand shape')) }];
    }
    case 'ReduceSum': {
      const v = req(x, 'data');
      const axes = inputs[1] ? constInts(g, inputs[1], 'ReduceSum axes') : v.shape.map((_, i) => i);
      return [{ dtype: v.dtype, shape: reduceShape(v.shape, axes, attrInt(attrs, 'keepdims', 1)) }];
    }
    case 'ArgMax':
    case 'ArgMin': {
      const v = req(x, 'data');
      const axis = attrInt(attrs, 'axis', 0);
      return [{ dtype: 'int64', shape: reduceShape(v.shape, [axis], attrInt(attrs, 'keepdims', 1)) }];
    }
    case 'Conv': {
      const v = req(x, 'X');
      const w = req(inputs[1], 'W');
      const dtype = sameType(inputs.filter((i): i is TypedValue => !!i));
      const b = inputs[2];
      if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0])) fail(`Conv: bias ${shapeText(b.shape)} vs ${w.shape[0]} output channels`);
      return [{ dtype, shape: convShape(v.shape, w.shape, attrs) }];
    }
    case 'Resize': {
      const v = req(x, 'X');
      if (inputs[3]) return [{ dtype: v.dtype, shape: constInts(g, inputs[3], 'Resize sizes') }];
      const scaleData = inputs[2] ? g.constValue(inputs[2]) : undefined;
      if (!scaleData) fail('Resize: scales must be a constant');
      return [{
        dtype: v.dtype,
        shape: v.shape.map((d, i) => {
          const scale = scaleData.values[i]!;
          if (typeof d !== 'number') {
            // a symbolic dim (e.g. the batch) passes through when it is not resized
            if (scale !== 1) fail('Resize of a symbolic dim');
            return d;
          }
          return Math.floor(d * scale);
        }),
      }];
    }
    case 'Shape':
      return [{ dtype: 'int64', shape: [req(x, 'data').rank] }];
    default:
      if (REDUCE_ATTR_AXES.has(op)) {
        const v = req(x, 'data');
        const axes = attrInts(attrs, 'axes') ?? v.shape.map((_, i) => i);
        return [{ dtype: v.dtype, shape: reduceShape(v.shape, axes, attrInt(attrs, 'keepdims', 1)) }];
      }
      return undefined;
  }
}

function reduceShape(shape: Shape, axes: readonly number[], keepdims: number): Shape {
  const norm = axes.map((a) => normAxis(a, shape.length));
  return keepdims ? shape.map((d, i) => (norm.includes(i) ? 1 : d)) : shape.filter((_, i) => !norm.includes(i));
}
