/**
 * The ONNX graph builder: typed values with static shapes, scoped node names, constants, and initializers that
 * are external-data references into the user's own weight files (nothing is copied, nothing written to disk).
 *
 * ── graph.ts ────────────────────────────────────────────────────────────────────────────────────────────────
 *   const g = new Graph({ lowering: loweringFor('cpu') , name? })   // lowering.ts: {kind: portable|fused, precision: fp32|fp16}
 *   g.computeType                          'float32' | 'float16' (from lowering.precision)
 *   g.input(name, dtype, shape)            shape dims: number (fixed) | string (symbolic, e.g. 'batch')
 *   g.output(name, value)                  public output (an Identity carries the name); returns the output Value
 *   g.scoped(path, fn) / g.at(path, fn)    nested (joined with '.') / absolute module scope for node names:
 *                                          nodes are named "<scope>/<Op>" ("down_blocks.1.attentions.0/Add_2")
 *   g.weight(ref, expect?)                 TensorRef → initializer in the FILE's dtype (F32/F16/BF16/…); deduped by file+offset+key;
 *                                          the initializer is named by the checkpoint key
 *   g.param(ref, expect?, dtype?)          same, cast to `dtype` (default computeType) when the file stores another
 *                                          float type (BF16 → Cast; fp16 files in fp16 graphs are used as stored)
 *   g.constant(dtype, dims, values)        raw-data initializer, deduplicated by content; g.scalar(v, dtype?) g.ints([...])
 *   g.op(type, inputs, attrs?, opts?)      one node, one output; `null` input = omitted optional input
 *   g.opN(type, inputs, attrs, {outputs})  several outputs
 *       attrs: integer → INT, {f} → FLOAT, string → STRING, number[] → INTS, {fs} → FLOATS, {t} → TENSOR
 *              (a non-integer plain number is refused, so 1e-5 can never silently become an INT)
 *       opts: {domain: 'com.microsoft', label, shape, dtype}: shape/dtype are required only for ops that
 *             shape-inference.ts does not know, and are checked against inference when both exist
 *   g.cast(x, dtype)                       no-op when x already has dtype (use it for fp32 statistics in fp16 graphs)
 *   g.serialize() → {bytes, folder, files} ModelProto (IR 8, opset 17 + com.microsoft 1 when used); external-data
 *                                          locations are relative POSIX paths under `folder` = the common real
 *                                          ancestor of all weight files (symlinks resolved, ranges checked)
 *   g.usedWeights(), g.opTypes(), g.nodeCount
 *   Value: {graph, name, dtype, shape, rank, dim(axis)}; errors are GraphBuildError naming node/weight/key.
 *
 * Files: errors.ts (GraphBuildError), elements.ts (constant encodings, float32ToFloat16Bits), external-data.ts
 * (commonAncestor, relativePosix), shape-inference.ts (per-op inference), onnx-proto.ts + protobuf.ts (encoder).
 *
 * ── ops/basic.ts ── one node each, numbers lift to scalars of the other operand's dtype:
 *   add sub mul div pow equal where sqrt exp sin cos sigmoid erf tanh neg cast matmul reshape(0 = copy dim,
 *   -1 = infer) transpose concat slice gather unsqueeze squeeze split softmax reduceMean argMax expand staticDim
 *
 * ── ops/nn.ts ── torch modules at a WeightScope (nodes named after the scope path, shapes checked at build):
 *   linear(w, x, out, {bias?})           FusedMatMul(transB=1) on the [out,in] weight (+ Add bias); linearRef(x, W, b?)
 *   conv2d(w, x, {outChannels, kernel, stride?, padding?, groups?, bias?})   NCHW Conv
 *   layerNorm(w, x, eps)                  LayerNormalization-17 over the last dim
 *   groupNorm(w, x, {groups, eps, silu?}) portable: Reshape→InstanceNormalization (fp32)→Reshape→affine;
 *                                         fused: Transpose→com.microsoft.GroupNorm(NHWC, activation)→Transpose (CUDA/DML only)
 *   attention(q, k, v, {heads, bias?, scale?})  [B,S,H·D] in/out; portable: per-head MatMul/Softmax (softmax in fp32);
 *                                         fused: com.microsoft.MultiHeadAttention (bias = attention_bias [B|1,H|1,Sq,Sk])
 *   activation(x, 'gelu'|'gelu_tanh'|'quick_gelu'|'silu'), gelu, geluTanh, quickGelu, silu, finfoMin(dtype)
 *   geglu(w, x, dimOut)                   diffusers GEGLU (portable: Split + erf GELU; fused: com.microsoft.BiasSplitGelu)
 *   upsampleNearest(x, factor)            F.interpolate(mode="nearest") via Resize (asymmetric, floor)
 *
 * ── lowering.ts ── Lowering {kind, precision, contrib, …}; loweringFor(provider, precision?): cpu → portable fp32
 *   (CPU MultiHeadAttention), cuda/dml → fused fp16, webgpu → fused fp16 with two-pass fp32 norm statistics and fp32
 *   attention (its own kernels measured imprecise), coreml → portable fp16; only the contrib ops the provider runs
 *   (capabilities.ts); EXECUTION_PROVIDERS; PORTABLE_FP32.
 *
 * ── session.ts ── (the only importers of onnxruntime-node are session-worker.ts and providers.ts)
 *   const s = await Session.create(g.serialize(), {provider?, deviceId?, optimization?, intraOpThreads?, logLevel?})
 *   s.inputNames, s.outputNames; await s.run({name: {dtype, dims, data}}) → {name: TensorData};
 *   await s.release()   — each session lives in its own worker thread; run() never blocks the caller's loop.
 *   TensorData.data: Float32Array | Uint16Array (float16 bits) | BigInt64Array | Int32Array | Uint8Array (bool) …
 *   Errors (CodedError): ProviderUnavailableError (provider not offered here, or it cannot run even a probe graph),
 *   SessionError (ORT's message; this model failed on a provider that works).
 *   availableProviders() → [{provider, available, reason?}] by running the probe graph on each provider (for `doctor`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storedShape, type TensorRef } from '../weights/tensor';
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
import { ELEM_BYTES, encodeElements } from './elements';
import { GraphBuildError } from './errors';
import { commonAncestor, relativePosix } from './external-data';
import { inferShapes } from './shape-inference';
import type { Attr, Attrs, ConstData, ConstLookup, Dim, ElemType, Shape } from './types';

export type { Attr, Attrs, ConstData, Dim, ElemType, Shape } from './types';

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


const SAFETENSORS_TO_ELEM: Readonly<Record<string, ElemType>> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

export { GraphBuildError };

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
  /** The initializer over the file's bytes (shaped as stored). */
  readonly stored: Value;
  /** What weight() returns: `stored`, or its Transpose for a tensor stored transposed. */
  readonly value: Value;
}

const OPSET = 17;
const MS_DOMAIN = 'com.microsoft';

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

export class Graph implements ConstLookup {
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
  constValue(v: { readonly name: string }): ConstData | undefined {
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
    // keyed by the bytes as well: the networks of one single-file checkpoint share a file and reuse diffusers keys
    const id = `${ref.file}\0${ref.offset}\0${ref.key}`;
    const known = this.weights.get(id);
    if (known) return known.value;
    const stored = new Value(this, this.claim(this.uniqueName(ref.key)), dtype, storedShape(ref));
    // Transpose of an initializer is constant-folded by ORT at session creation, like the Cast in param().
    const v = ref.storedTransposed === true
      ? this.atRoot(() => this.op('Transpose', [stored], { perm: [1, 0] }, { label: `${ref.key}/Transpose` }))
      : stored;
    this.weights.set(id, { ref, stored, value: v });
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
    for (const { ref, stored } of this.weights.values()) {
      const location = relativePosix(folder!, realOf.get(ref.file)!.real);
      initializers.push({
        name: stored.name,
        dataType: ELEM_TYPE_CODE[stored.dtype],
        dims: storedShape(ref),
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

/** True when every dim is a number. */
export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}
