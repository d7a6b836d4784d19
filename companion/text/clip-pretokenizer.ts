/**
 * CLIP text normalisation and word splitting, as transformers 5's CLIPTokenizer configures its `tokenizers`
 * backend (models/clip/tokenization_clip.py):
 *   normalizer:    NFC (with the reference's Unicode tables, see reference-nfc.ts), then every \s+ run -> " ", then Lowercase (per code point, no final-sigma rule);
 *   pre-tokenizer: keep only the matches of
 *     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *   then ByteLevel(add_prefix_space=false, use_regex=true), whose GPT-2 regex leaves every piece above whole
 *   except the two special-token literals, which it splits into "<|", the word, "|>".
 * No ftfy, no HTML unescaping, no accent stripping (those belong to other CLIP tokenizers, not this reference).
 */
import { isLetter, isNumber, isWhitespace } from './char-class';
import { referenceNfc } from './reference-nfc';

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** The reference normalizer: NFC, whitespace runs collapsed to one space, then lowercase. */
export function normalizeClipText(text: string): string {
  const nfc = referenceNfc(text);
  let out = '';
  let inSpace = false;
  for (const ch of nfc) {
    const cp = ch.codePointAt(0)!;
    if (isWhitespace(cp)) {
      if (!inSpace) out += ' ';
      inSpace = true;
      continue;
    }
    inSpace = false;
    out += ch;
  }
  if (ASCII_ONLY.test(out)) return out.toLowerCase();
  // Rust's char::to_lowercase works one code point at a time: "Σ" at a word end stays "σ", never "ς".
  let lowered = '';
  for (const ch of out) lowered += ch.toLowerCase();
  return lowered;
}

const SPECIAL_LITERALS = ['<|startoftext|>', '<|endoftext|>'] as const;
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] as const;

/** Length in UTF-16 units of the code point at `i`. */
function width(cp: number): number {
  return cp > 0xffff ? 2 : 1;
}

/** Split normalized text into the words BPE sees (before byte-level mapping). */
export function splitClipWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    if (isWhitespace(cp)) {
      i += width(cp);
      continue;
    }
    // Alternatives in the order of the regex: the first one that matches at i wins.
    const literal = SPECIAL_LITERALS.find((s) => text.startsWith(s, i));
    if (literal !== undefined) {
      words.push('<|', literal.slice(2, -2), '|>');
      i += literal.length;
      continue;
    }
    const contraction = CONTRACTIONS.find((s) => text.startsWith(s, i));
    if (contraction !== undefined) {
      words.push(contraction);
      i += contraction.length;
      continue;
    }
    if (!isLetter(cp) && isNumber(cp)) {
      // [\p{N}] takes one code point: "2024" is four words.
      words.push(String.fromCodePoint(cp));
      i += width(cp);
      continue;
    }
    const start = i;
    if (isLetter(cp)) {
      while (i < text.length) {
        const c = text.codePointAt(i)!;
        if (!isLetter(c)) break;
        i += width(c);
      }
    } else {
      while (i < text.length) {
        const c = text.codePointAt(i)!;
        if (isWhitespace(c) || isLetter(c) || isNumber(c)) break;
        i += width(c);
      }
    }
    words.push(text.slice(start, i));
  }
  return words;
}
