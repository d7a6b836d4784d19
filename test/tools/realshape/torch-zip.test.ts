/**
 * tools/realshape/torch-zip.ts against a real torch.save archive (fixtures/torch_reference.bin, torch 2.13, made by
 * fixtures/make_torch_reference.py): same entries in the same order, flags, 64-byte data alignment, data
 * descriptors with correct CRC-32, zip64 end records, identical storages; and our reader (torch-bin.ts) reads both
 * as the same tensors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { readTorchBin } from '../../../companion/weights/torch-bin';
import type { ChunkSource, TensorSpec, ValuesFor } from '../../../tools/realshape/content';
import { torchBinContent, torchPickle, type TorchBinGroup } from '../../../tools/realshape/torch-zip';
import { unpickle, PickleDict, PickleTuple, type PickleCallable } from '../../../companion/weights/restricted-pickle';

const REFERENCE = path.join(__dirname, '..', '..', '..', '..', 'test', 'tools', 'realshape', 'fixtures', 'torch_reference.bin');

interface ParsedEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  size: number;
  dataOffset: number;
  extra: Buffer;
  descriptor: { crc: number; size: number };
  data: Buffer;
}

/** A strict reading of every structure a torch archive has (the project's zip.ts only needs some of them). */
function parseZip(buf: Buffer): { entries: ParsedEntry[]; zip64: boolean } {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end).toBe(buf.length - 22);
  const count = buf.readUInt16LE(end + 10);
  const cdSize = buf.readUInt32LE(end + 12);
  const cdOffset = buf.readUInt32LE(end + 16);
  const zip64 = buf.readUInt32LE(end - 20) === 0x07064b50 && buf.readUInt32LE(end - 76) === 0x06064b50;
  if (zip64) {
    expect(Number(buf.readBigUInt64LE(end - 20 + 8))).toBe(end - 76);
    expect(Number(buf.readBigUInt64LE(end - 76 + 32))).toBe(count);
    expect(Number(buf.readBigUInt64LE(end - 76 + 40))).toBe(cdSize);
    expect(Number(buf.readBigUInt64LE(end - 76 + 48))).toBe(cdOffset);
  }
  expect(cdOffset + cdSize).toBe(zip64 ? end - 76 : end);
  const entries: ParsedEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const nameLength = buf.readUInt16LE(p + 28);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLength);
    const local = buf.readUInt32LE(p + 42);
    const size = buf.readUInt32LE(p + 24);
    expect(buf.readUInt32LE(local)).toBe(0x04034b50);
    expect(buf.toString('utf8', local + 30, local + 30 + nameLength)).toBe(name);
    const extraLength = buf.readUInt16LE(local + 28);
    const dataOffset = local + 30 + nameLength + extraLength;
    const d = dataOffset + size;
    expect(buf.readUInt32LE(d)).toBe(0x08074b50);
    entries.push({
      name, flags: buf.readUInt16LE(p + 8), method: buf.readUInt16LE(p + 10), crc: buf.readUInt32LE(p + 16), size,
      dataOffset, extra: buf.subarray(local + 30 + nameLength, dataOffset),
      descriptor: { crc: buf.readUInt32LE(d + 4), size: buf.readUInt32LE(d + 12) }, data: buf.subarray(dataOffset, dataOffset + size),
    });
    p += 46 + nameLength + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return { entries, zip64 };
}

/** Element i = i, as the reference's torch.arange tensors. */
const arangeValues: ValuesFor = (_scope: string, spec: TensorSpec): ChunkSource => ({
  forEachChunk(sink) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    sink(Buffer.from(Float32Array.from({ length: n }, (_, i) => i).buffer));
  },
});

const GROUPS: TorchBinGroup[] = [
  { name: 'image_proj', tensors: [
    { key: 'latents', shape: [1, 3, 4], dtype: 'F32' },
    { key: 'proj.weight', shape: [300, 2], dtype: 'F32' },
    { key: 'norm.bias', shape: [5], dtype: 'F32' },
  ] },
  { name: 'ip_adapter', tensors: [
    { key: '1.to_k_ip.weight', shape: [2, 3, 2, 2], dtype: 'F32' },
    { key: 'scalar', shape: [], dtype: 'F32' },
  ] },
];

