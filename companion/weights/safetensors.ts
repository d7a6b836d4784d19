/**
 * Header-only safetensors reader: no tensor byte is read, every tensor becomes a TensorRef into the file.
 *
 *   readSafetensors(file): SafetensorsFile            one file: realpath, `__metadata__`, tensors by key
 *   readShardIndex(indexFile): SafetensorsFile[]       `*.safetensors.index.json` + its shards, cross-checked
 *   SAFETENSORS_MAX_HEADER_BYTES                       the reference implementation's header limit
 *
 * Validation follows the reference Rust crate (`safetensors::tensor::Metadata::validate` and `read_metadata`):
 * header length ≤ 100 MB and inside the file; UTF-8 JSON object; every entry has a known dtype, a shape of
 * non-negative integers and `data_offsets` [begin, end]; sorted by begin, the tensors tile the data buffer exactly
 * (first begins at 0, each begins where the previous ended, the last ends at the end of the file) and each holds
 * exactly product(shape) × dtype size bytes. Beyond the crate, duplicate keys are refused (serde keeps one
 * silently) and `__metadata__` must map strings to strings. Errors are WeightFileError naming file and problem.
 */
import * as path from 'node:path';
import { WeightFileError } from './errors';
import { fileError, readExactly, readJsonObjectFile, withWeightFile, type OpenedFile } from './files';
import { isJsonObject, JsonSyntaxError, parseStrictJson, type JsonObject, type JsonValue } from './strict-json';
import { DTYPE_BYTES, type DType, type TensorRef } from './tensor';

/** `MAX_HEADER_SIZE` of the Rust crate: a larger header is refused before anything is allocated. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** dtypes the safetensors format defines but the engine does not use (refused with "not supported"). */
const KNOWN_UNSUPPORTED_DTYPES = new Set([
  'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64',
]);

export interface SafetensorsFile {
  /** The path as given. */
  readonly given: string;
  /** realpath of the file (what TensorRef.file holds). */
  readonly file: string;
  readonly size: number;
  /** The free-form `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file order (by offset). */
  readonly tensors: ReadonlyMap<string, TensorRef>;
}

export function readSafetensors(file: string): SafetensorsFile {
  return withWeightFile(file, (f) => parseOpened(f));
}

