import { ProtoWriter } from '../../../companion/onnx/protobuf';
import { encodeModel, TensorDataType } from '../../../companion/onnx/onnx-proto';
import { decodeModel, readFields } from '../../helpers/proto-decode';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ProtoWriter', () => {
  it('writes varints as the protobuf spec example (field 1 = 150 → 08 96 01)', () => {
    expect(hex(new ProtoWriter().int64(1, 150).finish())).toBe('089601');
  });

  it('writes negative int64 as a 10-byte two\'s complement varint', () => {
    expect(hex(new ProtoWriter().int64(3, -1).finish())).toBe('18ffffffffffffffffff01');
    expect(hex(new ProtoWriter().int64(3, -2).finish())).toBe('18feffffffffffffffff01');
  });

  it('writes large int64 dims beyond 32 bits', () => {
    const f = readFields(new ProtoWriter().int64(1, 2 ** 40 + 3).finish());
    expect(f[0]!.varint).toBe(2n ** 40n + 3n);
  });

  it('writes strings, floats and nested messages with length prefixes', () => {
    const w = new ProtoWriter().string(2, 'ab').float(5, 1.5).message(7, (m) => m.int64(1, 1));
    expect(hex(w.finish())).toBe('12026162' + '2d0000c03f' + '3a020801');
  });

  it('refuses non-integer int64 values instead of writing garbage', () => {
    expect(() => new ProtoWriter().int64(1, 1.5)).toThrow(/safe integer/);
  });

  it('grows its buffer past the initial size', () => {
    const big = new Uint8Array(10_000).fill(7);
    const f = readFields(new ProtoWriter().bytes(1, big).bytes(2, big).finish());
    expect(f.map((x) => x.bytes!.length)).toEqual([10_000, 10_000]);
  });
});

describe('encodeModel', () => {
  it('round-trips nodes, initializers (raw and external) and opsets through a wire-format reader', () => {
    const bytes = encodeModel({
      irVersion: 8,
      producerName: 'test',
      producerVersion: '0',
      opsetImports: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'g',
        nodes: [{ name: 'n0', opType: 'FusedMatMul', domain: 'com.microsoft', inputs: ['x', 'w'], outputs: ['y'],
          attributes: [{ name: 'transB', value: { kind: 'int', value: 1 } }, { name: 'axes', value: { kind: 'ints', value: [-1, 2] } }] }],
        initializers: [
          { name: 'w', dataType: TensorDataType.FLOAT16, dims: [3, 4], externalData: { location: 'a/b.safetensors', offset: 350, length: 24 } },
          { name: 'c', dataType: TensorDataType.INT64, dims: [2], rawData: new Uint8Array(16) },
        ],
        inputs: [{ name: 'x', elemType: TensorDataType.FLOAT, shape: ['batch', 4] }],
        outputs: [{ name: 'y', elemType: TensorDataType.FLOAT, shape: null }],
        valueInfo: [],
      },
    });
    const m = decodeModel(bytes);
    expect(m.irVersion).toBe(8);
    expect(m.opsets).toEqual({ '': 17, 'com.microsoft': 1 });
    expect(m.nodes).toEqual([{ name: 'n0', opType: 'FusedMatMul', domain: 'com.microsoft', inputs: ['x', 'w'], outputs: ['y'] }]);
    expect(m.initializers[0]).toEqual({ name: 'w', dims: [3, 4], dataType: 10, rawLength: 0,
      external: { location: 'a/b.safetensors', offset: '350', length: '24' } });
    expect(m.initializers[1]).toMatchObject({ name: 'c', dims: [2], dataType: 7, rawLength: 16 });
    expect(m.inputs).toEqual(['x']);
    expect(m.outputs).toEqual(['y']);
  });

  it('rejects a tensor with both raw and external data', () => {
    expect(() => encodeModel({
      irVersion: 8, producerName: '', producerVersion: '', opsetImports: [],
      graph: { name: 'g', nodes: [], inputs: [], outputs: [], valueInfo: [],
        initializers: [{ name: 't', dataType: 1, dims: [1], rawData: new Uint8Array(4), externalData: { location: 'x', offset: 0, length: 4 } }] },
    })).toThrow(/TensorProto t: needs exactly one/);
  });
});
