/**
 * The ONNX graph builder: typed values with static shapes, scoped node names, constants, and initializers that
 * are external-data references into the user's own weight files.
 *
 * API (what the networks use):
 *   const g = new Graph({ lowering: { kind: 'portable', precision: 'fp32' } });
 *   const ids = g.input('input_ids', 'int64', ['batch', 77]);     // string dims are symbolic
 *   g.scoped('text_model.encoder.layers.0', () => ...);            // node names become "<scope>/<op>"
 *   const w = g.param(ref);          // TensorRef → initializer in the compute dtype (BF16/F16/F32 Cast as needed)
 *   const raw = g.weight(ref);       // TensorRef → initializer in the file's dtype (no Cast)
 *   const c = g.constant('float32', [2], [1, 2]);   g.scalar(0.5)   g.ints([0, 0, 4, 8])   (deduplicated)
 *   const y = g.op('Add', [a, b]);   // shape/dtype inferred (see shape-inference.ts); throws GraphBuildError on
 *                                   // mismatch, naming the node. Unknown ops need { shape, dtype } in options.
 *   g.opN('Split', [x, sizes], { axis: -1 }, { outputs: 2 });
 *   attributes: integer → INT, { f } → FLOAT, string → STRING, number[] → INTS, { fs } → FLOATS, { t } → TENSOR
 *   g.cast(x, 'float32'); g.output('hidden_states', y);
 *   const { bytes, folder } = g.serialize();   // folder = common real ancestor of all weight files
 *   g.usedWeights()                            // every TensorRef key the graph references (leftover checks)
 * Higher-level helpers (linear, conv2d, layerNorm, groupNorm, attention, activations) live in ops/nn.ts and
 * elementwise/shape helpers in ops/basic.ts; the lowering (portable | fused, fp32 | fp16) in lowering.ts.
 * Sessions (worker thread, providers) are in session.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TensorRef } from '../weights/tensor';
import type { Lowering } from './lowering';
import {
  encodeModel,
  type AttributeProto,
  type AttributeValue,
  type NodeProto,
  type TensorDataTypeCode,
  type TensorProto,
  TensorDataType,
} from './onnx-proto';
import { inferShapes } from './shape-inference';

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
/** A fixed size or a symbolic name (ONNX dim_param), e.g. 'batch'. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export const ELEM_TYPE_CODE: Readonly<Record<ElemType, TensorDataTypeCode>> = {
  float32: TensorDataType.FLOAT,
  float16: TensorDataType.FLOAT16,
  bfloat16: TensorDataType.BFLOAT16,
  float64: TensorDataType.DOUBLE,
  int64: TensorDataType.INT64,
  int32: TensorDataType.INT32,
  int8: TensorDataType.INT8,
  uint8: TensorDataType.UINT8,
  bool: TensorDataType.BOOL,
};

const ELEM_BYTES: Readonly<Record<ElemType, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1,
};

const SAFETENSORS_TO_ELEM: Readonly<Record<string, ElemType>> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** A build-time error: the graph is never half-built silently. Messages name the node/weight at fault. */
export class GraphBuildError extends Error {
  override readonly name = 'GraphBuildError';
}

