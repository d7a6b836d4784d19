import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../../../companion/pipeline/npy';
import { fixture } from '../../helpers/paths';

describe('npy', () => {
  test('reads numpy-written float32 arrays with their shape and values', () => {
    const a = readNpy(fixture('npy', 'vector_7.npy'));
    expect(a.shape).toEqual([7]);
    expect(Array.from(a.data)).toEqual(Array.from(new Float32Array([0, 1, 2, 3, 4, 5, 6].map((x) => x / 3))));
    const l = readNpy(fixture('npy', 'latents_1x4x8x8.npy'));
    expect(l.shape).toEqual([1, 4, 8, 8]);
    expect(l.data.length).toBe(256);
  });

  test('what we write numpy layout-equal and reads back bit-exact', () => {
    const l = readNpy(fixture('npy', 'latents_1x4x8x8.npy'));
    const bytes = encodeNpy(l);
    expect(bytes.equals(fs.readFileSync(fixture('npy', 'latents_1x4x8x8.npy')))).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    const out = path.join(dir, 'x.npy');
    writeNpy(out, { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(readNpy(out)).toEqual({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(fs.readdirSync(dir)).toEqual(['x.npy']);
  });

  test.each([
    ['float64.npy', /dtype <f8 is not float32/],
    ['fortran.npy', /Fortran-ordered/],
  ])('refuses %s', (name, msg) => {
    expect(() => readNpy(fixture('npy', name))).toThrow(msg);
  });

  test('refuses bad magic, truncated data and missing files, naming the file', () => {
    expect(() => parseNpy(Buffer.from('hello world, not numpy'), 'a.npy')).toThrow(/a\.npy: not a \.npy file/);
    const good = fs.readFileSync(fixture('npy', 'vector_7.npy'));
    expect(() => parseNpy(good.subarray(0, good.length - 4), 'b.npy')).toThrow(/b\.npy: shape \(7\) needs 28 bytes of data, file has 24/);
    expect(() => readNpy('/nonexistent/c.npy')).toThrow(/c\.npy: cannot read \(ENOENT\)/);
  });
});
