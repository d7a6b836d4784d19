import { PickleDict, PickleError, PickleRefusedError, PickleTuple, unpickle } from '../../../companion/weights/restricted-pickle';

describe('restricted unpickler', () => {
  const none = { globals: new Map(), persistentLoad: () => { throw new Error('no pids'); } };
  test('protocol 4 opcodes (FRAME, MEMOIZE, SHORT_BINUNICODE, LONG1, BINFLOAT, bytes)', () => {
    // pickle.dumps({'a': [1, -2**40, 1.5, 'é', b'x', (1, 2), True, None, -1, 300, 70000]}, protocol=4)
    const v = unpickle(Buffer.from('8004953d000000000000007d948c0161945d94284b018a060000000000ff473ff80000000000008c02c3a994430178944b014b028694884e4affffffff4d2c014a7011010065732e', 'hex'), none);
    expect(v).toBeInstanceOf(PickleDict);
    const list = (v as PickleDict).get('a') as unknown[];
    expect(list.slice(0, 4)).toEqual([1, -(2 ** 40), 1.5, 'é']);
    expect(list[4]).toEqual(Buffer.from('x'));
    expect(list[5]).toEqual(new PickleTuple([1, 2]));
    expect(list.slice(6)).toEqual([true, null, -1, 300, 70000]);
  });

  test('integers beyond 2^53 are refused, not rounded', () => {
    expect(() => unpickle(Buffer.from('80025d71008a08ffffffffffffff7f612e', 'hex'), none)).toThrow(
      new PickleError('integer 9223372036854775807 is out of range (pickle byte 15)'));
  });

  test('an allowed global is called only through REDUCE; others throw PickleRefusedError', () => {
    // pickle.dumps(OrderedDict(a=1), protocol=2)
    const od = Buffer.from('800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e', 'hex');
    expect(() => unpickle(od, none)).toThrow(PickleRefusedError);
    const calls: unknown[] = [];
    const v = unpickle(od, { ...none, globals: new Map([['collections.OrderedDict', (args: readonly unknown[]) => { calls.push(args); return new PickleDict(); }]]) });
    expect(calls).toEqual([[]]);
    expect([...(v as PickleDict)]).toEqual([['a', 1]]);
  });
});
