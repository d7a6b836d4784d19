/**
 * A generic protobuf wire-format reader for tests: lets tests look inside the ONNX bytes the builder writes
 * (which op types, which external-data entries) without trusting the encoder's own data structures.
 */

export type ProtoField = { field: number; wire: number; varint?: bigint; bytes?: Uint8Array; fixed32?: number };

export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, varint: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ field, wire, fixed32: new DataView(buf.buffer, buf.byteOffset + pos, 4).getFloat32(0, true) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const text = new TextDecoder();
export const str = (f: ProtoField): string => text.decode(f.bytes);
export const sub = (fields: ProtoField[], n: number): ProtoField[] => fields.filter((f) => f.field === n);

export interface DecodedNode { name: string; opType: string; domain: string; inputs: string[]; outputs: string[] }
export interface DecodedInitializer { name: string; dims: number[]; dataType: number; external: Record<string, string>; rawLength: number }
export interface DecodedModel {
  irVersion: number;
  opsets: Record<string, number>;
  nodes: DecodedNode[];
  initializers: DecodedInitializer[];
  inputs: string[];
  outputs: string[];
}

/** Decodes the parts of an ONNX ModelProto the tests check. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const model = readFields(bytes);
  const graph = readFields(sub(model, 7)[0]!.bytes!);
  const opsets: Record<string, number> = {};
  for (const o of sub(model, 8)) {
    const f = readFields(o.bytes!);
    const domain = sub(f, 1)[0];
    opsets[domain ? str(domain) : ''] = Number(sub(f, 2)[0]!.varint);
  }
  const nodes = sub(graph, 1).map((n) => {
    const f = readFields(n.bytes!);
    const domain = sub(f, 7)[0];
    return {
      inputs: sub(f, 1).map(str),
      outputs: sub(f, 2).map(str),
      name: str(sub(f, 3)[0]!),
      opType: str(sub(f, 4)[0]!),
      domain: domain ? str(domain) : '',
    };
  });
  const initializers = sub(graph, 5).map((t) => {
    const f = readFields(t.bytes!);
    const external: Record<string, string> = {};
    for (const e of sub(f, 13)) {
      const kv = readFields(e.bytes!);
      external[str(sub(kv, 1)[0]!)] = str(sub(kv, 2)[0]!);
    }
    return {
      name: str(sub(f, 8)[0]!),
      dims: sub(f, 1).map((d) => Number(BigInt.asIntN(64, d.varint!))),
      dataType: Number(sub(f, 2)[0]!.varint),
      external,
      rawLength: sub(f, 9)[0]?.bytes?.length ?? 0,
    };
  });
  const names = (n: number) => sub(graph, n).map((v) => str(sub(readFields(v.bytes!), 1)[0]!));
  return { irVersion: Number(sub(model, 1)[0]!.varint), opsets, nodes, initializers, inputs: names(11), outputs: names(12) };
}
