/** Test helper: writes safetensors files byte by byte, so tests can also write broken ones. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { TensorRef } from '../../../companion/weights/tensor';

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** Raw little-endian bytes; their length sets data_offsets. */
  data: Buffer;
}

/** Encodes header JSON text + data buffer into a file image (header padded with spaces to 8 bytes, as the crate does). */
export function safetensorsBytes(headerJson: string, data: Buffer, pad = true): Buffer {
  let header = Buffer.from(headerJson, 'utf8');
  if (pad && header.length % 8 !== 0) header = Buffer.concat([header, Buffer.alloc(8 - (header.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, data]);
}

/** A well-formed file image for named tensors, laid out in the given order. */
export function buildSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    header[key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  return safetensorsBytes(JSON.stringify(header), Buffer.concat(Object.values(tensors).map((t) => t.data)));
}

export function f32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stylestudio-${prefix}-`));
}

/** tempDir whose folders are removed after the calling test file (call at module level). */
export function tempDirsRemovedAfterAll(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    made.push(dir);
    return dir;
  };
}

/** The bytes a TensorRef points at, read straight from its file. */
export function bytesAt(ref: TensorRef): Buffer {
  const out = Buffer.alloc(ref.length);
  const fd = fs.openSync(ref.file, 'r');
  try {
    fs.readSync(fd, out, 0, ref.length, ref.offset);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** A temporary folder for one test file (made before its tests, removed after) and a writer into it. */
export function scratchFolder(prefix: string): { readonly dir: () => string; write(name: string, bytes: Buffer): string } {
  let dir = '';
  beforeAll(() => {
    dir = tempDir(prefix);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    write(name, bytes) {
      const p = path.join(dir, name);
      fs.writeFileSync(p, bytes);
      return p;
    },
  };
}

const BYTES: Record<string, number> = { F16: 2, F32: 4, I64: 8 };

/** A safetensors file with the published tensors' header (a tools/realshape manifest) and no data written: a sparse file of the full size. */
export function sparseFromManifest(manifest: string, file: string): number {
  const { tensors } = JSON.parse(zlib.gunzipSync(fs.readFileSync(manifest)).toString('utf8')) as { tensors: [string, number[], string][] };
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, shape, dtype] of tensors) {
    const length = shape.reduce((a, b) => a * b, 1) * BYTES[dtype]!;
    header[key] = { dtype, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const head = safetensorsBytes(JSON.stringify(header), Buffer.alloc(0));
  fs.writeFileSync(file, head);
  fs.truncateSync(file, head.length + offset);
  return tensors.length;
}
