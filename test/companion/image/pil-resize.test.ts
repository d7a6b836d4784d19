import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { pilResampleTaps, pilResize, type PilFilter } from '../../../companion/image/pil-resize';
import { dropAlpha, readImageFile } from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';
import { readGolden, tensor } from './golden-file';

interface Case { kind: string; name: string; filter?: PilFilter; in_wh: [number, number]; out_wh: [number, number]; channels: number }
const meta = JSON.parse(fs.readFileSync(fixture('image', 'image_goldens.json'), 'utf8')) as {
  cases: Case[];
  styles: Record<string, { clip_resize_wh: [number, number]; clip_resize_sha256: string; decoded_rgb_sha256: string }>;
};
const golden = readGolden(fixture('image', 'image_goldens.safetensors'));
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

function countDiffs(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('pilResize is byte-identical to Pillow 13 Image.resize', () => {
  const pilCases = meta.cases.filter((c) => c.kind === 'pil');
  test('the fixture has many cases', () => expect(pilCases.length).toBeGreaterThanOrEqual(12));
  test.each(pilCases.map((c) => [`${c.name} ${c.in_wh.join('x')} -> ${c.out_wh.join('x')} ${c.filter} c${c.channels}`, c] as const))(
    '%s', (_label, c) => {
      const src = tensor(golden, `pil.${c.name}.src`).u8;
      const want = tensor(golden, `pil.${c.name}.dst`).u8;
      const img = { width: c.in_wh[0], height: c.in_wh[1], channels: c.channels, data: src };
      const got = pilResize(img, c.out_wh[0], c.out_wh[1], { filter: c.filter! });
      expect([got.width, got.height, got.data.length]).toEqual([c.out_wh[0], c.out_wh[1], want.length]);
      expect(countDiffs(got.data, want)).toBe(0);
      // Pillow <= 12 (always horizontal first) where that order gives different bytes
      const legacy = golden.get(`pil.${c.name}.dst_hfirst`) ?? { u8: want };
      const old = pilResize(img, c.out_wh[0], c.out_wh[1], { filter: c.filter!, passOrder: 'horizontal-first' });
      expect(countDiffs(old.data, legacy.u8)).toBe(0);
    });

  test('the fixture covers both pass orders, and they really differ', () => {
    const vFirst = pilCases.filter((c) => golden.has(`pil.${c.name}.dst_hfirst`));
    expect(vFirst.length).toBeGreaterThanOrEqual(2);
    for (const c of vFirst) {
      expect(countDiffs(tensor(golden, `pil.${c.name}.dst`).u8, tensor(golden, `pil.${c.name}.dst_hfirst`).u8)).toBeGreaterThan(0);
    }
  });

  test.each(Object.keys(meta.styles))('%s: PIL-identical shortest-side-224 bicubic resize', async (png) => {
    const s = meta.styles[png]!;
    const rgb = dropAlpha(await readImageFile(fixture('golden', png)));
    expect(sha(rgb.data)).toBe(s.decoded_rgb_sha256);
    const got = pilResize({ ...rgb, channels: 3 }, s.clip_resize_wh[0], s.clip_resize_wh[1]);
    expect(sha(got.data)).toBe(s.clip_resize_sha256);
  });
});

describe('pilResampleTaps', () => {
  test('coefficients of every output sum to 1.0 in fixed point (±rounding), support widens on downscale', () => {
    for (const [inSize, outSize] of [[100, 7], [7, 100], [256, 224], [33, 33]] as const) {
      const t = pilResampleTaps(inSize, outSize);
      for (let i = 0; i < outSize; i++) {
        let s = 0;
        for (let k = 0; k < t.ksize; k++) s += t.coeffs[i * t.ksize + k]!;
        expect(Math.abs(s - 2 ** 22)).toBeLessThanOrEqual(t.ksize);
        expect(t.start[i]! + t.count[i]!).toBeLessThanOrEqual(inSize);
      }
      const scale = Math.max(inSize / outSize, 1);
      expect(t.ksize).toBe(Math.ceil(2 * scale) * 2 + 1);
    }
  });

  test('same size is a copy; bad sizes are rejected', () => {
    const img = { width: 3, height: 2, channels: 3, data: new Uint8Array(18).map((_, i) => i * 13) };
    const out = pilResize(img, 3, 2);
    expect(Array.from(out.data)).toEqual(Array.from(img.data));
    expect(out.data).not.toBe(img.data);
    expect(() => pilResize(img, 0, 2)).toThrow(/output size must be positive integers, got 0x2/);
    expect(() => pilResize({ ...img, data: new Uint8Array(5) }, 2, 2)).toThrow(/needs 18 bytes, got 5/);
    expect(() => pilResize({ ...img, channels: 5 }, 2, 2)).toThrow(/channels must be 1..4/);
    expect(() => pilResize(img, 2, 2, 'nearest' as PilFilter)).toThrow(/unknown filter nearest/);
  });
});
