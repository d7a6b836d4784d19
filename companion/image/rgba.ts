/**
 * In-memory images shared by the whole engine: 8-bit, sRGB-encoded, straight (non-premultiplied)
 * alpha, rows top to bottom, pixels interleaved. Photoshop hands us RGBA; the networks see RGB.
 *
 * Decoding follows what the reference pipelines see when they open a file (PIL's Image.open /
 * OpenCV's imread): the stored 8-bit values, EXIF orientation applied, embedded ICC profiles NOT
 * applied. Alpha is never composited — PIL's `.convert('RGB')` (what CLIPImageProcessor does) and
 * `cv2.imread` (the official CLI) both simply drop it, keeping the colour stored under transparent
 * pixels. `dropAlpha` does the same so a transparent style image gives the reference's embeddings.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp, { type OutputInfo } from 'sharp';
import { codedErrorClass, type RgbaImage } from '../../protocol';

/** Largest accepted side: SDXL needs ≤ 4096, Photoshop documents may be bigger; beyond this is a mistake. */
export const MAX_IMAGE_SIDE = 16384;
/** Largest accepted pixel count (512 MiB of RGBA). */
export const MAX_IMAGE_PIXELS = 2 ** 27;

export type { RgbaImage };

/** The same without alpha: what PIL calls mode "RGB". */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width·height·3 bytes. */
  readonly data: Uint8Array;
}

export class ImageError extends codedErrorClass('ImageError', 'BAD_IMAGE') {}

/** Throws ImageError unless width×height is a usable image size; `what` names the image in the message. */
export function checkImageSize(width: number, height: number, what = 'image'): void {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new ImageError(`${what}: ${name} must be an integer, got ${String(v)}`);
    }
    if (v <= 0) throw new ImageError(`${what}: ${name} must be positive, got ${v}`);
    if (v > MAX_IMAGE_SIDE) {
      throw new ImageError(`${what}: ${name} ${v} exceeds the maximum side of ${MAX_IMAGE_SIDE} pixels`);
    }
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageError(
      `${what}: ${width}x${height} = ${width * height} pixels exceeds the maximum of ${MAX_IMAGE_PIXELS}`,
    );
  }
}

function checkPixelBuffer(
  width: number, height: number, data: unknown, channels: number, what: string,
): asserts data is Uint8Array {
  checkImageSize(width, height, what);
  if (!(data instanceof Uint8Array)) {
    throw new ImageError(`${what}: pixel data must be a Uint8Array, got ${Object.prototype.toString.call(data)}`);
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw new ImageError(
      `${what}: ${width}x${height}x${channels} needs ${expected} bytes, the buffer has ${data.length}`,
    );
  }
}

/** Validates an RgbaImage-shaped value (e.g. from the plugin) and returns it typed. */
export function validateRgbaImage(img: RgbaImage, what = 'image'): RgbaImage {
  checkPixelBuffer(img.width, img.height, img.data, 4, what);
  return img;
}

export function validateRgbImage(img: RgbImage, what = 'image'): RgbImage {
  checkPixelBuffer(img.width, img.height, img.data, 3, what);
  return img;
}

/** A new image filled with one RGBA colour (default opaque black). */
export function createRgbaImage(
  width: number, height: number, fill: readonly [number, number, number, number] = [0, 0, 0, 255],
): RgbaImage {
  checkImageSize(width, height);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = fill[0]; data[i + 1] = fill[1]; data[i + 2] = fill[2]; data[i + 3] = fill[3];
  }
  return { width, height, data };
}

/** RGBA → RGB by discarding alpha, exactly PIL's `Image.convert('RGB')` on an RGBA image (no compositing). */
export function dropAlpha(img: RgbaImage): RgbImage {
  validateRgbaImage(img);
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const src = img.data;
  for (let p = 0, q = 0; p < n * 4; p += 4, q += 3) {
    out[q] = src[p]!; out[q + 1] = src[p + 1]!; out[q + 2] = src[p + 2]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/** RGB → opaque RGBA. */
export function addOpaqueAlpha(img: RgbImage): RgbaImage {
  validateRgbImage(img);
  const n = img.width * img.height;
  const out = new Uint8Array(n * 4);
  const src = img.data;
  for (let p = 0, q = 0; q < n * 4; p += 3, q += 4) {
    out[q] = src[p]!; out[q + 1] = src[p + 1]!; out[q + 2] = src[p + 2]!; out[q + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * Decodes PNG/JPEG/WebP (anything sharp reads) from memory to 8-bit RGBA. `what` names the source in
 * errors. Greyscale is replicated to RGB, palettes expanded, 16-bit scaled to 8-bit, missing alpha = 255.
 */
export async function decodeImage(bytes: Uint8Array, what = 'image'): Promise<RgbaImage> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    const input = sharp(bytes, {
      // PIL and cv2.imread apply no ICC profile; the references see the stored values.
      ignoreIcc: true,
      // diffusers' load_image applies exif_transpose and cv2.imread honours EXIF orientation too.
      autoOrient: true,
      limitInputPixels: MAX_IMAGE_PIXELS,
      failOn: 'error',
    });
    raw = await input
      .toColourspace('srgb')
      .ensureAlpha(1)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageError(`${what}: cannot decode image (${(e as Error).message})`);
  }
  const { width, height, channels } = raw.info;
  if (channels !== 4) throw new ImageError(`${what}: decoder produced ${channels} channels, expected 4`);
  checkImageSize(width, height, what);
  const data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  return validateRgbaImage({ width, height, data }, what);
}

/** Reads and decodes an image file; every failure names the file. */
export async function readImageFile(file: string): Promise<RgbaImage> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw new ImageError(`${file}: cannot read image file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, file);
}

/** Lossless PNG of an RGBA image (alpha kept; fully opaque images are written as RGB to save space). */
export async function encodePng(img: RgbaImage): Promise<Buffer> {
  validateRgbaImage(img);
  let opaque = true;
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] !== 255) { opaque = false; break; }
  const src = opaque ? dropAlpha(img) : img;
  return sharp(src.data, { raw: { width: img.width, height: img.height, channels: opaque ? 3 : 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Writes a PNG atomically (temporary file + rename) so a failure never leaves a half-written file. */
export async function writePngFile(img: RgbaImage, file: string): Promise<void> {
  const png = await encodePng(img);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.promises.writeFile(tmp, png);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw new ImageError(`${file}: cannot write PNG (${(e as Error).message})`);
  }
}
