/** Test helper: reads golden tensors (values, not references) from a small safetensors file in test/fixtures. */
import * as fs from 'node:fs';

export interface GoldenTensor {
  readonly dtype: string;
  readonly shape: number[];
  readonly data: Float32Array | BigInt64Array;
}

export function readGolden(file: string): Map<string, GoldenTensor> {
  const buf = fs.readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  const out = new Map<string, GoldenTensor>();
  for (const [key, t] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const bytes = buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer; // aligned copy
    let data: Float32Array | BigInt64Array;
    if (t.dtype === 'F32') data = new Float32Array(copy);
    else if (t.dtype === 'I64') data = new BigInt64Array(copy);
    else throw new Error(`${file}: golden ${key} has dtype ${t.dtype}, not handled by the test reader`);
    out.set(key, { dtype: t.dtype, shape: t.shape, data });
  }
  return out;
}

export function golden(tensors: Map<string, GoldenTensor>, key: string): GoldenTensor {
  const t = tensors.get(key);
  if (!t) throw new Error(`golden tensor ${key} missing`);
  return t;
}
