/**
 * File contents the tool writes, each with its exact size known before the first byte:
 *
 *   bytesContent(buf)                               a config / tokenizer file as it is
 *   safetensorsContent(tensors, metadata, values)   header as the safetensors library writes it (8-byte length,
 *                                                   `__metadata__` first, tensors in data order, JSON padded
 *                                                   with spaces to 8 bytes), then the tensors back to back
 *   torchBinContent(groups, values)                 a torch.save zip archive (torch-zip.ts)
 */
import type { DType } from '../../companion/weights/tensor';
import { DTYPE_BYTES } from '../../companion/weights/tensor';
import { TensorValues } from './values';

export interface TensorSpec {
  readonly key: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface FileContent {
  readonly size: number;
  /** Hands the file's bytes to `sink` in order (each buffer only valid during the call). */
  write(sink: (bytes: Buffer) => void): void;
}

/** A tensor's bytes, handed over in pieces (each only valid during the call). */
export interface ChunkSource {
  forEachChunk(sink: (bytes: Buffer) => void): void;
}

/** Makes the values of one tensor; `scope` keeps equal keys in different files apart. */
export type ValuesFor = (scope: string, spec: TensorSpec) => ChunkSource;

/** The seeded random values of values.ts. */
export function valuesFor(seed: number): ValuesFor {
  return (scope, spec) => new TensorValues(seed, scope, spec.key, spec.shape, spec.dtype);
}

export function bytesContent(buf: Buffer): FileContent {
  return { size: buf.length, write: (sink) => sink(buf) };
}

export function tensorBytes(spec: TensorSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[spec.dtype];
}

export function safetensorsHeader(tensors: readonly TensorSpec[], metadata: Readonly<Record<string, string>>): Buffer {
  // Built by hand rather than JSON.stringify of one object: JavaScript would move integer-like keys to the front.
  const parts = [`"__metadata__":${JSON.stringify(metadata)}`];
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.key)) throw new Error(`tensor ${t.key} is listed twice`);
    seen.add(t.key);
    const end = offset + tensorBytes(t);
    parts.push(`${JSON.stringify(t.key)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  let json = `{${parts.join(',')}}`;
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json, 'utf8')]);
}

export function safetensorsContent(tensors: readonly TensorSpec[], metadata: Readonly<Record<string, string>>, scope: string, values: ValuesFor): FileContent {
  const header = safetensorsHeader(tensors, metadata);
  const size = header.length + tensors.reduce((n, t) => n + tensorBytes(t), 0);
  return {
    size,
    write(sink) {
      sink(header);
      for (const t of tensors) values(scope, t).forEachChunk(sink);
    },
  };
}
