/** Broken tokenizer folders: every problem is reported naming the file and what is wrong. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClipTokenizer, TokenizerFileError } from '../../../companion/text/clip-tokenizer';
import { fixture } from '../../helpers/paths';

const FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-broken-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A copy of sdxl-tiny/tokenizer_2 with `edit` applied to some of its files (undefined deletes the file). */
function brokenFolder(edit: Record<string, string | undefined>): string {
  const dir = path.join(root, `case${counter++}`);
  fs.mkdirSync(dir);
  for (const name of FILES) {
    const content = name in edit ? edit[name] : fs.readFileSync(fixture('sdxl-tiny', 'tokenizer_2', name), 'utf8');
    if (content !== undefined) fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const original = (name: string): string => fs.readFileSync(fixture('sdxl-tiny', 'tokenizer_2', name), 'utf8');
const config = (): Record<string, unknown> => JSON.parse(original('tokenizer_config.json')) as Record<string, unknown>;

async function expectFileError(dir: string, file: string, message: RegExp): Promise<void> {
  const error = await ClipTokenizer.fromFolder(dir).then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(TokenizerFileError);
  expect((error as TokenizerFileError).file).toBe(path.join(dir, file));
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message).toContain(path.join(dir, file));
}

const cases: Array<[string, Record<string, string | undefined>, string, RegExp]> = [
  ['missing vocab.json', { 'vocab.json': undefined }, 'vocab.json', /missing \(the CLIP tokenizer vocabulary\)/],
  ['missing merges.txt', { 'merges.txt': undefined }, 'merges.txt', /missing \(the CLIP tokenizer BPE merges\)/],
  ['vocab.json not JSON', { 'vocab.json': '{"a": 1,' }, 'vocab.json', /invalid JSON/],
  ['vocab.json an array', { 'vocab.json': '["a", "b"]' }, 'vocab.json', /expected a JSON object/],
  ['vocab.json empty object', { 'vocab.json': '{}' }, 'vocab.json', /vocabulary is empty/],
  ['vocab id not an integer', { 'vocab.json': '{"a": 0, "b": "1"}' }, 'vocab.json', /token "b" has id "1", expected a non-negative integer/],
  ['vocab id negative', { 'vocab.json': '{"a": 0, "b": -1}' }, 'vocab.json', /token "b" has id -1/],
  ['vocab duplicate id', { 'vocab.json': '{"a": 0, "b": 0}' }, 'vocab.json', /tokens "a" and "b" both have id 0/],
  ['merges only a header', { 'merges.txt': '#version: 0.2\n' }, 'merges.txt', /no merges/],
  ['merges line with three parts', { 'merges.txt': '#version: 0.2\ni n\na t x\n' }, 'merges.txt', /line 3: expected two symbols/],
  ['merges blank line inside', { 'merges.txt': '#version: 0.2\ni n\n\na t\n' }, 'merges.txt', /line 3: expected two symbols/],
  ['merges symbol unknown', { 'merges.txt': '#version: 0.2\ni n\nzz q\n' }, 'merges.txt', /line 3: "zz" is not in vocab.json/],
  ['merges result unknown', { 'merges.txt': '#version: 0.2\nq z\n' }, 'merges.txt', /line 2: "qz" is not in vocab.json/],
  ['tokenizer_config.json not JSON', { 'tokenizer_config.json': 'model_max_length: 77' }, 'tokenizer_config.json', /invalid JSON/],
  [
    'pad token not in the vocabulary',
    { 'tokenizer_config.json': JSON.stringify({ ...config(), pad_token: '<pad>' }), 'special_tokens_map.json': undefined },
    'tokenizer_config.json',
    /pad_token "<pad>" is not in .*vocab\.json/,
  ],
  [
    'special_tokens_map.json pad token not in the vocabulary',
    { 'special_tokens_map.json': JSON.stringify({ pad_token: '<pad>' }) },
    'special_tokens_map.json',
    /pad_token "<pad>" is not in/,
  ],
  [
    'special token of the wrong type',
    { 'tokenizer_config.json': JSON.stringify({ ...config(), eos_token: 5 }) },
    'tokenizer_config.json',
    /eos_token: expected a string or an AddedToken object, got 5/,
  ],
  [
    'AddedToken without content',
    { 'special_tokens_map.json': JSON.stringify({ bos_token: { normalized: true } }) },
    'special_tokens_map.json',
    /bos_token: "content" must be a non-empty string/,
  ],
  [
    'unsupported lstrip',
    { 'special_tokens_map.json': JSON.stringify({ eos_token: { content: '<|endoftext|>', lstrip: true } }) },
    'special_tokens_map.json',
    /eos_token: "lstrip": true is not supported/,
  ],
  [
    'model_max_length not an integer',
    { 'tokenizer_config.json': JSON.stringify({ ...config(), model_max_length: '77' }) },
    'tokenizer_config.json',
    /model_max_length: expected an integer >= 2, got "77"/,
  ],
  [
    'added_tokens_decoder id disagrees with vocab.json',
    {
      'tokenizer_config.json': JSON.stringify({
        ...config(),
        added_tokens_decoder: { '5': { content: '<|endoftext|>', normalized: false, special: true } },
      }),
    },
    'tokenizer_config.json',
    /added_tokens_decoder.5 "<\|endoftext\|>" has id 722 in vocab.json/,
  ],
];

test.each(cases)('%s', async (_name, edit, file, message) => {
  await expectFileError(brokenFolder(edit), file, message);
});

test('a folder that does not exist names vocab.json', async () => {
  const dir = path.join(root, 'nowhere');
  await expectFileError(dir, 'vocab.json', /missing/);
});

test('the unbroken copy loads (the cases above break only what they say)', async () => {
  const tokenizer = await ClipTokenizer.fromFolder(brokenFolder({}));
  expect(tokenizer.padId).toBe(0);
});

test('a missing special_tokens_map.json falls back to tokenizer_config.json', async () => {
  const tokenizer = await ClipTokenizer.fromFolder(brokenFolder({ 'special_tokens_map.json': undefined }));
  expect(tokenizer.padToken).toBe('!');
  expect(Array.from(tokenizer.encodePadded('hi!', 6))).toEqual([721, 71, 328, 0, 722, 0]);
});
