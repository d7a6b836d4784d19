/**
 * A strict JSON parser for untrusted headers: `JSON.parse` silently keeps the last of duplicate keys, which would
 * let two tensors claim one name. `parseStrictJson(text)` returns plain values (objects have no prototype, so a
 * key like "__proto__" is just a key) and throws JsonSyntaxError with a position and, for duplicates, the key.
 */
import { codedErrorClass } from '../../protocol';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export class JsonSyntaxError extends codedErrorClass('JsonSyntaxError', 'BAD_JSON_FILE') {}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export interface StrictJsonOptions {
  /** Accept Python's `NaN`, `Infinity`, `-Infinity` (json.dump writes them into config files). */
  readonly allowNonFinite?: boolean;
}

export function parseStrictJson(text: string, options: StrictJsonOptions = {}): JsonValue {
  let pos = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${pos}`);
  };
  const skipSpace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      pos++;
    }
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(`expected '${ch}' but found ${describe(text[pos])}`);
    pos++;
  };

  const parseString = (): string => {
    expect('"');
    let out = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text[pos++] as string;
      if (c === '"') return out;
      if (c === '\\') {
        const e = text[pos++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = text.slice(pos, pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            pos += 4;
            break;
          }
          default:
            pos--;
            fail(`bad escape ${describe(e)}`);
        }
      } else if (c.charCodeAt(0) < 0x20) {
        pos--;
        fail('control character in string');
      } else {
        out += c;
      }
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > 64) fail('nesting deeper than 64 levels');
    skipSpace();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj: JsonObject = Object.create(null) as JsonObject;
      const seen = new Set<string>();
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skipSpace();
        const keyAt = pos;
        const key = parseString();
        if (seen.has(key)) {
          pos = keyAt;
          fail(`duplicate key "${key}"`);
        }
        seen.add(key);
        skipSpace();
        expect(':');
        obj[key] = parseValue(depth + 1);
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect('}');
        return obj;
      }
    }
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(']');
        return arr;
      }
    }
    if (c === '"') return parseString();
    const words: [string, JsonValue][] = [['true', true], ['false', false], ['null', null]];
    if (options.allowNonFinite) words.push(['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]);
    for (const [word, value] of words) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m) {
      pos += m[0].length;
      return Number(m[0]);
    }
    return fail(`unexpected ${describe(c)}`);
  };

  const value = parseValue(0);
  skipSpace();
  if (pos < text.length) fail(`unexpected ${describe(text[pos])} after the JSON value`);
  return value;
}

function describe(ch: string | undefined): string {
  return ch === undefined ? 'end of text' : JSON.stringify(ch);
}
