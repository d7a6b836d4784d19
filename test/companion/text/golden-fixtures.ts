/** Shared access to the tokenizer fixtures: the goldens JSON and the folders they were made from. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fixture } from '../../helpers/paths';

export interface GoldenCase {
  folder: string;
  bos_id: number;
  eos_id: number;
  pad_id: number;
  pad_token: string;
  model_max_length: number | null;
  vocab_size: number;
  unpadded: number[][];
  padded77: number[][];
  padded16: number[][];
}

export interface Goldens {
  versions: Record<string, string>;
  prompts: string[];
  cases: Record<string, GoldenCase>;
}

export function loadGoldens(): Goldens {
  return JSON.parse(fs.readFileSync(fixture('text', 'clip-tokenizer-goldens.json'), 'utf8')) as Goldens;
}

/**
 * The real 49,408-token CLIP vocabulary is stored gzipped; unpack it into normal diffusers tokenizer folders
 * (tokenizer/ and tokenizer_2/ with SDXL's config files) under a fresh temp dir.
 */
export function unpackRealVocab(): { root: string; folder: (sub: 'tokenizer' | 'tokenizer_2') => string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-vocab-'));
  const vocab = zlib.gunzipSync(fs.readFileSync(fixture('clip-vocab', 'vocab.json.gz')));
  const merges = zlib.gunzipSync(fs.readFileSync(fixture('clip-vocab', 'merges.txt.gz')));
  for (const sub of ['tokenizer', 'tokenizer_2']) {
    const dir = path.join(root, sub);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'vocab.json'), vocab);
    fs.writeFileSync(path.join(dir, 'merges.txt'), merges);
    for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
      fs.copyFileSync(fixture('clip-vocab', sub, name), path.join(dir, name));
    }
  }
  return { root, folder: (sub) => path.join(root, sub) };
}

/** The folder a golden case was made from (real ones inside `realRoot`). */
export function caseFolder(key: string, realRoot: string): string {
  const [kind, name] = key.split('/') as [string, string];
  if (kind === 'tiny') return fixture('sdxl-tiny', name);
  if (kind === 'real') return path.join(realRoot, name);
  if (kind === 'variant') return fixture('text', 'tokenizer-variants', name.replace(/_/g, '-'));
  throw new Error(`unknown golden case ${key}`);
}
