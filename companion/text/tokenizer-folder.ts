/**
 * Reading a diffusers `tokenizer/` or `tokenizer_2/` folder: vocab.json + merges.txt, and the special tokens of
 * tokenizer_config.json / special_tokens_map.json, resolved the way transformers 5 (`from_pretrained` +
 * `TokenizersBackend._post_init`) resolves them. Every problem is reported with the file and what is wrong.
 * A tokenizer.json in the folder is not read: SDXL's folders have none, and transformers builds the same CLIP
 * pipeline from vocab.json + merges.txt.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CodedError } from '../../protocol';

export class TokenizerFileError extends CodedError<'BAD_TOKENIZER_FILE'> {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super('BAD_TOKENIZER_FILE', `${file}: ${problem}`);
    this.name = 'TokenizerFileError';
  }
}

/** A token matched as a whole before BPE (transformers' AddedToken). */
export interface AddedToken {
  readonly content: string;
  readonly id: number;
  /**
   * true: matched in the normalized text (so "<|ENDOFTEXT|>" matches after lowercasing);
   * false: matched in the raw text, before normalisation.
   */
  readonly normalized: boolean;
}

export interface TokenizerFolder {
  readonly folder: string;
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** Every token split out before BPE, in the order transformers adds them (flags of the last addition win). */
  readonly addedTokens: readonly AddedToken[];
  readonly bos: AddedToken;
  readonly eos: AddedToken;
  readonly unk: AddedToken;
  readonly pad: AddedToken;
  /** tokenizer_config.json's model_max_length; null when absent (transformers then has no limit). */
  readonly modelMaxLength: number | null;
}

/** The special-token attributes in transformers' order (SPECIAL_TOKENS_ATTRIBUTES); the order decides ties. */
const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
type SpecialKey = (typeof SPECIAL_KEYS)[number];

/** CLIPTokenizer's constructor defaults, used for keys no config file sets. */
const CLIP_DEFAULTS: Partial<Record<SpecialKey, string>> = {
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
};

/** transformers' VERY_LARGE_INTEGER (int(1e30)) means "no limit". */
const NO_LIMIT_THRESHOLD = 1e29;

interface TokenSpec {
  readonly content: string;
  readonly normalized: boolean;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TokenizerFileError(file, `missing (${what})`);
    throw new TokenizerFileError(file, `cannot be read: ${(err as Error).message}`);
  }
}

