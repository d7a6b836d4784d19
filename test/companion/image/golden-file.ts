import * as fs from 'node:fs';

/** A tensor of a golden safetensors fixture: shape plus the raw values (uint8 or float32). */
export interface GoldenTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly u8: Uint8Array;
  readonly f32: Float32Array;
}

/** Minimal safetensors reader for test fixtures (header JSON + little-endian data). */
export function readGolden(file: string): Map<string, GoldenTensor> {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as
    Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, GoldenTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = new Uint8Array(buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]));
    const f32 = t.dtype === 'F32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : new Float32Array(0);
    if (t.dtype !== 'F32' && t.dtype !== 'U8') throw new Error(`${file}: ${name} has dtype ${t.dtype}, expected F32 or U8`);
    out.set(name, { shape: t.shape, dtype: t.dtype, u8: bytes, f32 });
  }
  return out;
}

export function tensor(m: Map<string, GoldenTensor>, name: string): GoldenTensor {
  const t = m.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t;
}
