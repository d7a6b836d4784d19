import * as fs from 'node:fs';

/** One tensor of a golden .safetensors fixture, with its raw little-endian bytes. */
export interface FixtureTensor {
  readonly dtype: string;
  readonly shape: number[];
  readonly bytes: Buffer;
}

/** Reads every tensor of a small .safetensors file (tests only; fixtures are a few MB at most). */
export function readSafetensors(file: string): Map<string, FixtureTensor> {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out = new Map<string, FixtureTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    out.set(name, { dtype: info.dtype, shape: info.shape, bytes: buf.subarray(base + start, base + end) });
  }
  return out;
}

/** The tensor's float32 values (copied, so alignment does not matter). */
export function asFloat32(t: FixtureTensor): Float32Array {
  if (t.dtype !== 'F32') throw new Error(`expected F32, got ${t.dtype}`);
  return new Float32Array(new Uint8Array(t.bytes).buffer);
}

/** The tensor's float16 bit patterns. */
export function asFloat16Bits(t: FixtureTensor): Uint16Array {
  if (t.dtype !== 'F16') throw new Error(`expected F16, got ${t.dtype}`);
  return new Uint16Array(new Uint8Array(t.bytes).buffer);
}

/** The tensor's float64 values. */
export function asFloat64(t: FixtureTensor): Float64Array {
  if (t.dtype !== 'F64') throw new Error(`expected F64, got ${t.dtype}`);
  return new Float64Array(new Uint8Array(t.bytes).buffer);
}
