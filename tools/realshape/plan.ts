/**
 * What the real-shape set consists of: every file of every model of DEFAULT_MODELS, each from a source below
 * (tried in this order), and the snapshot commit of each model.
 *
 *   manifests/<owner>--<name>/<path>.json[.gz]   a safetensors file: tensor list from manifests.py, seeded values
 *   configs/<stem>.structure.json                a torch .bin (`<stem>.bin`): groups of tensors, F32 unless the
 *                                                structure names a dtype
 *   <vocab dir>/{vocab.json,merges.txt}[.gz]     the CLIP BPE files of both tokenizers
 *   configs/<owner>--<name>/<path>               any other file (configs, tokenizer settings), copied as is
 *
 * The commit is a hash of the tool's value version, the seed, the repository and every file's source bytes: a set
 * made with another seed or from changed manifests lands in a new snapshot instead of being mistaken for complete.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_MODELS, type ModelSpec } from '../../companion/weights/default-models';
import { DTYPE_BYTES, type DType } from '../../companion/weights/tensor';
import { bytesContent, safetensorsContent, valuesFor, type TensorSpec } from './content';
import type { HubFile } from './hub';
import { torchBinContent, type TorchBinGroup } from './torch-zip';

/** Bump when the values written for the same inputs change (values.ts, the file layouts). */
export const VALUES_VERSION = 'realshape-values-1';

export interface SetSources {
  readonly configsDir: string;
  readonly manifestsDir: string;
  readonly vocabDir: string;
}

export interface PlannedFile extends HubFile {
  /** Where the file comes from, for messages. */
  readonly source: string;
  /** Weight files: the tensors in file order (.bin: flattened to "group.key", as our reader names them). */
  readonly tensors?: readonly TensorSpec[];
}

export interface PlannedModel {
  readonly spec: ModelSpec;
  readonly commit: string;
  readonly files: readonly PlannedFile[];
}

export function planSet(sources: SetSources, seed: number, models: readonly ModelSpec[] = DEFAULT_MODELS): PlannedModel[] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  return models.map((spec) => {
    const commitHash = createHash('sha1').update(`${VALUES_VERSION}\0${seed}\0${spec.repo}\0`);
    const files = spec.files.map((f) => {
      const { file, bytes } = planFile(sources, seed, spec, f.path);
      commitHash.update(`${f.path}\0`).update(createHash('sha256').update(bytes).digest());
      return file;
    });
    return { spec, commit: commitHash.digest('hex'), files };
  });
}

function repoDir(repo: string): string {
  return repo.replace('/', '--');
}

function firstExisting(candidates: readonly string[]): string | undefined {
  return candidates.find((c) => fs.existsSync(c));
}

function readMaybeGz(file: string): { raw: Buffer; text: Buffer } {
  const raw = fs.readFileSync(file);
  return { raw, text: file.endsWith('.gz') ? gunzipSync(raw) : raw };
}

/** One file's content and the source bytes that determine it. */
function planFile(sources: SetSources, seed: number, spec: ModelSpec, file: string): { file: PlannedFile; bytes: Buffer } {
  const scope = `${spec.repo}/${file}`;
  const values = valuesFor(seed);
  const base = path.posix.basename(file);
  const manifestBase = path.join(sources.manifestsDir, repoDir(spec.repo), ...file.split('/'));
  const manifest = firstExisting([`${manifestBase}.json.gz`, `${manifestBase}.json`]);
  if (manifest) {
    const { raw, text } = readMaybeGz(manifest);
    const tensors = parseManifest(text, manifest, spec.repo, file);
    const metadata = { format: 'pt', stylestudio_realshape: `random weights (tools/realshape), seed ${seed}` };
    return { file: { path: file, lfs: true, content: safetensorsContent(tensors, metadata, scope, values), source: manifest, tensors }, bytes: raw };
  }
  if (file.endsWith('.bin')) {
    const stem = base.slice(0, -'.bin'.length);
    const structure = path.join(sources.configsDir, `${stem}.structure.json`);
    if (!fs.existsSync(structure)) throw new Error(`${spec.repo}/${file}: no structure file ${structure}`);
    const raw = fs.readFileSync(structure);
    const groups = parseStructure(raw, structure);
    const digest = createHash('sha256').update(`${seed}\0${scope}`).digest('hex');
    const serializationId = (BigInt(`0x${digest}`) % 10n ** 40n).toString().padStart(40, '0'); // 40 digits, like torch's
    const tensors = groups.flatMap((g) => g.tensors.map((t) => ({ ...t, key: `${g.name}.${t.key}` })));
    return { file: { path: file, lfs: true, content: torchBinContent(stem, groups, scope, values, serializationId), source: structure, tensors }, bytes: raw };
  }
  if (base === 'vocab.json' || base === 'merges.txt') {
    const vocab = firstExisting([path.join(sources.vocabDir, `${base}.gz`), path.join(sources.vocabDir, base)]);
    if (!vocab) throw new Error(`${spec.repo}/${file}: neither ${base}.gz nor ${base} in the vocabulary folder ${sources.vocabDir}`);
    const { raw, text } = readMaybeGz(vocab);
    const bytes = base === 'vocab.json' ? savedVocabulary(text, vocab) : text;
    return { file: { path: file, lfs: false, content: bytesContent(bytes), source: vocab }, bytes: raw };
  }
  const config = path.join(sources.configsDir, repoDir(spec.repo), ...file.split('/'));
  if (!fs.existsSync(config)) {
    throw new Error(`${spec.repo}/${file}: no source (looked for ${manifestBase}.json[.gz] and ${config})`);
  }
  const raw = fs.readFileSync(config);
  return { file: { path: file, lfs: false, content: bytesContent(raw), source: config }, bytes: raw };
}

