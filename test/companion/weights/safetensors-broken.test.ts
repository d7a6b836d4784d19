/** Broken safetensors files: each must fail with a WeightFileError naming the file and the exact problem. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../../../companion/weights/errors';
import { osProblem } from '../../../companion/weights/files';
import { readSafetensors, readShardIndex } from '../../../companion/weights/safetensors';
import { buildSafetensors, f32, safetensorsBytes, tempDir } from './safetensors-writer';

let dir: string;
beforeAll(() => {
  dir = tempDir('st-broken');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const good = buildSafetensors({
  'a.weight': { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3, 4) },
  'a.bias': { dtype: 'F32', shape: [2], data: f32(5, 6) },
});

/** A file with the given header object and `dataBytes` bytes of data. */
function withHeader(header: unknown, dataBytes: number): Buffer {
  return safetensorsBytes(JSON.stringify(header), Buffer.alloc(dataBytes));
}
function lengthPrefix(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
const t = (dtype: string, shape: unknown, data_offsets: unknown) => ({ dtype, shape, data_offsets });

/** [case, file bytes, expected problem (the message is "<file>: <problem>")] */
const cases: [string, Buffer, string | RegExp][] = [
  ['empty file', Buffer.alloc(0), 'empty file (0 bytes), not a safetensors file'],
  ['shorter than 8 bytes', Buffer.from([1, 0, 0]), 'file is 3 bytes, shorter than the 8-byte safetensors header length'],
  ['truncated inside the header', good.subarray(0, 20),
    `header length ${good.readUInt32LE(0)} reaches beyond the end of the file (20 bytes): the file is truncated`],
  ['header length beyond the file', Buffer.concat([lengthPrefix(5000), Buffer.from('{}      ')]),
    'header length 5000 reaches beyond the end of the file (16 bytes): the file is truncated'],
  ['absurd header length (> 100 MB)', Buffer.concat([lengthPrefix(0x7fff_ffff_ffff_ffffn), Buffer.from('{}')]),
    'header length 9223372036854775807 exceeds the safetensors limit of 100000000 bytes (not a safetensors file, or a corrupt one)'],
  ['header length 0', lengthPrefix(0), 'header length is 0: the JSON header is missing'],
  ['truncated in the tensor data', good.subarray(0, good.length - 3),
    'tensor "a.bias": data_offsets [16, 24] reach beyond the data buffer (21 bytes after the header): the file is truncated or the offsets are out of range'],
  ['invalid JSON', safetensorsBytes('{"a": {"dtype": "F32",}', Buffer.alloc(0)),
    `header is not valid JSON: expected '"' but found "}" at character 22`],
  ['JSON that is not an object', safetensorsBytes('[1, 2]', Buffer.alloc(0)),
    'header must be a JSON object of tensors, found an array'],
  ['non-UTF-8 header', Buffer.concat([lengthPrefix(8), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]),
    'header is not valid UTF-8'],
  ['duplicate keys', safetensorsBytes(
    '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
    Buffer.alloc(8)), /^header is not valid JSON: duplicate key "w" at character \d+$/],
  ['tensor entry not an object', withHeader({ w: [1, 2] }, 0), 'tensor "w": entry must be an object, found an array'],
  ['missing dtype', withHeader({ w: { shape: [1], data_offsets: [0, 4] } }, 4), 'tensor "w": missing "dtype"'],
  ['missing shape', withHeader({ w: { dtype: 'F32', data_offsets: [0, 4] } }, 4), 'tensor "w": missing "shape"'],
  ['missing data_offsets', withHeader({ w: { dtype: 'F32', shape: [1] } }, 4), 'tensor "w": missing "data_offsets"'],
  ['unknown dtype', withHeader({ w: t('float32', [1], [0, 4]) }, 4),
    'tensor "w": unknown dtype "float32" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)'],
  ['valid but unsupported dtype', withHeader({ w: t('F8_E4M3', [1], [0, 1]) }, 1),
    'tensor "w": dtype F8_E4M3 is not supported (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)'],
  ['dtype not a string', withHeader({ w: t(7 as unknown as string, [1], [0, 4]) }, 4), 'tensor "w": "dtype" must be a string, found number 7'],
  ['negative shape dimension', withHeader({ w: t('F32', [2, -1], [0, 4]) }, 4),
    'tensor "w": "shape" dimension 1 is -1, expected a non-negative integer'],
  ['non-integer shape dimension', withHeader({ w: t('F32', [1.5], [0, 4]) }, 4),
    'tensor "w": "shape" dimension 0 is 1.5, expected a non-negative integer'],
  ['shape not an array', withHeader({ w: t('F32', '4', [0, 4]) }, 4), 'tensor "w": "shape" must be an array of integers, found string "4"'],
  ['data_offsets not a pair', withHeader({ w: t('F32', [1], [0, 4, 8]) }, 4), 'tensor "w": "data_offsets" must be [begin, end], found [0,4,8]'],
  ['negative data_offsets', withHeader({ w: t('F32', [1], [-4, 0]) }, 4), 'tensor "w": "data_offsets" must be non-negative integers, found [-4,0]'],
  ['data_offsets beyond a safe integer', withHeader({ w: t('F32', [1], [0, 2 ** 60]) }, 4),
    'tensor "w": "data_offsets" value 1152921504606847000 is beyond the largest supported offset (2^53 - 1)'],
  ['data_offsets begin > end', withHeader({ w: t('F32', [1], [8, 4]) }, 8), 'tensor "w": data_offsets begin 8 is after end 4'],
  ['data_offsets out of range', withHeader({ a: t('F32', [1], [0, 4]), w: t('F32', [2], [4, 12]) }, 8),
    'tensor "w": data_offsets [4, 12] reach beyond the data buffer (8 bytes after the header): the file is truncated or the offsets are out of range'],
  ['length ≠ dtype × shape', withHeader({ w: t('F16', [3], [0, 4]) }, 4),
    'tensor "w": data_offsets [0, 4] hold 4 bytes but dtype F16 × shape [3] needs 6'],
  ['overlapping tensors', withHeader({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12),
    'tensor "b" data_offsets [4, 12] overlap tensor "a" (which ends at 8)'],
  ['two tensors sharing bytes', withHeader({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [0, 4]) }, 4),
    /^tensor "[ab]" data_offsets \[0, 4\] overlap tensor "[ab]" \(which ends at 4\)$/],
  ['gap between tensors', withHeader({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12),
    'gap in the data buffer: bytes [4, 8) before tensor "b" belong to no tensor'],
  ['data not starting at 0', withHeader({ a: t('F32', [1], [4, 8]) }, 8),
    'gap in the data buffer: bytes [0, 4) before tensor "a" belong to no tensor'],
  ['trailing bytes not covered by any tensor', withHeader({ a: t('F32', [1], [0, 4]) }, 10),
    'the tensors cover 4 bytes of data but 10 bytes follow the header: 6 trailing bytes belong to no tensor'],
  ['__metadata__ with a non-string value', withHeader({ __metadata__: { format: 'pt', total: 3 } }, 0),
    '"__metadata__" value of "total" must be a string, found number 3'],
  ['__metadata__ not an object', withHeader({ __metadata__: 'pt' }, 0), '"__metadata__" must be an object of strings, found string "pt"'],
  ['absurdly large shape', withHeader({ w: t('F64', [2 ** 40, 2 ** 20], [0, 8]) }, 8), 'tensor "w": shape [1099511627776, 1048576] is too large'],
];

describe('broken safetensors files', () => {
  test.each(cases)('%s', (name, bytes, problem) => {
    const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.safetensors`);
    fs.writeFileSync(file, bytes);
    let error: unknown;
    try {
      readSafetensors(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightFileError);
    const err = error as WeightFileError;
    expect(err.file).toBe(file);
    expect(err.realFile).toBeUndefined(); // no symlink in the way: the message names the file once
    if (typeof problem === 'string') expect(err.message).toBe(`${file}: ${problem}`);
    else expect(err.problem).toMatch(problem);
  });

  test('a missing file', () => {
    const file = path.join(dir, 'absent.safetensors');
    expect(() => readSafetensors(file)).toThrow(new WeightFileError(file, 'file not found'));
  });

  test('a dangling symlink (a hub-cache blob that was deleted)', () => {
    const link = path.join(dir, 'dangling.safetensors');
    fs.symlinkSync(path.join(dir, 'blob-gone'), link);
    expect(() => readSafetensors(link)).toThrow(`${link}: file not found`);
  });

  test('a directory instead of a file', () => {
    const sub = path.join(dir, 'model.safetensors');
    fs.mkdirSync(sub);
    expect(() => readSafetensors(sub)).toThrow(`${sub}: is a directory, expected a weight file`);
  });

  // Tests run as root here, where chmod 000 still reads; a FIFO is the unreadable-as-a-file case that holds for everyone.
  test('a FIFO instead of a file', () => {
    const fifo = path.join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    expect(() => readSafetensors(fifo)).toThrow(`${fifo}: is not a regular file (device, FIFO or socket)`);
  });

  // chmod cannot make a file unreadable for root (these tests run as root), so the errno → message mapping that
  // covers permission errors is checked on the error objects Node produces.
  test.each([
    ['EACCES', 'permission denied (cannot read the file)'],
    ['EPERM', 'permission denied (cannot read the file)'],
    ['ELOOP', 'symlink loop'],
    ['ENOTDIR', 'a parent of this path is not a directory'],
    ['EIO', 'cannot open the file: EIO: i/o error'],
  ])('%s reads as "%s"', (code, message) => {
    const err = Object.assign(new Error(`${code}: i/o error`), { code });
    expect(osProblem(err, 'cannot open the file')).toBe(message);
  });

  test('a symlink loop', () => {
    const a = path.join(dir, 'loop-a.safetensors');
    const b = path.join(dir, 'loop-b.safetensors');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    expect(() => readSafetensors(a)).toThrow(`${a}: symlink loop`);
  });

  test('a path through a file', () => {
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    expect(() => readSafetensors(path.join(file, 'model.safetensors'))).toThrow(
      `${path.join(file, 'model.safetensors')}: a parent of this path is not a directory`);
  });

  test('a symlinked file names both the link and its target', () => {
    const real = path.join(dir, 'blob-empty');
    fs.writeFileSync(real, Buffer.alloc(0));
    const link = path.join(dir, 'linked-empty.safetensors');
    fs.symlinkSync(real, link);
    expect(() => readSafetensors(link)).toThrow(
      `${link} (→ ${fs.realpathSync(real)}): empty file (0 bytes), not a safetensors file`);
  });
});

describe('broken shard indexes', () => {
  let shardDir: string;
  beforeAll(() => {
    shardDir = path.join(dir, 'shards');
    fs.mkdirSync(shardDir);
    fs.writeFileSync(path.join(shardDir, 's1.safetensors'), buildSafetensors({ a: { dtype: 'F32', shape: [1], data: f32(1) } }));
    fs.writeFileSync(path.join(shardDir, 's2.safetensors'), buildSafetensors({ b: { dtype: 'F32', shape: [1], data: f32(1) } }));
  });
  const indexCases: [string, string, string][] = [
    ['invalid JSON', '{"weight_map": ', 'shard index is not valid JSON: unexpected end of text at character 15'],
    ['no weight_map', '{"metadata": {}}', 'shard index needs a "weight_map" object, found nothing'],
    ['empty weight_map', '{"weight_map": {}}', 'weight_map is empty'],
    ['shard outside the folder', '{"weight_map": {"a": "../s1.safetensors"}}',
      'weight_map entry "a" must name a shard file beside the index, found "../s1.safetensors"'],
    ['key not in its shard', '{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}',
      'weight_map puts "b" in s1.safetensors, but that shard has no such tensor'],
    ['key not in the shard the map names', '{"weight_map": {"b": "s2.safetensors", "a": "s1.safetensors", "c": "s2.safetensors"}}',
      'weight_map puts "c" in s2.safetensors, but that shard has no such tensor'],
  ];
  test.each(indexCases)('%s', (name, json, problem) => {
    const index = path.join(shardDir, `${name.replace(/[^a-z0-9]+/gi, '-')}.safetensors.index.json`);
    fs.writeFileSync(index, json);
    expect(() => readShardIndex(index)).toThrow(`${index}: ${problem}`);
  });

  test('a shard holding a tensor the map does not list', () => {
    const index = path.join(shardDir, 'unlisted.safetensors.index.json');
    fs.writeFileSync(path.join(shardDir, 's3.safetensors'), buildSafetensors({
      x: { dtype: 'F32', shape: [1], data: f32(1) }, y: { dtype: 'F32', shape: [1], data: f32(2) } }));
    fs.writeFileSync(index, '{"weight_map": {"x": "s3.safetensors"}}');
    expect(() => readShardIndex(index)).toThrow(`${index}: shard s3.safetensors holds "y", which weight_map does not list for it`);
  });

  test('a missing shard names the shard file', () => {
    const index = path.join(shardDir, 'missing-shard.safetensors.index.json');
    fs.writeFileSync(index, '{"weight_map": {"a": "gone.safetensors"}}');
    expect(() => readShardIndex(index)).toThrow(`${path.join(shardDir, 'gone.safetensors')}: file not found`);
  });
});
