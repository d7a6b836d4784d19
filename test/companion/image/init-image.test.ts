import { centredCoverCrop } from '../../../protocol';
import { fitInitImage, flattenOntoWhite, outputSizeFor } from '../../../companion/image/init-image';
import { pilResize } from '../../../companion/image/pil-resize';
import type { RgbaImage } from '../../../companion/image/rgba';

function image(width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 4);
  return { width, height, data };
}

describe('init image (img2img)', () => {
  test('opaque images pass through untouched; transparency is flattened onto white', () => {
    const opaque = image(4, 2, (x, y) => [x * 60, y * 100, 7, 255]);
    expect(flattenOntoWhite(opaque)).toBe(opaque);
    const cut = image(3, 1, (x) => [0, 100, 200, [0, 128, 255][x]!]);
    expect(Array.from(flattenOntoWhite(cut).data)).toEqual([
      255, 255, 255, 255, // fully transparent: white, whatever colour was stored
      127, 177, 227, 255, // half: (c·128 + 255·127) / 255
      0, 100, 200, 255,
    ]);
  });

  test('a different size is centre-cropped to the output aspect, then resized with Pillow Lanczos (never stretched)', () => {
    expect(centredCoverCrop(200, 100, 64, 64)).toEqual({ left: 50, top: 0, width: 100, height: 100 });
    expect(centredCoverCrop(100, 300, 64, 32)).toEqual({ left: 0, top: 125, width: 100, height: 50 });
    const src = image(200, 100, (x, y) => [x, y, (x * y) % 256, 255]);
    const out = fitInitImage(src, 64, 64);
    expect([out.width, out.height]).toEqual([64, 64]);
    // the same as cropping the middle square by hand and resizing it
    const crop = new Uint8Array(100 * 100 * 3);
    for (let y = 0; y < 100; y++) for (let x = 0; x < 100; x++) crop.set([50 + x, y, ((50 + x) * y) % 256], (y * 100 + x) * 3);
    const expected = pilResize({ width: 100, height: 100, channels: 3, data: crop }, 64, 64, 'lanczos').data;
    const rgb = Array.from(out.data).filter((_, i) => i % 4 !== 3);
    expect(rgb).toEqual(Array.from(expected));
    expect(out.data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
    // at the output size already: nothing is resampled
    const exact = image(64, 32, (x, y) => [x, y, 0, 255]);
    expect(fitInitImage(exact, 64, 32)).toBe(exact);
  });

  test('generate --init sizes the output from the image: the side given, else the long side; the other on the stride', () => {
    expect(outputSizeFor(1600, 900, {}, 1024, 32)).toEqual([1024, 576]);
    expect(outputSizeFor(900, 1600, {}, 1024, 32)).toEqual([576, 1024]);
    expect(outputSizeFor(1000, 1000, {}, 1024, 32)).toEqual([1024, 1024]);
    expect(outputSizeFor(4000, 10, {}, 1024, 32)).toEqual([1024, 32]); // at least one stride
    expect(outputSizeFor(128, 64, { width: 64 }, 1024, 32)).toEqual([64, 32]);
    expect(outputSizeFor(1600, 900, { height: 512 }, 1024, 32)).toEqual([896, 512]); // 910.2 → 896
  });
});
