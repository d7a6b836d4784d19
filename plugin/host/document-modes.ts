/**
 * Which documents the panel works on. The imaging API converts to and from sRGB 8-bit for RGB documents;
 * other modes either cannot hold pixel layers or convert unpredictably, so they are refused up front.
 */
const MODE_NAMES: Record<string, string> = {
  bitmapMode: 'Bitmap',
  CMYKColorMode: 'CMYK',
  duotoneMode: 'Duotone',
  grayscaleMode: 'Grayscale',
  indexedColorMode: 'Indexed Color',
  labColorMode: 'Lab',
  multichannelMode: 'Multichannel',
  RGBColorMode: 'RGB',
};

export const RGB_MODE = 'RGBColorMode';
export const SUPPORTED_DEPTHS = ['bitDepth8', 'bitDepth16'] as const;

/** null when the document can be used; otherwise the message to show, with the fix. */
export function documentRefusal(mode: string, bitsPerChannel: string): string | null {
  if (mode !== RGB_MODE) {
    const name = MODE_NAMES[mode] ?? mode;
    return `This document is in ${name} mode. StyleStudio works on RGB documents: choose Image › Mode › RGB Color (8 or 16 Bits/Channel), or work on an RGB copy.`;
  }
  if (bitsPerChannel === 'bitDepth32') {
    return 'This document is 32 bits per channel (HDR). Choose Image › Mode › 16 Bits/Channel or 8 Bits/Channel first.';
  }
  if (!(SUPPORTED_DEPTHS as readonly string[]).includes(bitsPerChannel)) {
    return `This document's bit depth (${bitsPerChannel}) is not supported. Use an RGB document with 8 or 16 bits per channel.`;
  }
  return null;
}
