import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../../../companion/weights/errors';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { readTorchBin } from '../../../companion/weights/torch-bin';
import { WeightStore } from '../../../companion/weights/weight-store';
import { fixture } from '../../helpers/paths';
import { bytesAt, scratchFolder } from './safetensors-writer';
import { storedZip } from './zip-writer';

const bin = (name: string) => fixture('weights', name);

const scratch = scratchFolder('torch-bin');

describe('torch.save checkpoints (tools/golden/weights.py)', () => {
  test('nested dicts flatten to the safetensors twin: same keys, dtypes, shapes and bytes', () => {
    const pt = readTorchBin(bin('nested.bin'));
    const st = readSafetensors(bin('nested.safetensors'));
    expect(pt.file).toBe(fs.realpathSync(bin('nested.bin')));
    expect([...pt.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
    expect([...pt.tensors.keys()]).toEqual([
      'image_proj.proj.weight', 'image_proj.proj.bias', 'image_proj.norm.weight', 'image_proj.norm.bias',
      'ip_adapter.1.to_k_ip.weight', 'ip_adapter.1.to_v_ip.weight', 'ip_adapter.3.to_k_ip.weight', 'step']);
    for (const [key, ref] of pt.tensors) {
      const twin = st.tensors.get(key)!;
      expect({ key, dtype: ref.dtype, shape: ref.shape, length: ref.length })
        .toEqual({ key, dtype: twin.dtype, shape: twin.shape, length: twin.length });
      expect(bytesAt(ref).equals(bytesAt(twin))).toBe(true);
    }
    expect(pt.tensors.get('image_proj.proj.weight')!.dtype).toBe('F16');
    expect(pt.tensors.get('image_proj.norm.weight')!.dtype).toBe('BF16');
    expect(pt.tensors.get('step')).toMatchObject({ dtype: 'I64', shape: [], length: 8 });
    expect(pt.otherValues.size).toBe(0);
  });

  test('zip64 archives (entry sizes and offsets in zip64 extra fields, zip64 end record) read the same bytes', () => {
    const plain = readTorchBin(bin('nested.bin'));
    const check = (file: string) => {
      const z = readTorchBin(file);
      expect([...z.tensors.keys()]).toEqual([...plain.tensors.keys()]);
      for (const [key, ref] of z.tensors) expect(bytesAt(ref).equals(bytesAt(plain.tensors.get(key)!))).toBe(true);
    };
    check(bin('zip64.bin'));
    // Saturate the classic end record, as a > 4 GB archive has it: only the zip64 record then tells the truth.
    const bytes = Buffer.from(fs.readFileSync(bin('zip64.bin')));
    const eocd = bytes.length - 22;
    expect(bytes.readUInt32LE(eocd)).toBe(0x06054b50);
    bytes.writeUInt16LE(0xffff, eocd + 8);
    bytes.writeUInt16LE(0xffff, eocd + 10);
    bytes.writeUInt32LE(0xffffffff, eocd + 12);
    bytes.writeUInt32LE(0xffffffff, eocd + 16);
    const saturated = path.join(scratch.dir(), 'saturated-zip64.bin');
    fs.writeFileSync(saturated, bytes);
    check(saturated);
  });

  test('an IP-Adapter .bin in h94\'s layout gives the keys and bytes of the .safetensors it was made from', () => {
    const fromBin = WeightStore.open(bin('ip-adapter_sdxl.bin'));
    const fromSt = WeightStore.open(fixture('ip-adapter-tiny', 'sdxl_models', 'ip-adapter_sdxl.safetensors'));
    expect(fromBin.keys().sort()).toEqual(fromSt.keys().sort());
    expect(fromBin.keys()).toContain('ip_adapter.1.to_k_ip.weight');
    for (const key of fromSt.keys()) {
      const a = fromBin.get(key)!;
      const b = fromSt.get(key)!;
      expect([a.dtype, a.shape]).toEqual([b.dtype, b.shape]);
      expect(bytesAt(a).equals(bytesAt(b))).toBe(true);
    }
  });

  test('views into one storage point into the same zip entry at their storage offsets', () => {
    const pt = readTorchBin(bin('nested.bin'));
    const normBias = pt.tensors.get('image_proj.norm.bias')!; // shared[3:7]
    const k = pt.tensors.get('ip_adapter.1.to_k_ip.weight')!; // shared[8:20]
    const v = pt.tensors.get('ip_adapter.1.to_v_ip.weight')!; // shared[20:32]
    expect(k.offset - normBias.offset).toBe((8 - 3) * 4);
    expect(v.offset - k.offset).toBe(12 * 4);
    // torch.save aligns storages to 64 bytes; the view starts 3 floats in.
    expect((normBias.offset - 3 * 4) % 64).toBe(0);
  });

  test('a module state_dict (OrderedDict with _metadata set by BUILD) reads through WeightStore', () => {
    const store = WeightStore.open(bin('state-dict.bin'));
    expect(store.keys()).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(store.child(0).tensor('weight', [2, 3]).dtype).toBe('F32');
    expect(store.child(1).tensor('bias', [2]).file).toBe(fs.realpathSync(bin('state-dict.bin')));
  });

  test('a pickle that calls os.system is refused and nothing runs', () => {
    const marker = '/tmp/stylestudio-pwned';
    fs.rmSync(marker, { force: true });
    expect(() => readTorchBin(bin('malicious.bin'))).toThrow(
      `${bin('malicious.bin')}: data.pkl: refused pickle global posix.system: not one of the allowed tensor-rebuild globals (nothing was executed)`);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a non-contiguous tensor is refused (it would need a copy)', () => {
    expect(() => readTorchBin(bin('noncontiguous.bin'))).toThrow(
      `${bin('noncontiguous.bin')}: tensor "w" is not contiguous (size [3, 2], stride [1, 3]); it cannot be used in place: re-save it with .contiguous()`);
  });

  test('deflated storages are refused', () => {
    expect(() => readTorchBin(bin('compressed.bin'))).toThrow(
      `${bin('compressed.bin')}: storage entry nested/data/0 is compressed (zip method 8); torch.save stores storages uncompressed, ` +
      'which is what lets tensors be used in place: re-save the checkpoint');
  });

  test('the legacy non-zip format is refused with a way out', () => {
    expect(() => readTorchBin(bin('legacy.bin'))).toThrow(
      `${bin('legacy.bin')}: legacy (pre-PyTorch 1.6) torch.save format, which cannot be read safely in place; ` +
      're-save it with a current torch.save or convert it to safetensors');
  });
});

describe('broken torch archives', () => {
  const floatStorage = (key: string, numel: number) =>
    // ('storage', torch.FloatStorage, key, 'cpu', numel) as protocol 2 opcodes
    Buffer.concat([Buffer.from('(X'), u32(7), Buffer.from('storage'), Buffer.from('ctorch\nFloatStorage\nX'), u32(key.length),
      Buffer.from(key), Buffer.from('X'), u32(3), Buffer.from('cpuK'), Buffer.from([numel]), Buffer.from('tQ')]);
  /** {"w": _rebuild_tensor_v2(storage, offset, (n,), (1,), False, OrderedDict())} */
  const tensorPickle = (key: string, numel: number, offset: number, n: number) => Buffer.concat([
    Buffer.from([0x80, 2]), Buffer.from('}(X'), u32(1), Buffer.from('w'), Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n('),
    floatStorage(key, numel), Buffer.from('K'), Buffer.from([offset]), Buffer.from('K'), Buffer.from([n]), Buffer.from([0x85]),
    Buffer.from('K'), Buffer.from([1]), Buffer.from([0x85, 0x89]), Buffer.from('ccollections\nOrderedDict\n)R'),
    Buffer.from('tRu.')]);
  function u32(n: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  }
  const cases: [string, () => Buffer, string][] = [
    ['empty file', () => Buffer.alloc(0), 'empty file (0 bytes), not a PyTorch checkpoint'],
    ['not a zip', () => Buffer.from('hello world, not a checkpoint'), 'not a PyTorch checkpoint (no zip signature)'],
    ['truncated (central directory cut off)', () => fs.readFileSync(bin('nested.bin')).subarray(0, 1500),
      'not a zip archive (no end-of-central-directory record): truncated, or not a torch.save file'],
    ['no data.pkl', () => storedZip({ 'a/version': Buffer.from('3\n') }), 'expected one <archive>/data.pkl entry, found 0'],
    ['big-endian archive', () => storedZip({ 'a/data.pkl': tensorPickle('0', 2, 0, 2), 'a/byteorder': Buffer.from('big'), 'a/data/0': Buffer.alloc(8) }),
      'archive byte order is "big"; only little-endian checkpoints are supported'],
    ['storage entry missing', () => storedZip({ 'a/data.pkl': tensorPickle('0', 2, 0, 2) }),
      'storage 0 is referenced by data.pkl but the archive has no entry a/data/0'],
    ['storage entry of the wrong size', () => storedZip({ 'a/data.pkl': tensorPickle('0', 2, 0, 2), 'a/data/0': Buffer.alloc(12) }),
      'storage entry a/data/0 holds 12 bytes but 2 × FloatStorage needs 8'],
    ['view overrunning its storage', () => storedZip({ 'a/data.pkl': tensorPickle('0', 2, 1, 2), 'a/data/0': Buffer.alloc(8) }),
      'tensor "w" [offset 1 + 2 elements] overruns its storage 0 (2 elements)'],
    ['data.pkl cut short', () => storedZip({ 'a/data.pkl': tensorPickle('0', 2, 0, 2).subarray(0, 40), 'a/data/0': Buffer.alloc(8) }),
      'data.pkl: unterminated GLOBAL line (pickle byte 24)'],
    ['data.pkl without STOP', () => storedZip({ 'a/data.pkl': Buffer.from([0x80, 2, 0x7d]) }), 'data.pkl: pickle ends without STOP (pickle byte 3)'],
    ['INST opcode (old-style class call)', () => storedZip({ 'a/data.pkl': Buffer.from('\x80\x02(ios\nsystem\n.', 'latin1') }),
      "data.pkl: unsupported pickle opcode 0x69 ('i') (pickle byte 3)"],
    ['builtins.eval via STACK_GLOBAL (protocol 4)', () => storedZip({
      'a/data.pkl': Buffer.from('80049515000000000000008c086275696c74696e73948c046576616c9493942e', 'hex') }),
    'data.pkl: refused pickle global builtins.eval: not one of the allowed tensor-rebuild globals (nothing was executed)'],
    ['a list at the root', () => storedZip({ 'a/data.pkl': Buffer.from([0x80, 2, 0x5d, 0x2e]) }), 'data.pkl does not hold a dict of tensors'],
    ['NEWOBJ (class instantiation) opcode', () => storedZip({ 'a/data.pkl': Buffer.from([0x80, 2, 0x4e, 0x29, 0x81, 0x2e]) }),
      'data.pkl: unsupported pickle opcode 0x81 (pickle byte 4)'],
    ['encrypted entry', () => {
      const z = storedZip({ 'a/data.pkl': Buffer.from([0x80, 2, 0x7d, 0x2e]) });
      z.writeUInt16LE(1, z.length - 22 - 46 - 10 + 8); // central header general-purpose flag bit 0
      return z;
    }, 'zip entry a/data.pkl is encrypted'],
  ];
  test.each(cases)('%s', (name, make, problem) => {
    const file = path.join(scratch.dir(), `${name.replace(/[^a-z0-9]+/gi, '-')}.bin`);
    fs.writeFileSync(file, make());
    let error: unknown;
    try {
      readTorchBin(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightFileError);
    expect((error as Error).message).toBe(`${file}: ${problem}`);
  });

  test('a well-formed hand-made archive reads (the helper itself is sound)', () => {
    const file = path.join(scratch.dir(), 'good.bin');
    const data = Buffer.alloc(8);
    data.writeFloatLE(1.5, 0);
    data.writeFloatLE(-2, 4);
    fs.writeFileSync(file, storedZip({ 'a/data.pkl': tensorPickle('0', 2, 1, 1), 'a/data/0': data }));
    const w = readTorchBin(file).tensors.get('w')!;
    expect(w).toMatchObject({ dtype: 'F32', shape: [1], length: 4 });
    expect(bytesAt(w).readFloatLE(0)).toBe(-2);
  });
});
