/**
 * NFC as the reference computes it. `tokenizers` normalizes with Unicode tables older than Node's ICU (about
 * Unicode 9): a combining mark or precomposed letter added since is, for the reference, an inert starter — it is
 * not reordered, not decomposed and composes with nothing. Node's String.prototype.normalize would reorder or
 * compose it, so such code points are kept out of Node's NFC: the text is cut at them and each piece between them
 * is normalized alone. For every code point the reference does know, Unicode's normalization stability makes
 * Node's result the reference's result.
 */
import { isNfcActiveInReference } from './char-class';

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Whether Node's NFC may touch `ch`: it decomposes, or canonical reordering moves it (it is a non-starter). */
function isNfcActiveInNode(ch: string): boolean {
  if (ch.normalize('NFD') !== ch) return true;
  // Reordering against U+0334 (ccc 1) and U+0301 (ccc 230) reveals every canonical combining class 1..254.
  const afterBase = `q${ch}\u0334`;
  const afterAcute = `q\u0301${ch}`;
  return afterBase.normalize('NFD') !== afterBase || afterAcute.normalize('NFD') !== afterAcute;
}

/** NFC with the code points in `inert` (and those the reference does not know) left alone as plain starters. */
function nfcAround(text: string, inert: ReadonlySet<number>): string {
  let out = '';
  let piece = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const keep = cp >= 0x80 && (inert.has(cp) || (!isNfcActiveInReference(cp) && isNfcActiveInNode(ch)));
    if (keep) {
      out += piece.normalize('NFC') + ch;
      piece = '';
    } else {
      piece += ch;
    }
  }
  return out + piece.normalize('NFC');
}

export function referenceNfc(text: string): string {
  if (ASCII_ONLY.test(text)) return text;
  const inert = new Set<number>();
  for (;;) {
    const out = nfcAround(text, inert);
    // Node may also compose two code points into a letter the reference does not know (new scripts' vowel signs):
    // then keep the first component of that letter out of the next attempt, so nothing composes with it.
    let grew = false;
    for (const ch of out) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x80 || isNfcActiveInReference(cp)) continue;
      const decomposed = ch.normalize('NFD');
      if (decomposed === ch) continue;
      const base = decomposed.codePointAt(0)!;
      if (!inert.has(base)) {
        inert.add(base);
        grew = true;
      }
    }
    if (!grew) return out;
  }
}