function parseOpened(f: OpenedFile): SafetensorsFile {
  const bad = (problem: string): never => {
    throw fileError(f, problem);
  };
  if (f.size === 0) bad('empty file (0 bytes), not a safetensors file');
  if (f.size < 8) bad(`file is ${f.size} bytes, shorter than the 8-byte safetensors header length`);

  const headerLength = readExactly(f, 0, 8).readBigUInt64LE(0);
  if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    bad(`header length ${headerLength} exceeds the safetensors limit of ${SAFETENSORS_MAX_HEADER_BYTES} bytes ` +
      '(not a safetensors file, or a corrupt one)');
  }
  const n = Number(headerLength);
  if (n === 0) bad('header length is 0: the JSON header is missing');
  if (8 + n > f.size) {
    bad(`header length ${n} reaches beyond the end of the file (${f.size} bytes): the file is truncated`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readExactly(f, 8, n));
  } catch (err) {
    if (err instanceof WeightFileError) throw err;
    return bad('header is not valid UTF-8');
  }
  let json: JsonValue;
  try {
    json = parseStrictJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return bad(`header is not valid JSON: ${err.message}`);
    throw err;
  }
  if (!isJsonObject(json)) {
    return bad(`header must be a JSON object of tensors, found ${jsonKind(json)}`);
  }

  const dataStart = 8 + n;
  const dataLength = f.size - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { key: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];

  for (const key of Object.keys(json)) {
    const entry = json[key];
    if (key === '__metadata__') {
      metadata = parseMetadata(entry, bad);
      continue;
    }
    const tensorBad = (problem: string): never => bad(`tensor "${key}": ${problem}`);
    if (!isJsonObject(entry)) return tensorBad(`entry must be an object, found ${jsonKind(entry)}`);
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in entry)) tensorBad(`missing "${field}"`);
    }
    const dtype = parseDType(entry.dtype, tensorBad);
    const shape = parseShape(entry.shape, tensorBad);
    const [begin, end] = parseOffsets(entry.data_offsets, tensorBad);
    if (begin > end) tensorBad(`data_offsets begin ${begin} is after end ${end}`);
    const elements = shape.reduce((a, b) => a * b, 1);
    const expected = elements * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(expected)) tensorBad(`shape [${shape.join(', ')}] is too large`);
    if (end - begin !== expected) {
      tensorBad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but dtype ${dtype} × shape ` +
        `[${shape.join(', ')}] needs ${expected}`);
    }
    if (end > dataLength) {
      tensorBad(`data_offsets [${begin}, ${end}] reach beyond the data buffer (${dataLength} bytes after the ` +
        'header): the file is truncated or the offsets are out of range');
    }
    entries.push({ key, dtype, shape, begin, end });
  }

  // The crate's rule: sorted by offset, the tensors tile [0, dataLength) with no gap and no overlap.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin < cursor) {
      bad(`tensor "${e.key}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${previous}" (which ends at ${cursor})`);
    }
    if (e.begin > cursor) {
      bad(`gap in the data buffer: bytes [${cursor}, ${e.begin}) before tensor "${e.key}" belong to no tensor`);
    }
    cursor = e.end;
    previous = e.key;
  }
  if (cursor !== dataLength) {
    bad(`the tensors cover ${cursor} bytes of data but ${dataLength} bytes follow the header: ` +
      `${dataLength - cursor} trailing bytes belong to no tensor`);
  }

  const tensors = new Map<string, TensorRef>();
  for (const e of entries) {
    tensors.set(e.key, Object.freeze({
      key: e.key, file: f.real, dtype: e.dtype, shape: Object.freeze(e.shape),
      offset: dataStart + e.begin, length: e.end - e.begin,
    }));
  }
  return { given: f.given, file: f.real, size: f.size, metadata: Object.freeze(metadata), tensors };
}

function parseMetadata(v: JsonValue | undefined, bad: (p: string) => never): Record<string, string> {
  if (!isJsonObject(v)) return bad(`"__metadata__" must be an object of strings, found ${jsonKind(v)}`);
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') bad(`"__metadata__" value of "${k}" must be a string, found ${jsonKind(value)}`);
    out[k] = value as string;
  }
  return out;
}

function parseDType(v: JsonValue | undefined, bad: (p: string) => never): DType {
  if (typeof v !== 'string') return bad(`"dtype" must be a string, found ${jsonKind(v)}`);
  if (Object.prototype.hasOwnProperty.call(DTYPE_BYTES, v)) return v as DType;
  if (KNOWN_UNSUPPORTED_DTYPES.has(v)) return bad(`dtype ${v} is not supported (supported: ${dtypeList()})`);
  return bad(`unknown dtype "${v}" (supported: ${dtypeList()})`);
}

function dtypeList(): string {
  return Object.keys(DTYPE_BYTES).join(', ');
}

function parseShape(v: JsonValue | undefined, bad: (p: string) => never): number[] {
  if (!Array.isArray(v)) return bad(`"shape" must be an array of integers, found ${jsonKind(v)}`);
  return v.map((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      bad(`"shape" dimension ${i} is ${JSON.stringify(d)}, expected a non-negative integer`);
    }
    return d as number;
  });
}

function parseOffsets(v: JsonValue | undefined, bad: (p: string) => never): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) {
    return bad(`"data_offsets" must be [begin, end], found ${JSON.stringify(v)}`);
  }
  for (const o of v) {
    if (typeof o === 'number' && Number.isInteger(o) && o > Number.MAX_SAFE_INTEGER) {
      bad(`"data_offsets" value ${o} is beyond the largest supported offset (2^53 - 1)`);
    }
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      bad(`"data_offsets" must be non-negative integers, found ${JSON.stringify(v)}`);
    }
  }
  return [v[0] as number, v[1] as number];
}

function jsonKind(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * A sharded checkpoint: `{"metadata": {...}, "weight_map": {key: "shard-file.safetensors"}}` beside its shards.
 * Every shard named is read; each key must live in the shard the map names and every shard tensor must be mapped.
 */
export function readShardIndex(indexFile: string): SafetensorsFile[] {
  const json = readJsonObjectFile(indexFile, 'shard index');
  const bad = (problem: string): never => {
    throw new WeightFileError(indexFile, problem);
  };
  const map = json.weight_map;
  if (!isJsonObject(map)) return bad(`shard index needs a "weight_map" object, found ${jsonKind(map)}`);
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(map as JsonObject)) {
    if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
      bad(`weight_map entry "${key}" must name a shard file beside the index, found ${JSON.stringify(shard)}`);
    }
    const keys = byShard.get(shard as string) ?? [];
    keys.push(key);
    byShard.set(shard as string, keys);
  }
  if (byShard.size === 0) bad('weight_map is empty');
  const dir = path.dirname(indexFile);
  const shards: SafetensorsFile[] = [];
  for (const [shard, keys] of byShard) {
    const st = readSafetensors(path.join(dir, shard));
    for (const key of keys) {
      if (!st.tensors.has(key)) bad(`weight_map puts "${key}" in ${shard}, but that shard has no such tensor`);
    }
    const mapped = new Set(keys);
    for (const key of st.tensors.keys()) {
      if (!mapped.has(key)) bad(`shard ${shard} holds "${key}", which weight_map does not list for it`);
    }
    shards.push(st);
  }
  return shards;
}
