/** The pieces of the tokenizer pipeline, checked against facts of the reference that the goldens rely on. */
import { BYTE_SYMBOLS, toByteSymbols } from '../../../companion/text/byte-level';
import { isLetter, isNumber, isWhitespace } from '../../../companion/text/char-class';
import { normalizeClipText, splitClipWords } from '../../../companion/text/clip-pretokenizer';
import { referenceNfc } from '../../../companion/text/reference-nfc';

describe('byte-level alphabet', () => {
  test('256 distinct one-character symbols; printable Latin-1 maps to itself', () => {
    expect(new Set(BYTE_SYMBOLS).size).toBe(256);
    expect(BYTE_SYMBOLS.every((s) => s.length === 1)).toBe(true);
    expect(BYTE_SYMBOLS[0x21]).toBe('!');
    expect(BYTE_SYMBOLS[0xe9]).toBe('é');
    expect(BYTE_SYMBOLS[0x00]).toBe('\u0100');
    expect(BYTE_SYMBOLS[0x20]).toBe('Ġ'); // space is the 33rd non-printable byte
    expect(BYTE_SYMBOLS[0xad]).toBe('Ń'); // the last one
  });

  test('symbols follow the UTF-8 bytes', () => {
    expect(toByteSymbols('é')).toEqual(['Ã', '©']);
    expect(toByteSymbols('—')).toEqual(['â', 'Ģ', 'Ķ']);
    expect(toByteSymbols('🐶')).toHaveLength(4);
  });
});

describe('character classes of the reference regex engine', () => {
  test('whitespace is Unicode White_Space: U+0085 yes, U+FEFF and U+200B no', () => {
    for (const cp of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]) {
      expect([cp, isWhitespace(cp)]).toEqual([cp, true]);
    }
    for (const cp of [0xfeff, 0x200b, 0x180e, 0x41, 0x1c, 0x1f]) expect([cp, isWhitespace(cp)]).toEqual([cp, false]);
  });

  test('letters and numbers', () => {
    expect(isLetter('a'.codePointAt(0)!)).toBe(true);
    expect(isLetter('桜'.codePointAt(0)!)).toBe(true);
    expect(isLetter('四'.codePointAt(0)!)).toBe(true); // Lo, not N
    expect(isNumber('四'.codePointAt(0)!)).toBe(false);
    expect(isNumber('½'.codePointAt(0)!)).toBe(true);
    expect(isNumber('Ⅷ'.codePointAt(0)!)).toBe(true);
    expect(isLetter('\u0301'.codePointAt(0)!)).toBe(false); // combining mark: punctuation-like
    // Unicode 16/17 letters the reference does not know yet (JavaScript's \p{L} does on recent Node)
    expect(isLetter(0xa7ce)).toBe(false);
    expect(isLetter(0x10940)).toBe(false);
  });
});

describe('normalisation', () => {
  test('NFC, whitespace runs to one space, lowercase', () => {
    expect(normalizeClipText('Cafe\u0301  AU\tLait\n')).toBe('café au lait ');
    expect(normalizeClipText('a\u0085b\ufeffc')).toBe('a b\ufeffc');
  });

  test('lowercase is per code point, like Rust char::to_lowercase (no final sigma)', () => {
    expect(normalizeClipText('ΣΑΣ')).toBe('σασ');
    expect(normalizeClipText('İ')).toBe('i\u0307');
  });

  test('no ftfy, no HTML unescaping, no NFKC', () => {
    expect(normalizeClipText('&amp; ﬁ ＡＢ cafÃ©')).toBe('&amp; ﬁ ａｂ cafã©');
  });
});

describe('NFC with the reference\'s (older) Unicode tables', () => {
  test('marks and letters the reference knows are normalized as usual', () => {
    expect(referenceNfc('Cafe\u0301 \u1112\u1161\u11ab a\u0323\u0302')).toBe('Café 한 ậ');
  });

  test('a mark newer than the reference is an inert starter: not reordered, and it blocks composition', () => {
    // Node alone would move U+09CD (ccc 9) before U+1ACF (ccc 220 since Unicode 15)
    expect('\u1acf\u09cd'.normalize('NFC')).toBe('\u09cd\u1acf');
    expect(referenceNfc('\u1acf\u09cd')).toBe('\u1acf\u09cd');
    expect(referenceNfc('e\u0301\u1acf\u0301')).toBe('é\u1acf\u0301');
  });

  test('letters newer than the reference neither decompose nor get composed', () => {
    expect(referenceNfc('\u{11935}\u{11930}')).toBe('\u{11935}\u{11930}'); // Node: U+11938
    expect(referenceNfc('\u{105c9}')).toBe('\u{105c9}');
    expect(referenceNfc('\u{105d2}\u0307')).toBe('\u{105d2}\u0307'); // Node: U+105C9
  });
});

describe('word splitting', () => {
  test('contractions, digits one by one, punctuation runs', () => {
    expect(splitClipWords("don't stop, it's 2024!!")).toEqual(['don', "'t", 'stop', ',', 'it', "'s", '2', '0', '2', '4', '!!']);
    expect(splitClipWords("''s (red:1.2)")).toEqual(["''", 's', '(', 'red', ':', '1', '.', '2', ')']);
  });

  test('special-token literals come out as "<|", word, "|>" (the byte-level regex splits them again)', () => {
    expect(splitClipWords('<|endoftext|>x')).toEqual(['<|', 'endoftext', '|>', 'x']);
    expect(splitClipWords('!<|endoftext|>')).toEqual(['!<|', 'endoftext', '|>']);
  });

  test('astral-plane characters are whole code points', () => {
    expect(splitClipWords('🔥🔥 a\u{10940}b')).toEqual(['🔥🔥', 'a', '\u{10940}', 'b']);
  });
});