/**
 * vocab.json as transformers' CLIPTokenizer.save_vocabulary writes it, which is the hub file's form:
 * json.dumps(encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n" (keys sorted by code point; built by
 * hand because a JavaScript object would put integer-like keys such as "10" first).
 */
export function savedVocabulary(text: Buffer, where: string): Buffer {
  let vocab: unknown;
  try {
    vocab = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new Error(`${where}: expected a JSON object of token → id`);
  const entries = Object.entries(vocab as Record<string, unknown>).map(([k, v]) => {
    if (!Number.isSafeInteger(v)) throw new Error(`${where}: token ${JSON.stringify(k)} has id ${JSON.stringify(v)}`);
    return { k, v: v as number, cp: Array.from(k, (c) => c.codePointAt(0) as number) };
  });
  entries.sort((a, b) => {
    for (let i = 0; i < Math.min(a.cp.length, b.cp.length); i++) if (a.cp[i] !== b.cp[i]) return (a.cp[i] as number) - (b.cp[i] as number);
    return a.cp.length - b.cp.length;
  });
  return Buffer.from(`{\n${entries.map(({ k, v }) => `  ${JSON.stringify(k)}: ${v}`).join(',\n')}\n}\n`, 'utf8');
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

function isDType(v: unknown): v is DType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, v);
}

/** A manifest (manifests.py): {"repo", "file", "tensors": [[key, shape, dtype], …]} in file order. */
export function parseManifest(text: Buffer, where: string, repo: string, file: string): TensorSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const m = json as { repo?: unknown; file?: unknown; tensors?: unknown };
  if (typeof json !== 'object' || json === null || !Array.isArray(m.tensors)) throw new Error(`${where}: expected an object with a "tensors" list`);
  if (m.repo !== undefined && m.repo !== repo) throw new Error(`${where}: describes ${String(m.repo)}, found under ${repo}`);
  if (m.file !== undefined && m.file !== file) throw new Error(`${where}: describes ${String(m.file)}, found for ${file}`);
  return m.tensors.map((t: unknown, i: number) => {
    if (!Array.isArray(t) || t.length !== 3 || typeof t[0] !== 'string' || !isShape(t[1]) || !isDType(t[2])) {
      throw new Error(`${where}: tensor ${i} is not [key, shape, dtype]: ${JSON.stringify(t)}`);
    }
    return { key: t[0], shape: t[1], dtype: t[2] };
  });
}

/**
 * configs/<stem>.structure.json: {"top_level_keys": [...], "groups": {name: {"tensors": n, "parameters": p,
 * "shapes": {key: shape}, "dtype"?: "F32"}}}; the counts are checked against the shapes.
 */
export function parseStructure(raw: Buffer, where: string): TorchBinGroup[] {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const s = json as { top_level_keys?: unknown; groups?: Record<string, unknown> };
  if (!Array.isArray(s.top_level_keys) || typeof s.groups !== 'object' || s.groups === null) {
    throw new Error(`${where}: expected "top_level_keys" and "groups"`);
  }
  return s.top_level_keys.map((name: unknown) => {
    const g = typeof name === 'string' ? (s.groups as Record<string, unknown>)[name] as { tensors?: unknown; parameters?: unknown; shapes?: unknown; dtype?: unknown } | undefined : undefined;
    if (typeof name !== 'string' || !g || typeof g.shapes !== 'object' || g.shapes === null) {
      throw new Error(`${where}: group ${JSON.stringify(name)} has no "shapes"`);
    }
    const dtype = g.dtype ?? 'F32';
    if (!isDType(dtype)) throw new Error(`${where}: group ${name} has unknown dtype ${JSON.stringify(dtype)}`);
    const tensors = Object.entries(g.shapes as Record<string, unknown>).map(([key, shape]) => {
      if (!isShape(shape)) throw new Error(`${where}: ${name}.${key} has shape ${JSON.stringify(shape)}`);
      return { key, shape, dtype };
    });
    const params = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    if (g.tensors !== undefined && g.tensors !== tensors.length) throw new Error(`${where}: group ${name} says ${String(g.tensors)} tensors, lists ${tensors.length}`);
    if (g.parameters !== undefined && g.parameters !== params) throw new Error(`${where}: group ${name} says ${String(g.parameters)} parameters, its shapes make ${params}`);
    return { name, tensors };
  });
}