function render(groups: readonly TorchBinGroup[], values: ValuesFor, archive = 'torch_reference'): Buffer {
  const content = torchBinContent(archive, groups, 'scope', values, '0'.repeat(40));
  const parts: Buffer[] = [];
  content.write((b) => parts.push(Buffer.from(b)));
  const out = Buffer.concat(parts);
  expect(out.length).toBe(content.size);
  return out;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'realshape-zip-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the archive has the layout torch.save writes: entries, flags, alignment, descriptors, zip64 end records', () => {
  const ours = parseZip(render(GROUPS, arangeValues));
  const theirs = parseZip(fs.readFileSync(REFERENCE));
  expect(ours.zip64).toBe(true);
  expect(theirs.zip64).toBe(true);
  expect(ours.entries.map((e) => e.name)).toEqual(theirs.entries.map((e) => e.name));
  for (const [i, e] of ours.entries.entries()) {
    const t = theirs.entries[i]!;
    expect([e.name, e.flags, e.method]).toEqual([t.name, t.flags, t.method]);
    expect(e.dataOffset % 64).toBe(0);
    expect(e.extra.toString('latin1', 0, 2)).toBe('FB');
    expect(e.crc).toBe(crc32(e.data));
    expect(e.descriptor).toEqual({ crc: e.crc, size: e.size });
    // every entry but the pickle (ours has no memo opcodes) and the random id holds the same bytes
    if (!e.name.endsWith('data.pkl') && !e.name.endsWith('serialization_id')) expect(e.data.equals(t.data)).toBe(true);
  }
  expect(theirs.entries.find((e) => e.name.endsWith('serialization_id'))!.data.toString()).toMatch(/^\d{40}$/);
});

test('our reader (torch-bin.ts) reads our archive and torch\'s as the same nested dict of tensors', () => {
  const file = path.join(dir, 'ours.bin');
  fs.writeFileSync(file, render(GROUPS, arangeValues, 'ours'));
  const ours = readTorchBin(file);
  const theirs = readTorchBin(REFERENCE);
  const summary = (f: ReturnType<typeof readTorchBin>) => [...f.tensors.values()].map((t) => {
    const bytes = fs.readFileSync(f.file).subarray(t.offset, t.offset + t.length);
    return [t.key, t.dtype, t.shape, bytes.toString('hex')];
  });
  expect(summary(ours)).toEqual(summary(theirs));
  expect(ours.tensors.size).toBe(5);
  expect(ours.otherValues.size).toBe(0);
});

const STORAGE_GLOBALS = ['torch.FloatStorage', 'torch.HalfStorage'].map((g): [string, () => never] => [g, () => {
  throw new Error('storage class called');
}]);

test('data.pkl: a dict of OrderedDicts of _rebuild_tensor_v2 calls with contiguous strides', () => {
  const calls: unknown[][] = [];
  const root = unpickle(torchPickle(GROUPS), {
    globals: new Map<string, PickleCallable>([
      ['collections.OrderedDict', () => new PickleDict()],
      ['torch._utils._rebuild_tensor_v2', (args: readonly unknown[]) => {
        calls.push([...args]);
        return `tensor${calls.length - 1}`;
      }],
      ...STORAGE_GLOBALS,
    ]),
    persistentLoad: (pid) => (pid as PickleTuple).items,
    build: () => undefined,
  });
  expect(root).toBeInstanceOf(PickleDict);
  const dict = root as PickleDict;
  expect([...dict.keys()]).toEqual(['image_proj', 'ip_adapter']);
  expect([...(dict.get('image_proj') as PickleDict).entries()]).toEqual([['latents', 'tensor0'], ['proj.weight', 'tensor1'], ['norm.bias', 'tensor2']]);
  expect([...(dict.get('ip_adapter') as PickleDict).entries()]).toEqual([['1.to_k_ip.weight', 'tensor3'], ['scalar', 'tensor4']]);
  const tuple = (v: unknown) => (v as PickleTuple).items;
  expect(calls.map((c) => [(c[0] as unknown[])[2], (c[0] as unknown[])[4], c[1], tuple(c[2]), tuple(c[3]), c[4]])).toEqual([
    ['0', 12, 0, [1, 3, 4], [12, 4, 1], false],
    ['1', 600, 0, [300, 2], [2, 1], false],
    ['2', 5, 0, [5], [1], false],
    ['3', 24, 0, [2, 3, 2, 2], [12, 4, 2, 1], false],
    ['4', 1, 0, [], [], false],
  ]);
});

test('large counts are pickled as BININT and LONG1; dtypes without a torch storage class are refused', () => {
  const big: TorchBinGroup[] = [{ name: 'g', tensors: [{ key: 'w', shape: [70000, 40000], dtype: 'F16' }] }];
  const seen: unknown[] = [];
  unpickle(torchPickle(big), {
    globals: new Map<string, PickleCallable>([
      ['collections.OrderedDict', () => new PickleDict()],
      ['torch._utils._rebuild_tensor_v2', (args: readonly unknown[]) => seen.push(...args)],
      ...STORAGE_GLOBALS,
    ]),
    persistentLoad: (pid) => (pid as PickleTuple).items,
    build: () => undefined,
  });
  expect((seen[0] as unknown[])[4]).toBe(2_800_000_000);
  expect((seen[2] as PickleTuple).items).toEqual([70000, 40000]);
  expect(() => torchPickle([{ name: 'g', tensors: [{ key: 'b', shape: [1], dtype: 'BOOL' }] }])).toThrow(/no torch storage class for BOOL/);
});
