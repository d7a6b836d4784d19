/**
 * GPT-2/CLIP byte-level alphabet: every UTF-8 byte becomes one printable character, so BPE works on bytes while
 * vocab.json stays readable. Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space,
 * 0x7F-0xA0, 0xAD) map to U+0100, U+0101, ... in byte order.
 */

function isPrintableLatin1(byte: number): boolean {
  return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
}

/** BYTE_SYMBOLS[b] is the one-character symbol of byte b. */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  const symbols: string[] = [];
  let next = 0x100;
  for (let byte = 0; byte < 256; byte++) {
    symbols.push(String.fromCharCode(isPrintableLatin1(byte) ? byte : next++));
  }
  return symbols;
})();

const encoder = new TextEncoder();

/** The byte-level symbols of `text`'s UTF-8 encoding, one string of length 1 per byte. */
export function toByteSymbols(text: string): string[] {
  const bytes = encoder.encode(text);
  const out = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = BYTE_SYMBOLS[bytes[i]!]!;
  return out;
}
