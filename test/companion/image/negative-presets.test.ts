import {
  colourField, greyscaleRec709, negativeStyleFromPreset, type DropPreset,
} from '../../../companion/image/negative-presets';
import { readImageFile, type RgbaImage } from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';

function channelMeans(img: RgbaImage): number[] {
  const m = [0, 0, 0];
  for (let i = 0; i < img.data.length; i += 4) for (let c = 0; c < 3; c++) m[c]! += img.data[i + c]!;
  return m.map((v) => v / (img.width * img.height));
}

/** Anisotropic total variation of the RGB channels, per pixel. */
function totalVariation(img: RgbaImage): number {
  const { width: w, height: h, data } = img;
  let tv = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) {
        if (x + 1 < w) tv += Math.abs(data[p + 4 + c]! - data[p + c]!);
        if (y + 1 < h) tv += Math.abs(data[p + w * 4 + c]! - data[p + c]!);
      }
    }
  }
  return tv / (w * h);
}

function image(w: number, h: number, f: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 4);
  return { width: w, height: h, data };
}

describe('drop texture: Rec.709 greyscale', () => {
  test('R=G=B=round(0.2126R+0.7152G+0.0722B), alpha kept', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
    const img = image(17, 11, () => [rnd(), rnd(), rnd(), rnd()]);
    const g = greyscaleRec709(img);
    const bad: number[] = [];
    for (let p = 0; p < img.data.length; p += 4) {
      const luma = 0.2126 * img.data[p]! + 0.7152 * img.data[p + 1]! + 0.0722 * img.data[p + 2]!;
      const ok = g.data[p] === g.data[p + 1] && g.data[p + 1] === g.data[p + 2] &&
        Math.abs(g.data[p]! - luma) <= 0.5 && g.data[p + 3] === img.data[p + 3];
      if (!ok) bad.push(p / 4);
    }
    expect(bad).toEqual([]);
    const primaries = greyscaleRec709(image(3, 1, (x) => (x === 0 ? [255, 0, 0, 255] : x === 1 ? [0, 255, 0, 255] : [0, 0, 255, 255])));
    expect([primaries.data[0], primaries.data[4], primaries.data[8]]).toEqual([54, 182, 18]);
  });
});

describe('drop colour: blurred colour field', () => {
  test('on the golden style image: mean colour kept within 1/255, total variation down by >10x', async () => {
    const style = await readImageFile(fixture('golden', 'style.png'));
    const field = negativeStyleFromPreset(style, 'colour');
    expect([field.width, field.height]).toEqual([style.width, style.height]);
    const m0 = channelMeans(style);
    const m1 = channelMeans(field);
    for (let c = 0; c < 3; c++) expect(Math.abs(m1[c]! - m0[c]!)).toBeLessThanOrEqual(1);
    const tv0 = totalVariation(style);
    const tv1 = totalVariation(field);
    expect(tv0).toBeGreaterThan(10);
    expect(tv1 * 10).toBeLessThan(tv0);
  });

  test('a checkerboard becomes flat grey; a constant image is unchanged', () => {
    const board = image(64, 48, (x, y) => ((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    const field = colourField(board);
    expect(totalVariation(board)).toBeGreaterThan(100 * Math.max(totalVariation(field), 0.01));
    let worst = 0;
    for (let i = 0; i < field.data.length; i += 4) worst = Math.max(worst, Math.abs(field.data[i]! - 127.5));
    expect(worst).toBeLessThanOrEqual(1);
    const flat = image(30, 20, () => [12, 200, 77, 128]);
    const same = colourField(flat);
    const want = new Uint8Array(same.data.length);
    for (let i = 0; i < want.length; i += 4) want.set([12, 200, 77, 255], i);
    expect(Buffer.from(same.data).equals(Buffer.from(want))).toBe(true);
  });

  test('keeps the coarse layout of the palette, not just its mean', () => {
    const halves = image(256, 128, (x) => (x < 128 ? [230, 20, 20, 255] : [20, 20, 230, 255]));
    const field = colourField(halves);
    const px = (x: number, y: number) => Array.from(field.data.subarray((y * 256 + x) * 4, (y * 256 + x) * 4 + 3));
    const [lr, , lb] = px(5, 64);
    const [rr, , rb] = px(250, 64);
    expect(lr! - lb!).toBeGreaterThan(150);
    expect(rb! - rr!).toBeGreaterThan(150);
    // and the boundary is smooth: no step bigger than a few levels between neighbours
    let step = 0;
    for (let x = 1; x < 256; x++) step = Math.max(step, Math.abs(px(x, 64)[0]! - px(x - 1, 64)[0]!));
    expect(step).toBeLessThanOrEqual(6);
  });

  test('sigma 0 is the identity on RGB; unknown presets and bad sigmas are named', () => {
    const img = image(5, 4, (x, y) => [x * 40, y * 50, 7, 255]);
    expect(Array.from(colourField(img, 0).data)).toEqual(Array.from(img.data));
    expect(() => colourField(img, -1)).toThrow(/sigma must be a finite number ≥ 0, got -1/);
    expect(() => negativeStyleFromPreset(img, 'color' as DropPreset)).toThrow('--drop must be one of colour, texture, got "color"');
    expect(negativeStyleFromPreset(img, 'texture').data[0]).toBe(greyscaleRec709(img).data[0]);
  });
});
