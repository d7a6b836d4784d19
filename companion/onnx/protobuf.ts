/**
 * A minimal protobuf *encoder* (proto2/proto3 wire format), enough to write ONNX ModelProto.
 * Messages are written depth-first into a growable buffer; a nested message is encoded into its own
 * writer first so its length prefix is known (ONNX models here are a few MB at most).
 */

const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

const TEXT = new TextEncoder();

export class ProtoWriter {
  private buf: Uint8Array = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint of a non-negative safe integer. */
  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`protobuf: varint needs a non-negative safe integer, got ${value}`);
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  /** int64/int32 as protobuf encodes them: negatives are 10-byte two's complement varints. */
  private signedVarint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`protobuf: int64 must be a safe integer, got ${value}`);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    this.reserve(10);
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  private tag(field: number, wire: WireType): void {
    this.varint(field * 8 + wire);
  }

  private rawBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  int64(field: number, value: number): this {
    this.tag(field, WireType.Varint);
    this.signedVarint(value);
    return this;
  }

  /** int32 and enums share the varint encoding of int64. */
  int32(field: number, value: number): this {
    return this.int64(field, value);
  }

  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited);
    this.varint(value.length);
    this.rawBytes(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, TEXT.encode(value));
  }

  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** Repeated int64, unpacked: onnx.proto is proto2, where repeated scalars are unpacked by default. */
  repeatedInt64(field: number, values: readonly number[]): this {
    for (const v of values) this.int64(field, v);
    return this;
  }

  repeatedFloat(field: number, values: readonly number[]): this {
    for (const v of values) this.float(field, v);
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
