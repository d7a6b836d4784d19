/**
 * A pickle reader that never executes anything: it interprets the opcodes torch.save emits (protocols 2–5) and
 * resolves every GLOBAL through a caller-given allow-list. A global outside the list stops the read with
 * PickleRefusedError naming it, before anything could be called; unknown opcodes stop it too.
 *
 *   unpickle(bytes, { globals, persistentLoad }): unknown
 *   PickleDict (dicts, OrderedDicts), PickleTuple (tuples; lists are plain arrays)
 */
import { CodedError } from '../../protocol';

export class PickleError extends CodedError<'BAD_PICKLE'> {
  override readonly name: string = 'PickleError';
  constructor(message: string) {
    super('BAD_PICKLE', message);
  }
}
/** A global outside the allow-list (e.g. `posix.system`): the file tried to call code. */
export class PickleRefusedError extends PickleError {
  override readonly name = 'PickleRefusedError';
  constructor(readonly global: string) {
    super(`refused pickle global ${global}: not one of the allowed tensor-rebuild globals (nothing was executed)`);
  }
}

/** A Python dict (insertion ordered, like Python's). */
export class PickleDict extends Map<unknown, unknown> {}
/** A Python tuple, kept apart from lists so argument checks can tell them apart. */
export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** What an allowed global does when the pickle calls it (REDUCE) with its argument tuple. */
export type PickleCallable = (args: readonly unknown[]) => unknown;

export interface UnpickleOptions {
  /** "module.name" → behaviour; anything else is refused. */
  readonly globals: ReadonlyMap<string, PickleCallable>;
  readonly persistentLoad: (pid: unknown) => unknown;
  /** BUILD (setstate) on an object made by an allowed global; default: refuse. */
  readonly build?: (target: unknown, state: unknown) => void;
}

class GlobalRef {
  constructor(
    readonly qualified: string,
    readonly call: PickleCallable,
  ) {}
}

const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const fail = (what: string): never => {
    throw new PickleError(`${what} (pickle byte ${pos})`);
  };
  const need = (n: number): number => {
    if (pos + n > buf.length) fail('pickle ends in the middle of an opcode');
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK on the pickle stack');
    return v;
  };
  const top = (): unknown => {
    const v = stack[stack.length - 1];
    if (stack.length === 0 || v === MARK) fail('pickle stack underflow');
    return v;
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('pickle MARK missing');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated GLOBAL line');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const resolveGlobal = (module: string, name: string): GlobalRef => {
    const qualified = `${module}.${name}`;
    const call = options.globals.get(qualified);
    if (!call) throw new PickleRefusedError(qualified);
    return new GlobalRef(qualified, call);
  };
  const text = (length: number, encoding: 'utf8' | 'latin1'): string => {
    const at = need(length);
    return buf.toString(encoding, at, at + length);
  };
  const length64 = (): number => {
    const v = buf.readBigUInt64LE(need(8));
    if (v > BigInt(buf.length)) fail('length beyond the end of the pickle');
    return Number(v);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof PickleDict)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2 !== 0) fail('odd number of items for SETITEMS');
    for (let i = 0; i < items.length; i += 2) (dict as PickleDict).set(items[i], items[i + 1]);
  };

  for (;;) {
    if (pos >= buf.length) fail('pickle ends without STOP');
    const opAt = pos;
    const op = buf[need(1)] as number;
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME: framing hint only
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`pickle STOP with ${stack.length} values on the stack`);
        return pop();
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new PickleDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; }
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: stack.push(buf.readInt32LE(need(4))); break; // BININT
      case 0x4b: stack.push(buf.readUInt8(need(1))); break; // BININT1
      case 0x4d: stack.push(buf.readUInt16LE(need(2))); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1 / LONG4: little-endian two's complement
        const n = op === 0x8a ? buf.readUInt8(need(1)) : buf.readUInt32LE(need(4));
        if (n > 8) fail(`integer of ${n} bytes is out of range`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i] as number);
        if (n > 0 && ((buf[at + n - 1] as number) & 0x80)) v -= 1n << BigInt(8 * n);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail(`integer ${v} is out of range`);
        stack.push(Number(v));
        break;
      }
      case 0x47: stack.push(buf.readDoubleBE(need(8))); break; // BINFLOAT
      case 0x58: stack.push(text(buf.readUInt32LE(need(4)), 'utf8')); break; // BINUNICODE
      case 0x8c: stack.push(text(buf.readUInt8(need(1)), 'utf8')); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(length64(), 'utf8')); break; // BINUNICODE8
      case 0x54: stack.push(text(buf.readUInt32LE(need(4)), 'latin1')); break; // BINSTRING
      case 0x55: stack.push(text(buf.readUInt8(need(1)), 'latin1')); break; // SHORT_BINSTRING
      case 0x42: case 0x43: case 0x8e: { // BINBYTES / SHORT_BINBYTES / BINBYTES8
        const n = op === 0x42 ? buf.readUInt32LE(need(4)) : op === 0x43 ? buf.readUInt8(need(1)) : length64();
        const at = need(n);
        stack.push(Buffer.from(buf.subarray(at, at + n)));
        break;
      }
      case 0x71: memo.set(buf.readUInt8(need(1)), top()); break; // BINPUT
      case 0x72: memo.set(buf.readUInt32LE(need(4)), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET / LONG_BINGET
        const i = op === 0x68 ? buf.readUInt8(need(1)) : buf.readUInt32LE(need(4));
        if (!memo.has(i)) fail(`memo entry ${i} read before it was written`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(resolveGlobal(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x51: stack.push(options.persistentLoad(pop())); break; // BINPERSID
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof GlobalRef)) fail('REDUCE on something that is not an allowed global');
        if (!(args instanceof PickleTuple)) fail(`REDUCE of ${(callable as GlobalRef).qualified} without an argument tuple`);
        stack.push((callable as GlobalRef).call((args as PickleTuple).items));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (!options.build) fail('BUILD (setstate) is not allowed in this pickle');
        options.build!(target, state);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = pop(); const list = top(); if (!Array.isArray(list)) fail('APPEND to a non-list'); (list as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(); const list = top(); if (!Array.isArray(list)) fail('APPENDS to a non-list'); (list as unknown[]).push(...items); break; }
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        pos = opAt;
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}` +
          (op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''));
    }
  }
}