/** A typed value in the graph: the output of a node, a graph input, a constant or an initializer. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: ElemType,
    readonly shape: Shape,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** The dim at `axis` (negative counts from the end). */
  dim(axis: number): Dim {
    const a = axis < 0 ? axis + this.shape.length : axis;
    const d = this.shape[a];
    if (d === undefined) throw new GraphBuildError(`${this.name}: axis ${axis} out of range for shape [${this.shape.join(', ')}]`);
    return d;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.join(', ')}]`;
  }
}

/** Attribute values as callers write them; see the header comment for the mapping. */
export type Attr = number | string | readonly number[] | { readonly f: number } | { readonly fs: readonly number[] } | { readonly t: TensorProto };
export type Attrs = Readonly<Record<string, Attr | undefined>>;

export interface OpOptions {
  /** Operator domain; '' (default) is ai.onnx. */
  readonly domain?: string;
  /** Node label inside the current scope (default: op type). */
  readonly label?: string;
  /** Required when shape inference does not know the op; checked against inference when both exist. */
  readonly shape?: Shape;
  readonly dtype?: ElemType;
}

export interface OpNOptions extends Omit<OpOptions, 'shape' | 'dtype'> {
  readonly outputs: number;
  readonly shapes?: readonly Shape[];
  readonly dtypes?: readonly ElemType[];
}

/** Known constant contents (int64/float data of small constants), so inference can read Reshape targets etc. */
export interface ConstData {
  readonly dtype: ElemType;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

export interface SerializedModel {
  /** ModelProto bytes; weights are external-data references, never copied in. */
  readonly bytes: Uint8Array;
  /** Folder that external-data locations are relative to (null when the graph has no weights). */
  readonly folder: string | null;
  /** Real paths of the weight files referenced. */
  readonly files: readonly string[];
}

export interface GraphOptions {
  readonly lowering: Lowering;
  readonly name?: string;
}

interface WeightEntry {
  readonly ref: TensorRef;
  readonly value: Value;
}

const OPSET = 17;
const MS_DOMAIN = 'com.microsoft';

function isIntegerDims(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function toAttribute(node: string, name: string, a: Attr): AttributeValue {
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new GraphBuildError(`${node}: attribute ${name}=${a} is not an integer; write { f: ${a} } for a float`);
    return { kind: 'int', value: a };
  }
  if (typeof a === 'string') return { kind: 'string', value: a };
  if (Array.isArray(a)) {
    const ints = a as readonly number[];
    if (!ints.every(Number.isInteger)) throw new GraphBuildError(`${node}: attribute ${name} has non-integers; write { fs: [...] } for floats`);
    return { kind: 'ints', value: ints };
  }
  if ('f' in a) return { kind: 'float', value: a.f };
  if ('fs' in a) return { kind: 'floats', value: a.fs };
  if ('t' in a) return { kind: 'tensor', value: a.t };
  throw new GraphBuildError(`${node}: attribute ${name} has an unsupported value`);
}

/** Encodes numbers as little-endian bytes of `dtype` (float16 via round-to-nearest-even). */
export function encodeElements(dtype: ElemType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * ELEM_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'float32': view.setFloat32(i * 4, v, true); break;
      case 'float64': view.setFloat64(i * 8, v, true); break;
      case 'float16': view.setUint16(i * 2, float32ToFloat16Bits(v), true); break;
      case 'bfloat16': {
        const f = new Float32Array([v]);
        const bits = new Uint32Array(f.buffer)[0]!;
        view.setUint16(i * 2, (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16, true);
        break;
      }
      case 'int64': view.setBigInt64(i * 8, BigInt(v), true); break;
      case 'int32': view.setInt32(i * 4, v, true); break;
      case 'int8': view.setInt8(i, v); break;
      case 'uint8': view.setUint8(i, v); break;
      case 'bool': view.setUint8(i, v ? 1 : 0); break;
    }
  }
  return out;
}

/** IEEE half from a double, round-to-nearest-even, with overflow to ±inf and subnormals. */
export function float32ToFloat16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export class Graph {
  readonly lowering: Lowering;
  readonly name: string;
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: Value[] = [];
  private readonly outputs: { name: string; value: Value }[] = [];
  private readonly constants = new Map<string, Value>();
  private readonly constTensors: TensorProto[] = [];
  private readonly constData = new Map<string, ConstData>();
  private readonly weights = new Map<string, WeightEntry>();
  private readonly castWeights = new Map<string, Value>();
  private readonly usedNames = new Map<string, number>();
  private readonly valueNames = new Set<string>();
  private readonly scopes: string[] = [];
  private usesMsDomain = false;

  constructor(options: GraphOptions) {
    this.lowering = options.lowering;
    this.name = options.name ?? 'graph';
  }

  /** Activations' float dtype for this lowering. */
  get computeType(): 'float32' | 'float16' {
    return this.lowering.precision === 'fp16' ? 'float16' : 'float32';
  }

  /** The current module path, e.g. "down_blocks.1.attentions.0" ('' at the root). */
  get scopePath(): string {
    return this.scopes.filter((s) => s !== '').join('.');
  }

  /** Runs `build` with `path` appended to the module scope; nested scopes join with '.'. */
  scoped<T>(path: string, build: () => T): T {
    this.scopes.push(path);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Runs `build` with the scope set to the absolute module path `path` (e.g. a WeightScope's path). */
  at<T>(path: string, build: () => T): T {
    const saved = this.scopes.splice(0, this.scopes.length, path);
    try {
      return build();
    } finally {
      this.scopes.splice(0, this.scopes.length, ...saved);
    }
  }

  private atRoot<T>(build: () => T): T {
    return this.at('', build);
  }

  private uniqueName(base: string): string {
    const seen = this.usedNames.get(base);
    if (seen === undefined && !this.valueNames.has(base)) {
      this.usedNames.set(base, 1);
      return base;
    }
    let i = seen ?? 1;
    while (this.valueNames.has(`${base}_${i}`) || this.usedNames.has(`${base}_${i}`)) i++;
    this.usedNames.set(base, i + 1);
    return `${base}_${i}`;
  }

  private claim(name: string): string {
    this.valueNames.add(name);
    return name;
  }

  input(name: string, dtype: ElemType, shape: Shape): Value {
    if (this.valueNames.has(name)) throw new GraphBuildError(`graph input ${name}: name already used`);
    const v = new Value(this, this.claim(name), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** Marks `value` as a graph output called `name` (an Identity node carries the public name). */
  output(name: string, value: Value): Value {
    this.own(value, `output ${name}`);
    if (this.outputs.some((o) => o.name === name)) throw new GraphBuildError(`graph output ${name}: declared twice`);
    if (this.valueNames.has(name)) throw new GraphBuildError(`graph output ${name}: name already used by a value`);
    this.claim(name);
    this.nodes.push({ name: `output/${name}`, opType: 'Identity', domain: '', inputs: [value.name], outputs: [name], attributes: [] });
    const out = new Value(this, name, value.dtype, value.shape);
    this.outputs.push({ name, value: out });
    return out;
  }

  private own(v: Value, where: string): void {
    if (v.graph !== this) throw new GraphBuildError(`${where}: value ${v.name} belongs to another graph`);
  }

  /** A constant tensor (raw data in the model; identical constants are shared). */
  constant(dtype: ElemType, shape: readonly number[], values: ArrayLike<number>): Value {
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== values.length) {
      throw new GraphBuildError(`constant ${shapeToString(shape)} needs ${count} values, got ${values.length}`);
    }
    const raw = encodeElements(dtype, values);
    const key = `${dtype}|${shape.join(',')}|${Buffer.from(raw).toString('base64')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.claim(this.uniqueName(`const_${this.constTensors.length}`));
    this.constTensors.push({ name, dataType: ELEM_TYPE_CODE[dtype], dims: shape, rawData: raw });
    const v = new Value(this, name, dtype, shape);
    this.constants.set(key, v);
    if (count <= 4096) this.constData.set(name, { dtype, shape, values: Array.from(values) });
    return v;
  }

  /** A 0-d constant, in the compute dtype unless given. */
  scalar(value: number, dtype: ElemType = this.computeType): Value {
    return this.constant(dtype, [], [value]);
  }

  /** A 1-D int64 constant (shapes, axes, indices). */
  ints(values: readonly number[]): Value {
    return this.constant('int64', [values.length], values);
  }

  /** The contents of a constant created by this graph, if small enough to be kept (used by shape inference). */
  constValue(v: Value): ConstData | undefined {
    return this.constData.get(v.name);
  }

  /**
   * An initializer referencing `ref`'s bytes in its file, in the file's own dtype. `expect` (optional) is
   * checked against the stored shape, naming the key and file on mismatch.
   */
  weight(ref: TensorRef, expect?: Shape): Value {
    const dtype = SAFETENSORS_TO_ELEM[ref.dtype];
    if (dtype === undefined) throw new GraphBuildError(`weight ${ref.key} (${ref.file}): dtype ${ref.dtype} is not supported`);
    if (expect !== undefined && !sameShape(expect, ref.shape)) {
      throw new GraphBuildError(`weight ${ref.key} (${ref.file}): expected shape ${shapeToString(expect)}, file has ${shapeToString(ref.shape)}`);
    }
    const expectedLength = ref.shape.reduce((a, b) => a * b, 1) * ELEM_BYTES[dtype];
    if (expectedLength !== ref.length) {
      throw new GraphBuildError(`weight ${ref.key} (${ref.file}): length ${ref.length} ≠ ${expectedLength} bytes for ${ref.dtype}${shapeToString(ref.shape)}`);
    }
    const id = `${ref.file}\0${ref.key}`;
    const known = this.weights.get(id);
    if (known) return known.value;
    const v = new Value(this, this.claim(this.uniqueName(ref.key)), dtype, ref.shape);
    this.weights.set(id, { ref, value: v });
    return v;
  }

  /** Like weight(), cast to `dtype` (default: the compute dtype) when the file stores another float type. */
  param(ref: TensorRef, expect?: Shape, dtype: ElemType = this.computeType): Value {
    const raw = this.weight(ref, expect);
    if (raw.dtype === dtype) return raw;
    const id = `${raw.name}\0${dtype}`;
    const known = this.castWeights.get(id);
    if (known) return known;
    // Cast of an initializer is constant-folded by ORT at session creation (a copy in the target dtype).
    const cast = this.atRoot(() => this.op('Cast', [raw], { to: ELEM_TYPE_CODE[dtype] }, { label: `${ref.key}/Cast` }));
    this.castWeights.set(id, cast);
    return cast;
  }

  /** Every weight referenced so far. */
  usedWeights(): readonly TensorRef[] {
    return [...this.weights.values()].map((w) => w.ref);
  }

  /** Cast unless already `dtype`. */
  cast(x: Value, dtype: ElemType): Value {
    if (x.dtype === dtype) return x;
    return this.op('Cast', [x], { to: ELEM_TYPE_CODE[dtype] });
  }

  /** One node with one output. `null` inputs are omitted optional inputs (written as ""). */
  op(opType: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, options: OpOptions = {}): Value {
    const shapes = options.shape !== undefined ? [options.shape] : undefined;
    const dtypes = options.dtype !== undefined ? [options.dtype] : undefined;
    return this.opN(opType, inputs, attrs, {
      outputs: 1,
      ...(options.domain !== undefined ? { domain: options.domain } : {}),
      ...(options.label !== undefined ? { label: options.label } : {}),
      ...(shapes ? { shapes } : {}),
      ...(dtypes ? { dtypes } : {}),
    })[0]!;
  }

  /** One node with several outputs. */
  opN(opType: string, inputs: readonly (Value | null)[], attrs: Attrs, options: OpNOptions): Value[] {
    const domain = options.domain ?? '';
    const scope = this.scopePath;
    const label = options.label ?? opType;
    const nodeName = this.uniqueName(scope === '' ? label : `${scope}/${label}`);
    for (const v of inputs) if (v) this.own(v, nodeName);
    const attributes: AttributeProto[] = [];
    for (const [name, a] of Object.entries(attrs)) {
      if (a !== undefined) attributes.push({ name, value: toAttribute(nodeName, name, a) });
    }
    let inferred: { dtype: ElemType; shape: Shape }[] | undefined;
    try {
      inferred = inferShapes(this, opType, domain, inputs, attrs, options.outputs);
    } catch (e) {
      const inputsText = inputs.map((v) => (v ? v.toString() : '∅')).join('; ');
      throw new GraphBuildError(`${nodeName} (${domain ? domain + '.' : ''}${opType}): ${(e as Error).message} — inputs ${inputsText}`);
    }
    const outs: Value[] = [];
    for (let i = 0; i < options.outputs; i++) {
      const given = options.shapes?.[i];
      const inf = inferred?.[i];
      if (given !== undefined && inf !== undefined && !sameShape(given, inf.shape)) {
        throw new GraphBuildError(`${nodeName} (${opType}): declared shape ${shapeToString(given)} but inference gives ${shapeToString(inf.shape)}`);
      }
      const shape = given ?? inf?.shape;
      const dtype = options.dtypes?.[i] ?? inf?.dtype;
      if (shape === undefined || dtype === undefined) {
        throw new GraphBuildError(`${nodeName}: no shape inference for ${domain ? domain + '.' : ''}${opType}; pass shape and dtype`);
      }
      const valueName = this.claim(options.outputs === 1 ? nodeName : `${nodeName}:${i}`);
      outs.push(new Value(this, valueName, dtype, shape));
    }
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    else if (domain !== '') throw new GraphBuildError(`${nodeName}: domain ${domain} is not imported (only ai.onnx and ${MS_DOMAIN})`);
    this.nodes.push({
      name: nodeName,
      opType,
      domain,
      inputs: inputs.map((v) => (v ? v.name : '')),
      outputs: outs.map((v) => v.name),
      attributes,
    });
    return outs;
  }

  /** Op types used so far as "domain.Op" (ai.onnx ops without a prefix) — for structural tests and reports. */
  opTypes(): string[] {
    return this.nodes.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType));
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /**
   * Serialises to a ModelProto. External-data locations are relative to the common real ancestor folder of all
   * weight files (hub-cache symlinks resolved; ORT rejects '..', absolute paths and symlink escapes).
   */
  serialize(): SerializedModel {
    if (this.outputs.length === 0) throw new GraphBuildError(`${this.name}: graph has no outputs`);
    const realOf = new Map<string, { real: string; size: number }>();
    for (const { ref } of this.weights.values()) {
      if (realOf.has(ref.file)) continue;
      try {
        const real = fs.realpathSync(ref.file);
        realOf.set(ref.file, { real, size: fs.statSync(real).size });
      } catch (e) {
        throw new GraphBuildError(`weight ${ref.key}: cannot open ${ref.file}: ${(e as Error).message}`);
      }
    }
    for (const { ref } of this.weights.values()) {
      const size = realOf.get(ref.file)!.size;
      if (ref.offset < 0 || ref.offset + ref.length > size) {
        throw new GraphBuildError(`weight ${ref.key} (${ref.file}): bytes ${ref.offset}..${ref.offset + ref.length} lie outside the file (${size} bytes)`);
      }
    }
    const files = [...new Set([...realOf.values()].map((r) => r.real))];
    const folder = files.length === 0 ? null : commonAncestor(files.map((f) => path.dirname(f)));
    const initializers: TensorProto[] = [...this.constTensors];
    for (const { ref, value } of this.weights.values()) {
      const location = relativePosix(folder!, realOf.get(ref.file)!.real);
      initializers.push({
        name: value.name,
        dataType: ELEM_TYPE_CODE[value.dtype],
        dims: ref.shape,
        externalData: { location, offset: ref.offset, length: ref.length },
      });
    }
    const valueInfo = (name: string, v: Value) => ({ name, elemType: ELEM_TYPE_CODE[v.dtype], shape: v.shape });
    const opsetImports = [{ domain: '', version: OPSET }];
    if (this.usesMsDomain) opsetImports.push({ domain: MS_DOMAIN, version: 1 });
    const bytes = encodeModel({
      irVersion: 8,
      producerName: 'stylestudio',
      producerVersion: '0.1.0',
      opsetImports,
      graph: {
        name: this.name,
        nodes: this.nodes,
        initializers,
        inputs: this.inputs.map((v) => valueInfo(v.name, v)),
        outputs: this.outputs.map((o) => valueInfo(o.name, o.value)),
        valueInfo: [],
      },
    });
    return { bytes, folder, files };
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return isIntegerDims(shape);
}

/** Deepest folder containing all `dirs` (absolute, real paths). Throws when there is none (e.g. two drives). */
export function commonAncestor(dirs: readonly string[]): string {
  const split = dirs.map((d) => path.resolve(d).split(path.sep));
  const first = split[0]!;
  let n = first.length;
  for (const parts of split.slice(1)) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  const common = first.slice(0, n).join(path.sep);
  if (n === 0 || (n === 1 && first[0] !== '')) {
    throw new GraphBuildError(`weight files have no common folder: ${dirs.join(', ')}`);
  }
  return common === '' ? path.sep : common;
}

/** Relative POSIX location of `file` inside `folder`, refusing anything that would escape it. */
export function relativePosix(folder: string, file: string): string {
  const rel = path.relative(folder, file);
  if (rel === '' || path.isAbsolute(rel) || rel.split(path.sep).includes('..')) {
    throw new GraphBuildError(`weight file ${file} is not inside ${folder}`);
  }
  return rel.split(path.sep).join('/');
}
