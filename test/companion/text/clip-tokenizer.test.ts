/**
 * Ids identical to transformers.CLIPTokenizer (goldens from tools/golden/tokenizer.py) for every prompt, unpadded
 * and padded to 77 and 16, for SDXL's tokenizer/ and tokenizer_2/ with the tiny golden vocabularies and the real
 * 49,408-token CLIP vocabulary, plus two other config layouts.
 */
import * as fs from 'node:fs';
import { ClipTokenizer } from '../../../companion/text/clip-tokenizer';
import { caseFolder, loadGoldens, unpackRealVocab } from './golden-fixtures';

const goldens = loadGoldens();
const real = unpackRealVocab();
afterAll(() => fs.rmSync(real.root, { recursive: true, force: true }));

test('the goldens cover at least 50 prompts and all six tokenizer folders', () => {
  expect(goldens.prompts.length).toBeGreaterThanOrEqual(50);
  expect(Object.keys(goldens.cases).sort()).toEqual([
    'real/tokenizer',
    'real/tokenizer_2',
    'tiny/tokenizer',
    'tiny/tokenizer_2',
    'variant/added_tokens_decoder',
    'variant/no_config',
  ]);
});

describe.each(Object.keys(goldens.cases))('%s', (key) => {
  const golden = goldens.cases[key]!;
  let tokenizer: ClipTokenizer;
  beforeAll(async () => {
    tokenizer = await ClipTokenizer.fromFolder(caseFolder(key, real.root));
  });

  test('special ids, pad token, length limit and vocabulary size', () => {
    expect(tokenizer.bosId).toBe(golden.bos_id);
    expect(tokenizer.eosId).toBe(golden.eos_id);
    expect(tokenizer.padId).toBe(golden.pad_id);
    expect(tokenizer.padToken).toBe(golden.pad_token);
    expect(tokenizer.modelMaxLength).toBe(golden.model_max_length);
    expect(tokenizer.vocabSize).toBe(golden.vocab_size);
  });

  test.each(goldens.prompts.map((prompt, index) => [index, JSON.stringify(prompt).slice(0, 50), prompt] as const))(
    'prompt %i %s',
    (index, _label, prompt) => {
      expect(tokenizer.encode(prompt)).toEqual(golden.unpadded[index]);
      expect(Array.from(tokenizer.encodePadded(prompt, 77))).toEqual(golden.padded77[index]);
      expect(Array.from(tokenizer.encodePadded(prompt, 16))).toEqual(golden.padded16[index]);
    },
  );

  test('int64 ids equal the int32 ones', () => {
    const prompt = goldens.prompts[4]!;
    expect(tokenizer.encodePaddedInt64(prompt, 77)).toEqual(BigInt64Array.from(golden.padded77[4]!, (id) => BigInt(id)));
  });
});

test('the rebuilt vocabulary gives the widely published CLIP ids of "a photo of a cat"', async () => {
  // Independent of our goldens: these ids appear in countless CLIP examples made with the hub's real vocab.json.
  const tokenizer = await ClipTokenizer.fromFolder(real.folder('tokenizer'));
  expect(tokenizer.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  expect(tokenizer.vocabSize).toBe(49408);
});

describe('lengths', () => {
  test('without a length argument encodePadded uses model_max_length (77 in SDXL)', async () => {
    const tokenizer = await ClipTokenizer.fromFolder(caseFolder('tiny/tokenizer_2', real.root));
    const ids = tokenizer.encodePadded('A red apple');
    expect(ids).toBeInstanceOf(Int32Array);
    expect(Array.from(ids)).toEqual(goldens.cases['tiny/tokenizer_2']!.padded77[0]);
    expect(tokenizer.encodePaddedInt64('A red apple')).toHaveLength(77);
  });

  test('a prompt far over the limit keeps BOS first and EOS last, with no padding', async () => {
    const tokenizer = await ClipTokenizer.fromFolder(real.folder('tokenizer'));
    const ids = tokenizer.encodePadded('cat '.repeat(200), 77);
    expect(ids[0]).toBe(tokenizer.bosId);
    expect(ids[76]).toBe(tokenizer.eosId);
    expect(Array.from(ids.subarray(1, 76)).every((id) => id !== tokenizer.eosId)).toBe(true);
  });

  test('a folder without model_max_length needs an explicit length', async () => {
    const tokenizer = await ClipTokenizer.fromFolder(caseFolder('variant/no_config', real.root));
    expect(() => tokenizer.encodePadded('a')).toThrow(/no model_max_length; pass maxLength explicitly/);
    expect(Array.from(tokenizer.encodePadded('a', 4))).toEqual([721, 320, 722, 722]);
  });

  test('lengths below 2 (no room for BOS and EOS) or fractional are refused', async () => {
    const tokenizer = await ClipTokenizer.fromFolder(caseFolder('tiny/tokenizer', real.root));
    expect(() => tokenizer.encodePadded('a', 1)).toThrow(RangeError);
    expect(() => tokenizer.encodePadded('a', 7.5)).toThrow(/maxLength must be an integer >= 2/);
    expect(Array.from(tokenizer.encodePadded('a red apple', 2))).toEqual([721, 722]);
  });
});
