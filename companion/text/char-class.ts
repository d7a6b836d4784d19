/**
 * Character classes exactly as the reference CLIPTokenizer's regex engine sees them (see unicode-classes.ts for why
 * we do not use JavaScript's own \s / \p{L} / \p{N}).
 */
import { LETTER_RANGES, NFC_ACTIVE_RANGES, NUMBER_RANGES, WHITESPACE_RANGES } from './unicode-classes';

/** Membership test over flattened inclusive [first, last, first, last, ...] ranges, by binary search. */
function rangeSet(flat: readonly number[]): (cp: number) => boolean {
  const firsts = new Uint32Array(flat.length / 2);
  const lasts = new Uint32Array(flat.length / 2);
  for (let i = 0; i < firsts.length; i++) {
    firsts[i] = flat[2 * i]!;
    lasts[i] = flat[2 * i + 1]!;
  }
  return (cp: number): boolean => {
    let lo = 0;
    let hi = firsts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cp < firsts[mid]!) hi = mid - 1;
      else if (cp > lasts[mid]!) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

const inWhitespace = rangeSet(WHITESPACE_RANGES);
const inLetter = rangeSet(LETTER_RANGES);
const inNumber = rangeSet(NUMBER_RANGES);
const inNfcActive = rangeSet(NFC_ACTIVE_RANGES);

/** ASCII answers precomputed from the same tables: prompts are mostly ASCII. */
const ASCII_CLASS = new Uint8Array(128);
const WHITESPACE = 1;
const LETTER = 2;
const NUMBER = 3;
for (let cp = 0; cp < 128; cp++) {
  ASCII_CLASS[cp] = inWhitespace(cp) ? WHITESPACE : inLetter(cp) ? LETTER : inNumber(cp) ? NUMBER : 0;
}

/** Oniguruma's \s: the Unicode White_Space property (includes U+0085, excludes U+FEFF, unlike JavaScript's \s). */
export function isWhitespace(cp: number): boolean {
  return cp < 128 ? ASCII_CLASS[cp] === WHITESPACE : inWhitespace(cp);
}

/** \p{L} of the reference regex engine. */
export function isLetter(cp: number): boolean {
  return cp < 128 ? ASCII_CLASS[cp] === LETTER : inLetter(cp);
}

/** \p{N} of the reference regex engine. */
export function isNumber(cp: number): boolean {
  return cp < 128 ? ASCII_CLASS[cp] === NUMBER : inNumber(cp);
}

/** Whether the reference's NFC can decompose or reorder this code point (its Unicode tables are older than Node's). */
export function isNfcActiveInReference(cp: number): boolean {
  return inNfcActive(cp);
}
