/**
 * A linear pre-check run before JSON.parse: a message nested deeper than any protocol message could be
 * (JSON.parse and the schemas recurse, so 100 000 `[` would overflow the stack) is refused unparsed.
 */

/** Deepest nesting of objects/arrays in a valid protocol message is 7 (`presets` with a preset's style layers); this leaves room for minor versions. */
export const MAX_JSON_DEPTH = 16;

/** True when the text opens more than `limit` nested arrays/objects at some point (strings are skipped). */
export function exceedsJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
