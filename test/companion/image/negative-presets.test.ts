import type { DropElement } from '../../../protocol';
import {
  brushworkDetail, colourField, composeNegative, DETAIL_GREY, greyscaleRec709, lightField, negativeStyleFromPreset,
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
    expect(() => negativeStyleFromPreset(img, 'color' as DropElement)).toThrow('--drop must be one of colour, texture, brushwork, lighting, got "color"');
    expect(negativeStyleFromPreset(img, 'texture').data[0]).toBe(greyscaleRec709(img).data[0]);
  });
});

/** Max |a − b| over the RGB channels; and whether every pixel is grey (R = G = B) and opaque. */
function maxDiff(a: RgbaImage, b: RgbaImage): number {
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) if (i % 4 !== 3) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  return worst;
}
function greyAndOpaque(img: RgbaImage): boolean {
  for (let p = 0; p < img.data.length; p += 4) {
    if (img.data[p] !== img.data[p + 1] || img.data[p] !== img.data[p + 2] || img.data[p + 3] !== 255) return false;
  }
  return true;
}

/** Light from the left (a luminance ramp) under red/blue strokes (8-px stripes) on a half-transparent layer. */
const lit = (w: number, h: number) => image(w, h, (x, y) => {
  const light = 40 + (160 * x) / (w - 1);
  const stroke = Math.floor(y / 8) % 2 ? 30 : -30;
  return [light + stroke, light, light - stroke, 128];
});

describe('drop lighting: the colour field in greyscale', () => {
  test('= greyscale(colourField): grey, opaque; keeps the light ramp, loses the strokes and the colour', () => {
    const img = lit(256, 128);
    const light = negativeStyleFromPreset(img, 'lighting');
    expect(Array.from(light.data)).toEqual(Array.from(greyscaleRec709(colourField(img)).data));
    expect(Array.from(light.data)).toEqual(Array.from(lightField(img).data));
    expect(greyAndOpaque(light)).toBe(true);
    const at = (x: number, y: number) => light.data[(y * 256 + x) * 4]!;
    expect(at(250, 64) - at(5, 64)).toBeGreaterThan(100); // the ramp: dark left, light right
    let across = 0; // the strokes (rows) are gone: no column varies by more than a level or two inside the image
    for (let y = 33; y < 96; y++) across = Math.max(across, Math.abs(at(128, y) - at(128, y - 1)));
    expect(across).toBeLessThanOrEqual(2);
  });
});

describe('drop brushwork: luminance detail on mid-grey', () => {
  test('grey, opaque; keeps the strokes, loses the light ramp and the colour', () => {
    const img = lit(256, 128);
    const detail = brushworkDetail(img);
    expect(Array.from(negativeStyleFromPreset(img, 'brushwork').data)).toEqual(Array.from(detail.data));
    expect(greyAndOpaque(detail)).toBe(true);
    const at = (x: number, y: number) => detail.data[(y * 256 + x) * 4]!;
    // strokes: luma of (±30, 0, ∓30) is ±(0.2126 − 0.0722)·30 ≈ ±4.2 around the light; kept around mid-grey
    const rowMeans = (y: number) => { let m = 0; for (let x = 64; x < 192; x++) m += at(x, y); return m / 128; };
    expect(Math.abs(rowMeans(12) - rowMeans(4))).toBeGreaterThan(6);
    // the ramp is gone: left and right halves have the same level within a level
    let left = 0;
    let right = 0;
    for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) { left += at(x + 32, y); right += at(x + 96, y); }
    expect(Math.abs(left - right) / (128 * 128)).toBeLessThan(1);
    expect(Math.abs((left + right) / (2 * 128 * 128) - DETAIL_GREY)).toBeLessThan(2);
  });

  test('texture ≈ lighting + brushwork − mid-grey (within rounding): each leaves out part of what texture does', () => {
    const img = lit(96, 64);
    const sum = lightField(img);
    const detail = brushworkDetail(img);
    const data = new Uint8Array(sum.data);
    for (let i = 0; i < data.length; i++) if (i % 4 !== 3) data[i] = sum.data[i]! + detail.data[i]! - DETAIL_GREY;
    expect(maxDiff({ ...sum, data }, greyscaleRec709(img))).toBeLessThanOrEqual(2);
  });

  test('a flat image gives flat mid-grey; a pure ramp (light only) gives almost no detail', () => {
    const flat = brushworkDetail(image(40, 30, () => [12, 200, 77, 255]));
    expect(new Set(Array.from(flat.data).filter((_, i) => i % 4 !== 3))).toEqual(new Set([DETAIL_GREY]));
    const ramp = brushworkDetail(image(256, 64, (x) => [x, x, x, 255]));
    let worst = 0;
    for (let y = 0; y < 64; y++) for (let x = 40; x < 216; x++) worst = Math.max(worst, Math.abs(ramp.data[(y * 256 + x) * 4]! - DETAIL_GREY));
    expect(worst).toBeLessThanOrEqual(2);
  });
});

describe('several elements: one negative carrying all of them', () => {
  const img = lit(96, 64);
  const rgbOf = (i: RgbaImage) => Array.from(i.data).filter((_, k) => k % 4 !== 3);

  test('colour + lighting = colour (colour brings its light); lighting + brushwork = texture in RGB; order does not matter', () => {
    expect(Array.from(negativeStyleFromPreset(img, ['colour', 'lighting']).data)).toEqual(Array.from(colourField(img).data));
    expect(Array.from(negativeStyleFromPreset(img, ['lighting', 'colour']).data)).toEqual(Array.from(colourField(img).data));
    expect(rgbOf(negativeStyleFromPreset(img, ['brushwork', 'lighting']))).toEqual(rgbOf(greyscaleRec709(img)));
    expect(Array.from(negativeStyleFromPreset(img, ['texture']).data)).toEqual(Array.from(negativeStyleFromPreset(img, 'texture').data));
  });

  test('colour + brushwork: the reference’s luminance with the colour field’s colour (opaque)', () => {
    const neg = composeNegative(img, ['colour', 'brushwork']);
    const grey = greyscaleRec709(img);
    const field = colourField(img);
    const fieldGrey = greyscaleRec709(field);
    const bad: number[] = [];
    for (let p = 0; p < neg.data.length; p += 4) {
      for (let c = 0; c < 3; c++) {
        const want = Math.min(255, Math.max(0, grey.data[p]! + field.data[p + c]! - fieldGrey.data[p]!));
        if (neg.data[p + c] !== want) bad.push(p / 4);
      }
      if (neg.data[p + 3] !== 255) bad.push(p / 4);
    }
    expect(bad).toEqual([]);
    // it differs from each single element's negative: it carries both
    expect(maxDiff(neg, negativeStyleFromPreset(img, 'colour'))).toBeGreaterThan(4);
    expect(maxDiff(neg, negativeStyleFromPreset(img, 'brushwork'))).toBeGreaterThan(4);
  });

  test('unknown elements and empty lists are refused naming what was given', () => {
    expect(() => negativeStyleFromPreset(img, ['colour', 'shape' as DropElement])).toThrow('--drop must be one of colour, texture, brushwork, lighting, got "shape"');
    expect(() => negativeStyleFromPreset(img, [])).toThrow('--drop must be one of colour, texture, brushwork, lighting, got []');
  });
});