async function readJsonObject(file: string, what: string): Promise<Record<string, unknown>> {
  const text = await readText(file, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenizerFileError(file, `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerFileError(file, 'expected a JSON object at the top level');
  }
  return value as Record<string, unknown>;
}

async function readOptionalJsonObject(file: string): Promise<Record<string, unknown> | null> {
  try {
    await fs.access(file);
  } catch {
    return null;
  }
  return readJsonObject(file, 'optional');
}

function parseVocab(file: string, json: Record<string, unknown>): Map<string, number> {
  const vocab = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const [token, id] of Object.entries(json)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw new TokenizerFileError(file, `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, expected a non-negative integer`);
    }
    const other = byId.get(id);
    if (other !== undefined) {
      throw new TokenizerFileError(file, `tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} both have id ${id}`);
    }
    byId.set(id, token);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerFileError(file, 'the vocabulary is empty');
  return vocab;
}

/**
 * merges.txt as the `tokenizers` BPE reader takes it: lines starting with "#version" are skipped, every other line
 * is exactly two symbols separated by one space; the rank of a merge is its index among those lines.
 */
function parseMerges(file: string, text: string, vocab: ReadonlyMap<string, number>): Array<[string, string]> {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line, it adds no line
  const merges: Array<[string, string]> = [];
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#version')) return;
    const where = `line ${index + 1}`;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(file, `${where}: expected two symbols separated by one space, got ${JSON.stringify(line)}`);
    }
    const [left, right] = parts as [string, string];
    for (const symbol of [left, right, left + right]) {
      if (!vocab.has(symbol)) {
        throw new TokenizerFileError(file, `${where}: ${JSON.stringify(symbol)} is not in vocab.json`);
      }
    }
    merges.push([left, right]);
  });
  if (merges.length === 0) throw new TokenizerFileError(file, 'no merges (only a header or an empty file)');
  return merges;
}

/** A special-token value: a string, or an AddedToken object ({"__type": "AddedToken", "content": ...}). */
function parseTokenSpec(file: string, key: string, value: unknown): TokenSpec | null {
  if (value === null || value === undefined) return null;
  // A token given as a plain string becomes AddedToken(special=True, normalized=False).
  if (typeof value === 'string') return { content: value, normalized: false };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerFileError(file, `${key}: expected a string or an AddedToken object, got ${JSON.stringify(value)}`);
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.content !== 'string' || obj.content === '') {
    throw new TokenizerFileError(file, `${key}: "content" must be a non-empty string`);
  }
  for (const flag of ['lstrip', 'rstrip', 'single_word'] as const) {
    if (obj[flag] !== undefined && typeof obj[flag] !== 'boolean') {
      throw new TokenizerFileError(file, `${key}: "${flag}" must be true or false`);
    }
    if (obj[flag] === true) {
      throw new TokenizerFileError(file, `${key}: "${flag}": true is not supported by this CLIP tokenizer`);
    }
  }
  if (obj.normalized !== undefined && typeof obj.normalized !== 'boolean') {
    throw new TokenizerFileError(file, `${key}: "normalized" must be true or false`);
  }
  // AddedToken's default is normalized = not special; special tokens are special.
  const special = obj.special === undefined ? true : obj.special === true;
  return { content: obj.content, normalized: obj.normalized === undefined ? !special : obj.normalized === true };
}

/** Load and check a diffusers tokenizer folder (`tokenizer/` or `tokenizer_2/` of an SDXL model). */
export async function readTokenizerFolder(folder: string): Promise<TokenizerFolder> {
  const vocabFile = path.join(folder, 'vocab.json');
  const mergesFile = path.join(folder, 'merges.txt');
  const configFile = path.join(folder, 'tokenizer_config.json');
  const specialMapFile = path.join(folder, 'special_tokens_map.json');

  const vocab = parseVocab(vocabFile, await readJsonObject(vocabFile, 'the CLIP tokenizer vocabulary'));
  const merges = parseMerges(mergesFile, await readText(mergesFile, 'the CLIP tokenizer BPE merges'), vocab);
  const config = (await readOptionalJsonObject(configFile)) ?? {};

  // Which file each special token comes from, in transformers 5's precedence.
  const specs = new Map<SpecialKey, { spec: TokenSpec; file: string }>();
  for (const key of SPECIAL_KEYS) {
    const spec = parseTokenSpec(configFile, key, config[key]);
    if (spec) specs.set(key, { spec, file: configFile });
  }
  const decoderTokens: Array<{ spec: TokenSpec; id: number }> = [];
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    // Newer configs list the added tokens with their flags; special tokens named by content take those flags.
    if (typeof decoder !== 'object' || decoder === null || Array.isArray(decoder)) {
      throw new TokenizerFileError(configFile, 'added_tokens_decoder: expected an object {id: AddedToken}');
    }
    for (const [idText, value] of Object.entries(decoder as Record<string, unknown>)) {
      const spec = parseTokenSpec(configFile, `added_tokens_decoder.${idText}`, value);
      const id = Number(idText);
      if (!spec || !Number.isSafeInteger(id) || id < 0) {
        throw new TokenizerFileError(configFile, `added_tokens_decoder.${idText}: expected a token id and an AddedToken object`);
      }
      decoderTokens.push({ spec, id });
    }
    decoderTokens.sort((a, b) => a.id - b.id);
    for (const [key, entry] of specs) {
      const declared = decoderTokens.find((t) => t.spec.content === entry.spec.content);
      if (declared) specs.set(key, { spec: declared.spec, file: configFile });
    }
  } else {
    // Legacy folders (SDXL's): special_tokens_map.json overrides tokenizer_config.json key by key.
    const specialMap = await readOptionalJsonObject(specialMapFile);
    for (const key of SPECIAL_KEYS) {
      const spec = specialMap ? parseTokenSpec(specialMapFile, key, specialMap[key]) : null;
      if (spec) specs.set(key, { spec, file: specialMapFile });
    }
  }
  for (const key of SPECIAL_KEYS) {
    const fallback = CLIP_DEFAULTS[key];
    if (!specs.has(key) && fallback !== undefined) {
      specs.set(key, { spec: { content: fallback, normalized: false }, file: configFile });
    }
  }

  const idOf = (spec: TokenSpec, file: string, key: string): number => {
    const id = vocab.get(spec.content);
    if (id === undefined) {
      throw new TokenizerFileError(file, `${key} ${JSON.stringify(spec.content)} is not in ${vocabFile}`);
    }
    return id;
  };
  // Added in this order; a later addition of the same content replaces the earlier flags.
  const added = new Map<string, AddedToken>();
  for (const { spec, id } of decoderTokens) {
    if (vocab.get(spec.content) !== id) {
      throw new TokenizerFileError(
        configFile,
        `added_tokens_decoder.${id} ${JSON.stringify(spec.content)} has id ${vocab.get(spec.content) ?? 'none'} in vocab.json`,
      );
    }
    added.delete(spec.content);
    added.set(spec.content, { content: spec.content, id, normalized: spec.normalized });
  }
  const resolved = new Map<SpecialKey, AddedToken>();
  for (const key of SPECIAL_KEYS) {
    const entry = specs.get(key);
    if (!entry) continue;
    const token = { content: entry.spec.content, id: idOf(entry.spec, entry.file, key), normalized: entry.spec.normalized };
    added.delete(token.content);
    added.set(token.content, token);
    resolved.set(key, token);
  }
  const final = (key: SpecialKey): AddedToken => {
    const token = resolved.get(key)!;
    return added.get(token.content)!;
  };

  let modelMaxLength: number | null = null;
  const maxLength = config.model_max_length;
  if (maxLength !== undefined && maxLength !== null) {
    if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 2) {
      throw new TokenizerFileError(configFile, `model_max_length: expected an integer >= 2, got ${JSON.stringify(maxLength)}`);
    }
    if (maxLength < NO_LIMIT_THRESHOLD) modelMaxLength = maxLength;
  }

  return {
    folder,
    vocab,
    merges,
    addedTokens: [...added.values()],
    bos: final('bos_token'),
    eos: final('eos_token'),
    unk: final('unk_token'),
    pad: final('pad_token'),
    modelMaxLength,
  };
}
