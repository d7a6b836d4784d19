import { JsonSyntaxError, parseStrictJson } from '../../../companion/weights/strict-json';

describe('parseStrictJson', () => {
  test('parses what JSON.parse parses, with the same values', () => {
    const text = '{"a": [1, -2.5e3, 0, true, false, null], "s": "t\\u00e9\\n\\"\\\\\\/\\ud83d\\ude00", "o": {"": {}}, "e": []}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
  });

  test('"__proto__" is an ordinary key, not a prototype change', () => {
    const v = parseStrictJson('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((v as { polluted?: unknown }).polluted).toBeUndefined();
  });

  test.each([
    ['{"a": 1, "a": 2}', 'duplicate key "a" at character 9'],
    ['{"x": {"b": 1, "b": 1}}', 'duplicate key "b" at character 15'],
    ['{"a": 1,}', `expected '"' but found "}" at character 8`],
    ['{"a": 01}', `expected '}' but found "1" at character 7`],
    ['{"a": NaN}', 'unexpected "N" at character 6'],
    ['{"a": "\\x"}', 'bad escape "x" at character 8'],
    ['{"a": "\t"}', 'control character in string at character 7'],
    ['{"a": "open', 'unterminated string at character 11'],
    ['{} {}', 'unexpected "{" after the JSON value at character 3'],
    ['', 'unexpected end of text at character 0'],
    ['['.repeat(70), 'nesting deeper than 64 levels at character 65'],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseStrictJson(text)).toThrow(new JsonSyntaxError(message));
  });

  test("Python's non-finite numbers only when asked for", () => {
    expect(parseStrictJson('[NaN, Infinity, -Infinity, -1]', { allowNonFinite: true })).toEqual([NaN, Infinity, -Infinity, -1]);
    expect(() => parseStrictJson('[Infinity]')).toThrow(JsonSyntaxError);
  });
});
