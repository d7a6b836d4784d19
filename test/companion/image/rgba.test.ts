import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  addOpaqueAlpha, checkImageSize, createRgbaImage, decodeImage, dropAlpha, encodePng, ImageError,
  MAX_IMAGE_SIDE, readImageFile, validateRgbaImage, writePngFile,
} from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';

describe('image size and buffer validation', () => {
  test.each([
    [0, 4, /width must be positive, got 0/],
    [4, -2, /height must be positive, got -2/],
    [2.5, 4, /width must be an integer, got 2.5/],
    [4, Number.NaN, /height must be an integer, got NaN/],
    [MAX_IMAGE_SIDE + 1, 4, /width 16385 exceeds the maximum side/],
    [16384, 16384, /exceeds the maximum of \d+/],
  ])('%p x %p is rejected', (w, h, msg) => {
    expect(() => checkImageSize(w, h, 'style image')).toThrow(ImageError);
    expect(() => checkImageSize(w, h, 'style image')).toThrow(msg);
    expect(() => checkImageSize(w, h, 'style image')).toThrow(/^style image: /);
  });

  test('byte count mismatch names both counts', () => {
    expect(() => validateRgbaImage({ width: 3, height: 2, data: new Uint8Array(23) }, 'layer'))
      .toThrow('layer: 3x2x4 needs 24 bytes, the buffer has 23');
    expect(() => validateRgbaImage({ width: 3, height: 2, data: [1, 2] as unknown as Uint8Array }))
      .toThrow(/pixel data must be a Uint8Array/);
  });

  test('dropAlpha keeps the colour under transparent pixels (PIL convert("RGB"))', () => {
    const img = { width: 2, height: 1, data: new Uint8Array([10, 20, 30, 0, 40, 50, 60, 128]) };
    expect(Array.from(dropAlpha(img).data)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(Array.from(addOpaqueAlpha(dropAlpha(img)).data)).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
  });
});

describe('decode / encode', () => {
  test('golden style.png decodes to its stored pixels (same bytes as PIL)', async () => {
    const img = await readImageFile(fixture('golden', 'style.png'));
    expect([img.width, img.height]).toEqual([320, 256]);
    const meta = JSON.parse(fs.readFileSync(fixture('image', 'image_goldens.json'), 'utf8')) as
      { styles: Record<string, { decoded_rgb_sha256: string }> };
    // sha256 of np.array(Image.open('style.png').convert('RGB')), written by tools/golden/image.py
    const rgb = dropAlpha(img).data;
    expect(crypto.createHash('sha256').update(rgb).digest('hex')).toBe(meta.styles['style.png']!.decoded_rgb_sha256);
    expect(img.data.every((v, i) => i % 4 !== 3 || v === 255)).toBe(true);
  });

  test('PNG round trip is lossless, with and without alpha', async () => {
    const img = createRgbaImage(5, 3, [1, 2, 3, 255]);
    img.data[7] = 17; // one translucent pixel
    img.data[8] = 250;
    const back = await decodeImage(await encodePng(img), 'roundtrip');
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    const opaque = createRgbaImage(4, 4, [200, 100, 50, 255]);
    const meta = await sharp(await encodePng(opaque)).metadata();
    expect(meta.channels).toBe(3);
    expect(Buffer.from((await decodeImage(await encodePng(opaque))).data).equals(Buffer.from(opaque.data))).toBe(true);
  });

  test('greyscale, grey+alpha, 16-bit and JPEG/WebP come out as 8-bit RGBA', async () => {
    const grey = await sharp(Buffer.from([10, 200, 30, 40]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    expect(Array.from((await decodeImage(grey)).data.slice(0, 8))).toEqual([10, 10, 10, 255, 200, 200, 200, 255]);
    const ga = await sharp(Buffer.from([10, 0, 200, 128]), { raw: { width: 2, height: 1, channels: 2 } })
      .toColourspace('b-w').png().toBuffer();
    expect(Array.from((await decodeImage(ga)).data)).toEqual([10, 10, 10, 0, 200, 200, 200, 128]);
    const rgb = Buffer.from([0, 1, 2, 127, 128, 129, 250, 254, 255]);
    const png16 = await sharp(rgb, { raw: { width: 3, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect(Array.from((await decodeImage(png16)).data)).toEqual([0, 1, 2, 255, 127, 128, 129, 255, 250, 254, 255, 255]);
    const flat = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 40, b: 90 } } });
    for (const buf of [await flat.clone().jpeg({ quality: 95 }).toBuffer(), await flat.clone().webp({ lossless: true }).toBuffer()]) {
      const img = await decodeImage(buf);
      expect([img.width, img.height, img.data.length]).toEqual([16, 16, 1024]);
      expect(Math.abs(img.data[0]! - 200)).toBeLessThanOrEqual(2);
      expect(img.data[3]).toBe(255);
    }
  });

  test('EXIF orientation is applied and embedded ICC profiles are not (as PIL + exif_transpose see it)', async () => {
    const raw = Buffer.alloc(4 * 2 * 3);
    raw[0] = 255; // red top-left of a 4x2 image stored with orientation 6 (rotate 90° clockwise)
    const png = await sharp(raw, { raw: { width: 4, height: 2, channels: 3 } }).withMetadata({ orientation: 6 }).png().toBuffer();
    const img = await decodeImage(png);
    expect([img.width, img.height]).toEqual([2, 4]);
    expect(Array.from(img.data.subarray(4, 8))).toEqual([255, 0, 0, 255]); // now at (x=1, y=0)
    const colour = Buffer.alloc(4 * 4 * 3);
    for (let i = 0; i < 16; i++) colour.set([200, 50, 90], i * 3);
    const p3 = await sharp(colour, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    // stored Display-P3 values; PIL 13 reads [184, 63, 91] from this file, colour-managed would be [200, 50, 90]
    expect(Array.from((await decodeImage(p3)).data.subarray(0, 4))).toEqual([184, 63, 91, 255]);
  });

  test('errors name the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rgba-'));
    try {
      const bad = path.join(dir, 'not-an-image.png');
      fs.writeFileSync(bad, 'hello');
      await expect(readImageFile(bad)).rejects.toThrow(`${bad}: cannot decode image`);
      await expect(readImageFile(path.join(dir, 'missing.png'))).rejects.toThrow(/missing\.png: cannot read image file \(ENOENT\)/);
      const out = path.join(dir, 'out.png');
      await writePngFile(createRgbaImage(3, 2, [9, 8, 7, 255]), out);
      expect(fs.readdirSync(dir).sort()).toEqual(['not-an-image.png', 'out.png']);
      expect((await readImageFile(out)).data[0]).toBe(9);
      await expect(writePngFile(createRgbaImage(1, 1), path.join(dir, 'no-such-dir', 'x.png')))
        .rejects.toThrow(/x\.png: cannot write PNG/);
      await expect(encodePng({ width: 2, height: 2, data: new Uint8Array(3) })).rejects.toThrow(/needs 16 bytes/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
