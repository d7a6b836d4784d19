import type { RgbaImage } from './host';
import { HostError } from './host';

/** Expands chunky 8-bit RGB or RGBA data to RGBA (opaque alpha where the source had none). */
export function toRgba8(data: Uint8Array, width: number, height: number, components: number): RgbaImage {
  const pixels = width * height;
  if (components !== 3 && components !== 4) {
    throw new HostError(`Photoshop returned ${components}-component pixels; expected RGB (3) or RGBA (4).`);
  }
  if (data.length !== pixels * components) {
    throw new HostError(
      `Photoshop returned ${data.length} bytes for ${width}×${height}×${components}; expected ${pixels * components}.`,
    );
  }
  if (components === 4) return { width, height, data };
  const out = new Uint8Array(pixels * 4);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i * 4] = data[j]!;
    out[i * 4 + 1] = data[j + 1]!;
    out[i * 4 + 2] = data[j + 2]!;
    out[i * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/**
 * 8-bit values as Photoshop's 16-bit range (0..32768, the imaging API's default for 16-bit data), so
 * results written into a 16 bits/channel document keep their exact 8-bit levels.
 */
export function to16BitRange(data: Uint8Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round((data[i]! * 32768) / 255);
  return out;
}

/** A selection or mask read from Photoshop as 8-bit coverage 0..255 (16-bit data comes in the 0..32768 range). */
export function toMask8(data: Uint8Array | Uint16Array | Float32Array): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof Float32Array) throw new HostError('Photoshop returned a 32-bit selection; use an 8 or 16 bits/channel document.');
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, Math.round((data[i]! * 255) / 32768));
  return out;
}
