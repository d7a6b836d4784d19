import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../../../companion/weights/errors';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { fixture } from '../../helpers/paths';
import { buildSafetensors, bytesAt, f32, scratchFolder } from './safetensors-writer';


const scratch = scratchFolder('st');
const write = scratch.write;

describe('readSafetensors', () => {
  test('resolves every tensor to an absolute offset whose bytes are the tensor', () => {
    const bytes = buildSafetensors(
      {
        'a.weight': { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3, 4) },
        'a.bias': { dtype: 'F16', shape: [3], data: Buffer.from([0, 60, 0, 64, 0, 66]) },
        flag: { dtype: 'BOOL', shape: [1], data: Buffer.from([1]) },
        'b.bf16': { dtype: 'BF16', shape: [1, 1], data: Buffer.from([0x80, 0x3f]) },
        i64: { dtype: 'I64', shape: [1], data: Buffer.alloc(8, 7) },
        f64: { dtype: 'F64', shape: [], data: Buffer.alloc(8, 1) },
        i32: { dtype: 'I32', shape: [1], data: Buffer.alloc(4, 2) },
        i16: { dtype: 'I16', shape: [1], data: Buffer.alloc(2, 3) },
        i8: { dtype: 'I8', shape: [1], data: Buffer.alloc(1, 4) },
        u8: { dtype: 'U8', shape: [2], data: Buffer.from([5, 6]) },
        empty: { dtype: 'F32', shape: [0, 3], data: Buffer.alloc(0) },
      },
      { format: 'pt' },
    );
    const file = write('good.safetensors', bytes);
    const st = readSafetensors(file);
    expect(st.file).toBe(fs.realpathSync(file));
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors.keys()]).toEqual(['a.weight', 'a.bias', 'flag', 'b.bf16', 'i64', 'f64', 'i32', 'i16', 'i8', 'u8', 'empty']);
    const w = st.tensors.get('a.weight')!;
    expect(w).toMatchObject({ key: 'a.weight', dtype: 'F32', shape: [2, 2], length: 16 });
    expect(Array.from(new Float32Array(new Uint8Array(bytes.subarray(w.offset, w.offset + w.length)).buffer))).toEqual([1, 2, 3, 4]);
    const h = st.tensors.get('a.bias')!;
    expect(bytes.subarray(h.offset, h.offset + h.length)).toEqual(Buffer.from([0, 60, 0, 64, 0, 66]));
    expect(st.tensors.get('f64')).toMatchObject({ shape: [], length: 8 });
    // u8 is the last tensor with bytes ("empty" holds none), so it ends exactly at the end of the file.
    expect(st.tensors.get('u8')!.offset + 2).toBe(bytes.length);
  });

  test('accepts an unpadded header (MLX writes them), giving odd offsets', () => {
    const header = JSON.stringify({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, y: { dtype: 'F32', shape: [1], data_offsets: [1, 5] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const file = write('odd.safetensors', Buffer.concat([len, Buffer.from(header), Buffer.from([9]), f32(2.5)]));
    const y = readSafetensors(file).tensors.get('y')!;
    expect(y.offset).toBe(8 + header.length + 1);
    expect(fs.readFileSync(file).readFloatLE(y.offset)).toBe(2.5);
  });

  test('TensorRef.file is the realpath when opened through a symlink', () => {
    const real = write('real.safetensors', buildSafetensors({ t: { dtype: 'F32', shape: [1], data: f32(1) } }));
    const link = path.join(scratch.dir(), 'link.safetensors');
    fs.symlinkSync(real, link);
    const st = readSafetensors(link);
    expect(st.file).toBe(fs.realpathSync(real));
    expect(st.given).toBe(link);
    expect(st.tensors.get('t')!.file).toBe(fs.realpathSync(real));
  });
});

test('errors are WeightFileError with the file', () => {
  const missing = path.join(scratch.dir(), 'nothing.safetensors');
  try {
    readSafetensors(missing);
    throw new Error('no error');
  } catch (e) {
    expect(e).toBeInstanceOf(WeightFileError);
    expect((e as WeightFileError).file).toBe(missing);
    expect((e as Error).message).toBe(`${missing}: file not found`);
  }
});

test('the sha256 of every fixture safetensors tensor, read at its TensorRef, matches the Python safetensors reader', () => {
  const digests = JSON.parse(fs.readFileSync(fixture('weights', 'safetensors-digests.json'), 'utf8')) as
    Record<string, Record<string, { dtype: string; shape: number[]; sha256: string }>>;
  const torchDType: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64' };
  let count = 0;
  for (const [rel, tensors] of Object.entries(digests)) {
    const st = readSafetensors(fixture(...rel.split('/')));
    expect([...st.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [key, want] of Object.entries(tensors)) {
      const ref = st.tensors.get(key)!;
      expect({ key, dtype: ref.dtype, shape: ref.shape }).toEqual({ key, dtype: torchDType[want.dtype], shape: want.shape });
      expect(crypto.createHash('sha256').update(bytesAt(ref)).digest('hex')).toBe(want.sha256);
      count++;
    }
  }
  expect(count).toBeGreaterThan(300);
});
