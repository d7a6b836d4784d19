/**
 * The subset of onnx.proto (ONNX 1.x, proto2) the builder writes, as plain data + one encoder per message.
 * Field numbers are onnx/onnx.proto's; only fields we emit are listed.
 */
import { ProtoWriter } from './protobuf';

/** TensorProto.DataType values. */
export const TensorDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type TensorDataTypeCode = (typeof TensorDataType)[keyof typeof TensorDataType];

export interface ExternalData {
  /** POSIX path relative to the model folder. */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export interface TensorProto {
  readonly name: string;
  readonly dataType: TensorDataTypeCode;
  readonly dims: readonly number[];
  /** Exactly one of rawData / externalData. */
  readonly rawData?: Uint8Array;
  readonly externalData?: ExternalData;
}

/** A dimension is fixed (number) or symbolic (dim_param string). */
export type DimProto = number | string;

export interface ValueInfoProto {
  readonly name: string;
  readonly elemType: TensorDataTypeCode;
  /** null = rank unknown (no shape written). */
  readonly shape: readonly DimProto[] | null;
}

export type AttributeValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorProto }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] };

export interface AttributeProto {
  readonly name: string;
  readonly value: AttributeValue;
}

export interface NodeProto {
  readonly name: string;
  readonly opType: string;
  /** "" = ai.onnx. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly AttributeProto[];
}

export interface GraphProto {
  readonly name: string;
  readonly nodes: readonly NodeProto[];
  readonly initializers: readonly TensorProto[];
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
  readonly valueInfo: readonly ValueInfoProto[];
}

export interface OperatorSetId {
  readonly domain: string;
  readonly version: number;
}

export interface ModelProto {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly opsetImports: readonly OperatorSetId[];
  readonly graph: GraphProto;
}

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  w.repeatedInt64(1, t.dims);
  w.int32(2, t.dataType);
  w.string(8, t.name);
  if ((t.rawData === undefined) === (t.externalData === undefined)) {
    throw new Error(`TensorProto ${t.name}: needs exactly one of rawData or externalData`);
  }
  if (t.rawData !== undefined) w.bytes(9, t.rawData);
  if (t.externalData !== undefined) {
    const entries: [string, string][] = [
      ['location', t.externalData.location],
      ['offset', String(t.externalData.offset)],
      ['length', String(t.externalData.length)],
    ];
    for (const [key, value] of entries) w.message(13, (e) => e.string(1, key).string(2, value));
    w.int32(14, 1); // data_location = EXTERNAL
  }
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int32(1, v.elemType);
      const shape = v.shape;
      if (shape !== null) {
        tensor.message(2, (s) => {
          for (const d of shape) {
            s.message(1, (dim) => (typeof d === 'number' ? dim.int64(1, d) : dim.string(2, d)));
          }
        });
      }
    }),
  );
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  w.string(1, a.name);
  const v = a.value;
  switch (v.kind) {
    case 'float': w.float(2, v.value); break;
    case 'int': w.int64(3, v.value); break;
    case 'string': w.string(4, v.value); break;
    case 'tensor': w.message(5, (t) => writeTensor(t, v.value)); break;
    case 'floats': w.repeatedFloat(7, v.value); break;
    case 'ints': w.repeatedInt64(8, v.value); break;
    default: {
      const never: never = v;
      throw new Error(`unknown attribute kind ${JSON.stringify(never)}`);
    }
  }
  w.int32(20, ATTR_TYPE[v.kind]);
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, (m) => writeAttribute(m, a));
  if (n.domain !== '') w.string(7, n.domain);
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
  for (const v of g.valueInfo) w.message(13, (m) => writeValueInfo(m, v));
}

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.int64(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, (g) => writeGraph(g, m.graph));
  for (const o of m.opsetImports) w.message(8, (s) => s.string(1, o.domain).int64(2, o.version));
  return w.finish();
}

/** Encodes a single TensorProto (e.g. for tests or attribute payloads). */
export function encodeTensor(t: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  writeTensor(w, t);
  return w.finish();
}
