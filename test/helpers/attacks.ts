/**
 * The adversarial suite of issue 13 as data and functions, shared by its test (test/companion/server/adversarial.test.ts)
 * and its benchmark (bench/adversarial-rss.ts): deterministic malformed messages, 60 named attack scenarios, and a
 * storm of real jobs from many clients with cancels and disconnects. Loopback only; every count and wait is bounded.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import {
  encodeFrame, encodeImageFrames, ERROR_CODE_LIST, FrameKind, PROTOCOL_VERSION, type ErrorCode, type FrameHeader, type ServerMessage,
} from '../../protocol';
import { TestClient } from './ws-client';

export interface Target {
  readonly url: string;
  readonly port: number;
  readonly token: string;
}

/** A small deterministic generator (mulberry32), so a failing message can be found again. */
export function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GOOD_PARAMS = { prompt: 'p', width: 64, height: 64, steps: 1 };

function fail(what: string): never {
  throw new Error(what);
}

function expectCode(m: ServerMessage | undefined, codes: readonly ErrorCode[], what: string): void {
  if (!m || m.type !== 'error' || !codes.includes(m.code)) fail(`${what}: expected ${codes.join('|')}, got ${JSON.stringify(m)?.slice(0, 300)}`);
}

// ------------------------------------------------------------------ malformed messages

/** Values that are wrong for each field of `generate.params` (every one of them invalid there). */
const WRONG: Record<string, readonly unknown[]> = {
  prompt: [null, 0, '', [], {}, 'x'.repeat(8193)],
  width: [null, '64', 0, -8, 1e308, 7.5, 63, 2 ** 53, []],
  height: [null, '64', 0, -64, 9, 1e20, {}],
  steps: [0, -1, 1e9, 2.5, 'x', null],
  seed: [-1, 1.5, 'abc', 2 ** 60, {}, []],
  variations: [0, 5, 'two', 1e6, 1.5],
  guidance: [-1, 1e300, 'x', [], 31],
  adainStrength: [2, -0.5, 'max', null],
  scale: [-1, 3, 'x', []],
  teacherSteps: [-1, 1e9, 1.5, 'x'],
  negativeStyle: [{ kind: 'image', image: { transferId: 1 } }, {}, 'none', 5, { transferId: -1 }],
  drop: ['shape', 'none', 5, null, { preset: 'colour' }],
  style: [{ transferId: -1 }, { transferId: 'a' }, 'style', { transferId: 2 ** 33 }, null],
  scheduler: ['lms', 3, null, 'EULER'],
  styleLayers: ['some', 1, null],
  styleResize: ['square', 0, null],
  negativePrompt: [5, null, [], 'x'.repeat(8193)],
  crossModalAdain: ['yes', 1, null],
  teacher: ['no', 0, null, true], // not a field since protocol 2: refused, never silently dropped
};
const GENERATE_FIELDS = Object.keys(WRONG);

/**
 * `count` text frames that are each wrong in one way: not JSON, not an object, unknown type, a known type with a wrong
 * or missing field, too deep, or cut short. None is a valid message: each must get exactly one error.
 */
export function malformedTexts(count: number, seed: number): string[] {
  const random = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const out: string[] = [];
  const makers: Array<() => string> = [
    () => {
      const field = pick(GENERATE_FIELDS);
      return JSON.stringify({ type: 'generate', requestId: `m${out.length}`, params: { ...GOOD_PARAMS, [field]: pick(WRONG[field]!) } });
    },
    () => JSON.stringify({ type: 'generate', requestId: pick([null, 5, '', 'r'.repeat(65)]), params: GOOD_PARAMS }),
    () => JSON.stringify({ type: 'generate', requestId: 'r', params: pick([null, 7, 'p', []]) }),
    () => JSON.stringify({ type: pick(['GENERATE', 'generate ', 'hello2', '', 'models.push', 'panels.delete', 'status.', 'ping!']) }),
    () => JSON.stringify({ type: pick([1, null, true, [], {}]) }),
    () => JSON.stringify(pick([1, 'status', null, [1, 2, 3], true, 2.5])),
    () => `{"type":"status"${'x'.repeat(Math.floor(random() * 40))}`,
    () => pick(['', ' ', 'undefined', 'NaN', '{', '}', '[', '{"type":}', "{'type':'ping'}", '{"type":"ping",}']),
    () => `{"type":"ping","x":${'['.repeat(17 + Math.floor(random() * 2000))}${']'.repeat(10)}}`,
    () => JSON.stringify({ type: 'cancel', jobId: pick([1, null, '', 'j'.repeat(65), ['a']]) }),
    () => JSON.stringify({ type: 'cancel', jobId: `no-such-job-${out.length}` }),
    () => JSON.stringify({ type: 'models.pull', requestId: pick([1, null, '', 'm'.repeat(65)]) }),
    () => JSON.stringify({ type: 'panels.revoke', id: pick([1, null, '', 'p-unknown']) }),
    () => JSON.stringify({ type: 'ping', nonce: pick(['n', [], {}, true]) }),
    () => JSON.stringify({ type: 'hello', protocolVersion: pick([1, '1', '1.0.0', 'x.y']), token: 't' }),
    () => JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 'already-paired' }),
    () => '{"type":"generate","requestId":"r","params":{"prompt":"p","width":1e999,"height":64}}',
    () => JSON.stringify({ type: 'generate', requestId: 'r', params: { ...GOOD_PARAMS, width: 8 * (1 + Math.floor(random() * 300)) + 1 } }),
    () => JSON.stringify({ type: 'generate', requestId: 'r', params: { ...GOOD_PARAMS, style: { transferId: 900_000 + out.length } } }),
    () => JSON.stringify({ type: 'generate', requestId: 'r', params: { ...GOOD_PARAMS, prompt: 'x'.repeat(2001 + Math.floor(random() * 3000)) } }),
  ];
  while (out.length < count) out.push(pick(makers)());
  return out;
}

/** `count` binary frames each broken in one way (header, sizes, order, direction, limits). */
export function malformedFrames(count: number, seed: number): Uint8Array[] {
  const random = seeded(seed);
  const int = (n: number) => Math.floor(random() * n);
  const out: Uint8Array[] = [];
  const header = (over: Partial<FrameHeader>): FrameHeader => ({
    kind: FrameKind.upload, transferId: 50_000 + out.length, chunkIndex: 0, chunkCount: 1, width: 4, height: 4, totalBytes: 64, ...over,
  });
  const makers: Array<() => Uint8Array> = [
    () => new Uint8Array(int(32)),
    () => {
      const f = encodeFrame(header({}), new Uint8Array(64));
      const i = int(8);
      f[i] = f[i]! ^ 0xff; // magic, version, kind or headerBytes broken
      return f;
    },
    () => encodeFrame(header({ kind: pick2(FrameKind.result, FrameKind.preview) }), new Uint8Array(64)),
    () => encodeFrame(header({ width: 0 }), new Uint8Array(4)),
    () => encodeFrame(header({ totalBytes: 63 }), new Uint8Array(63)),
    () => encodeFrame(header({ chunkIndex: 1 + int(5), chunkCount: 8 }), new Uint8Array(8)),
    () => encodeFrame(header({ chunkCount: 0 }), new Uint8Array(64)),
    () => encodeFrame(header({ width: 4096, height: 4096, totalBytes: 4096 * 4096 * 4, chunkCount: 64 }), new Uint8Array(16)),
    () => encodeFrame(header({ width: 2, height: 200, totalBytes: 1600 }), new Uint8Array(1600)),
    () => encodeFrame(header({}), new Uint8Array(65)),
  ];
  function pick2<T>(a: T, b: T): T {
    return random() < 0.5 ? a : b;
  }
  while (out.length < count) out.push(makers[int(makers.length)]!());
  return out;
}

export interface MalformedStats {
  text: number;
  binary: number;
  codes: Record<string, number>;
}

/**
 * Sends malformed text and binary frames over a few paired connections, checking after every batch that each text
 * frame got exactly one error with a documented code (never INTERNAL), binary frames at most one, and that the
 * connection is still open.
 */
export async function sendMalformed(target: Target, texts: readonly string[], frames: readonly Uint8Array[]): Promise<MalformedStats> {
  const stats: MalformedStats = { text: 0, binary: 0, codes: {} };
  const documented = new Set<string>(ERROR_CODE_LIST);
  const conns = await Promise.all([0, 1, 2, 3].map(() => TestClient.paired(target.url, target.token)));
  const batch = 50;
  const check = async (c: TestClient, from: number, sent: number, exact: boolean): Promise<void> => {
    await c.roundTrip();
    const answers = c.messages.slice(from, -1);
    if (exact ? answers.length !== sent : answers.length > sent) fail(`${sent} malformed frames got ${answers.length} answers: ${JSON.stringify(answers.slice(0, 3))}`);
    for (const a of answers) {
      if (a.type !== 'error') fail(`a malformed frame was answered with ${a.type}`);
      if (a.code === 'INTERNAL' || !documented.has(a.code)) fail(`a malformed frame got ${a.code}: ${a.message}`);
      stats.codes[a.code] = (stats.codes[a.code] ?? 0) + 1;
    }
    if (!c.isOpen) fail('a malformed frame closed a paired connection');
  };
  for (let i = 0; i < texts.length; i += batch) {
    const c = conns[(i / batch) % conns.length]!;
    const from = c.messages.length;
    const part = texts.slice(i, i + batch);
    for (const t of part) c.send(t);
    await check(c, from, part.length, true);
    stats.text += part.length;
  }
  for (let i = 0; i < frames.length; i += batch) {
    const c = conns[(i / batch) % conns.length]!;
    const from = c.messages.length;
    const part = frames.slice(i, i + batch);
    for (const f of part) c.sendBinary(f);
    await check(c, from, part.length, false);
    stats.binary += part.length;
  }
  for (const c of conns) c.close();
  return stats;
}

// ------------------------------------------------------------------ attack scenarios

export interface Attack {
  readonly name: string;
  run(target: Target): Promise<void>;
}

async function handshakeStatus(target: Target, headers: Record<string, string>, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: target.port, method, path: '/', headers, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 101);
    });
    req.on('timeout', () => req.destroy(new Error('handshake timed out')));
    req.on('error', reject);
    req.end();
  });
}

function upgradeHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...extra };
}

const refusedOrigin = (origin: string): Attack => ({
  name: `handshake with Origin ${origin} is refused (403)`,
  run: async (t) => {
    const status = await handshakeStatus(t, upgradeHeaders({ Host: `127.0.0.1:${t.port}`, Origin: origin }));
    if (status !== 403) fail(`status ${status}`);
  },
});

const refusedHost = (host: string): Attack => ({
  name: `handshake with Host ${host} is refused (403)`,
  run: async (t) => {
    const status = await handshakeStatus(t, upgradeHeaders({ Host: host.replace('PORT', String(t.port)) }));
    if (status !== 403) fail(`status ${status}`);
  },
});

/** One message on a fresh unpaired connection; the error it gets and how the connection ends. */
async function preAuth(t: Target, send: (c: TestClient) => void): Promise<{ first: ServerMessage | undefined; code: number }> {
  const c = await TestClient.connect(t.url);
  send(c);
  // The connection ends, or its answer came and no close followed within a moment (refusals close at once).
  const answered = c.waitUntil(() => c.messages[0], 8000).then(() => sleep(400)).then(() => ({ code: -1 }), () => ({ code: -1 }));
  const closed = await Promise.race([c.closed, answered]);
  c.terminate();
  return { first: c.messages[0], code: closed.code };
}

async function pairedAnswer(t: Target, send: (c: TestClient) => void): Promise<ServerMessage | undefined> {
  const c = await TestClient.paired(t.url, t.token);
  const from = c.messages.length;
  send(c);
  await c.roundTrip();
  const answer = c.messages.slice(from, -1)[0];
  c.close();
  return answer;
}

const hello = (token: string, protocolVersion: string = PROTOCOL_VERSION) => ({ type: 'hello', protocolVersion, token });

async function pairingTime(t: Target): Promise<number> {
  const t0 = performance.now();
  const c = await TestClient.paired(t.url, t.token);
  const ms = performance.now() - t0;
  c.close();
  return ms;
}

function uploadFrames(transferId: number, w: number, h: number): Uint8Array[] {
  return encodeImageFrames(FrameKind.upload, transferId, w, h, new Uint8Array(w * h * 4).fill(77));
}

export const ATTACKS: readonly Attack[] = [
  // Handshake: who may connect at all.
  ...['null', 'https://evil.example', 'http://127.0.0.1:8080', 'file://', 'chrome-extension://abcdefgh', 'moz-extension://x', 'data:'].map(refusedOrigin),
  ...['evil.example:PORT', '127.0.0.1.nip.io:PORT', '127.0.0.1:1', 'localhost.evil:PORT', '192.168.1.2:PORT', '[::2]:PORT'].map(refusedHost),
  {
    name: 'plain HTTP GET and POST get 426, never an upgrade',
    run: async (t) => {
      for (const method of ['GET', 'POST']) {
        const status = await handshakeStatus(t, { Host: `127.0.0.1:${t.port}` }, method);
        if (status !== 426) fail(`${method}: ${status}`);
      }
    },
  },
  {
    name: 'a WebSocket version 7 handshake is refused',
    run: async (t) => {
      const status = await handshakeStatus(t, upgradeHeaders({ Host: `127.0.0.1:${t.port}`, 'Sec-WebSocket-Version': '7' }));
      if (status < 400) fail(`status ${status}`);
    },
  },
  {
    name: 'a handshake without Sec-WebSocket-Key is refused',
    run: async (t) => {
      const h = upgradeHeaders({ Host: `127.0.0.1:${t.port}` });
      delete h['Sec-WebSocket-Key'];
      const status = await handshakeStatus(t, h);
      if (status < 400) fail(`status ${status}`);
    },
  },
  {
    name: 'half-written handshakes and resets leave the daemon serving',
    run: async (t) => {
      for (let i = 0; i < 20; i++) {
        const s = net.connect(t.port, '127.0.0.1');
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\n`);
        s.resetAndDestroy();
      }
      await pairingTime(t);
    },
  },
  // Pairing: nobody else can block it.
  {
    name: '40 idle unpaired sockets do not delay a pairing by 1 s',
    run: async (t) => {
      const idle = await Promise.all(Array.from({ length: 40 }, () => TestClient.connect(t.url)));
      const ms = await pairingTime(t);
      for (const c of idle) c.terminate();
      if (ms > 1000) fail(`pairing took ${ms} ms`);
    },
  },
  {
    name: 'a wrong-token hammer on 8 sockets does not delay a pairing by 1 s',
    run: async (t) => {
      let stop = false;
      const hammer = async (k: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const c = await TestClient.connect(t.url).catch(() => undefined);
          if (!c) continue;
          c.send(hello(`wrong-${k}-${i}`));
          await Promise.race([c.closed, sleep(100)]);
          c.terminate();
        }
      };
      const hammers = Array.from({ length: 8 }, (_, k) => hammer(k));
      await sleep(500);
      const ms = await pairingTime(t);
      stop = true;
      await Promise.all(hammers);
      if (ms > 1000) fail(`pairing took ${ms} ms`);
    },
  },
  {
    name: '200 connections opened and dropped at once leave the daemon serving',
    run: async (t) => {
      const cs = await Promise.all(Array.from({ length: 200 }, () => TestClient.connect(t.url).catch(() => undefined)));
      for (const c of cs) c?.terminate();
      if ((await pairingTime(t)) > 1000) fail('pairing slow after the burst');
    },
  },
  // Before pairing: small, few, text only.
  {
    name: 'an 800 KB hello is refused unread (1009/4401)',
    run: async (t) => {
      const r = await preAuth(t, (c) => c.send({ ...hello(t.token), pad: 'x'.repeat(800_000) }));
      if (![1009, 4401, 1006].includes(r.code) || r.first?.type === 'welcome') fail(`close ${r.code}, ${JSON.stringify(r.first)}`);
    },
  },
  {
    name: 'a 1 MiB binary frame before pairing is refused unread',
    run: async (t) => {
      const r = await preAuth(t, (c) => c.sendBinary(new Uint8Array(1024 * 1024)));
      if (![1009, 4401, 1006].includes(r.code)) fail(`close ${r.code}`);
    },
  },
  {
    name: 'a small binary frame before pairing ends the connection (NOT_AUTHENTICATED, 4401)',
    run: async (t) => {
      const r = await preAuth(t, (c) => c.sendBinary(uploadFrames(1, 2, 2)[0]!));
      expectCode(r.first, ['NOT_AUTHENTICATED'], 'binary before hello');
      if (r.code !== 4401) fail(`close ${r.code}`);
    },
  },
  {
    name: 'five messages before pairing end the connection',
    run: async (t) => {
      const r = await preAuth(t, (c) => {
        for (let i = 0; i < 6; i++) c.send({ type: 'status' });
      });
      if (r.code !== 4401) fail(`close ${r.code}`);
    },
  },
  {
    name: 'a never-pairing socket is closed within the hello timeout',
    run: async (t) => {
      const r = await preAuth(t, () => undefined);
      expectCode(r.first, ['HELLO_TIMEOUT'], 'idle socket');
    },
  },
  {
    name: 'deeply nested JSON before pairing gets BAD_JSON',
    run: async (t) => {
      const r = await preAuth(t, (c) => c.send(`{"type":"hello","x":${'['.repeat(1500)}}`));
      expectCode(r.first, ['BAD_JSON'], 'deep hello');
    },
  },
  ...([
    ['a 300-character token', { ...hello('t'.repeat(300)) }, ['BAD_MESSAGE']],
    ['an empty token', hello(''), ['BAD_MESSAGE']],
    ['protocol 3.0', hello('x', '3.0'), ['VERSION_MISMATCH']],
    ['protocol 0.1', hello('x', '0.1'), ['VERSION_MISMATCH']],
    ['protocol "1.0.0"', hello('x', '1.0.0'), ['BAD_MESSAGE']],
    ['a panel-token-shaped guess', hello(`p.${'A'.repeat(43)}`), ['BAD_TOKEN']],
    ['a number as token', { type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 12345 }, ['BAD_MESSAGE']],
    ['__proto__ keys', JSON.parse(`{"type":"hello","protocolVersion":"${PROTOCOL_VERSION}","token":"x","__proto__":{"polluted":1}}`), ['BAD_TOKEN']],
  ] as const).map(([what, msg, codes]): Attack => ({
    name: `hello with ${what} is refused (${codes.join('|')})`,
    run: async (t) => {
      const r = await preAuth(t, (c) => c.send(msg));
      expectCode(r.first, codes, what);
    },
  })),
  {
    name: 'the right token with a trailing space is a wrong token',
    run: async (t) => {
      const r = await preAuth(t, (c) => c.send(hello(`${t.token} `)));
      expectCode(r.first, ['BAD_TOKEN'], 'token + space');
    },
  },
  {
    name: 'invalid UTF-8 in a text frame closes that connection only (1007)',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      c.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
      const closed = await Promise.race([c.closed, sleep(5000).then(() => ({ code: -1 }))]);
      if (closed.code !== 1007) fail(`close ${closed.code}`);
      await pairingTime(t);
    },
  },
  // After pairing: bounded cost, coded errors.
  {
    name: 'a second hello on a paired connection is ALREADY_AUTHENTICATED',
    run: async (t) => expectCode(await pairedAnswer(t, (c) => c.send(hello(t.token))), ['ALREADY_AUTHENTICATED'], 'second hello'),
  },
  {
    name: 'JSON nested 200 000 deep after pairing gets BAD_JSON, never INTERNAL',
    run: async (t) => expectCode(await pairedAnswer(t, (c) => c.send(`{"type":"status","x":${'['.repeat(200_000)}}`)), ['BAD_JSON'], 'deep'),
  },
  {
    name: 'a 2 MiB text frame after pairing closes with 1009',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      c.send('x'.repeat(2 * 1024 * 1024));
      if ((await c.closed).code !== 1009) fail('not 1009');
    },
  },
  {
    name: 'a 3 MiB binary frame after pairing closes with 1009',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      c.sendBinary(new Uint8Array(3 * 1024 * 1024));
      if ((await c.closed).code !== 1009) fail('not 1009');
    },
  },
  ...([
    ['an upload of kind result', () => [encodeFrame({ kind: FrameKind.result, transferId: 1, chunkIndex: 0, chunkCount: 1, width: 2, height: 2, totalBytes: 16 }, new Uint8Array(16))], ['BAD_FRAME']],
    ['an empty binary frame', () => [new Uint8Array(0)], ['BAD_FRAME']],
    ['an upload starting at chunk 3', () => [encodeFrame({ kind: FrameKind.upload, transferId: 1, chunkIndex: 3, chunkCount: 5, width: 4, height: 4, totalBytes: 64 }, new Uint8Array(8))], ['CHUNK_ORDER']],
    ['a 2049-pixel upload', () => [uploadFrames(1, 2049, 1)[0]!], ['IMAGE_TOO_LARGE']],
    ['a 1×64 upload (aspect 64)', () => uploadFrames(1, 1, 64), ['BAD_IMAGE']],
    ['a chunk disagreeing with its first', () => {
      const [a, b] = encodeImageFrames(FrameKind.upload, 1, 600, 600, new Uint8Array(600 * 600 * 4));
      new DataView(b!.buffer).setUint32(20, 601, true);
      return [a!, b!];
    }, ['BAD_IMAGE', 'CHUNK_ORDER']],
  ] as const).map(([what, frames, codes]): Attack => ({
    name: `${what} is refused (${codes.join('|')})`,
    run: async (t) => expectCode(await pairedAnswer(t, (c) => frames().forEach((f) => c.sendBinary(f))), codes, what),
  })),
  {
    name: 'a fifth pending upload is UPLOAD_LIMIT',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      for (let id = 1; id <= 5; id++) c.sendBinary(uploadFrames(id, 8, 8)[0]!);
      await c.roundTrip();
      expectCode(c.messages.find((m) => m.type === 'error'), ['UPLOAD_LIMIT'], '5 uploads');
      c.close();
    },
  },
  {
    name: 'generate naming an unfinished upload is UNKNOWN_IMAGE',
    run: async (t) => expectCode(await pairedAnswer(t, (c) => {
      c.sendBinary(encodeImageFrames(FrameKind.upload, 9, 600, 600, new Uint8Array(600 * 600 * 4))[0]!);
      c.send({ type: 'generate', requestId: 'r', params: { ...GOOD_PARAMS, style: { transferId: 9 } } });
    }), ['UNKNOWN_IMAGE'], 'unfinished'),
  },
  ...([
    ['an unknown style transfer', { ...GOOD_PARAMS, style: { transferId: 4242 } }, ['UNKNOWN_IMAGE']],
    ['a 2001-character prompt', { ...GOOD_PARAMS, prompt: 'x'.repeat(2001) }, ['PROMPT_TOO_LONG']],
    ['a 4096-pixel side', { ...GOOD_PARAMS, width: 4096 }, ['IMAGE_TOO_LARGE', 'BAD_MESSAGE']],
    ['width 65', { ...GOOD_PARAMS, width: 65 }, ['BAD_MESSAGE']],
    ['a billion steps', { ...GOOD_PARAMS, steps: 1e9 }, ['BAD_MESSAGE']],
    ['a drop preset without a style', { ...GOOD_PARAMS, drop: 'colour' }, ['BAD_MESSAGE']],
    ['a seed of 2^60', { ...GOOD_PARAMS, seed: 2 ** 60 }, ['BAD_MESSAGE']],
  ] as const).map(([what, params, codes]): Attack => ({
    name: `generate with ${what} is refused (${codes.join('|')})`,
    run: async (t) => expectCode(await pairedAnswer(t, (c) => c.send({ type: 'generate', requestId: 'r', params })), codes, what),
  })),
  {
    name: 'cancelling an unknown job is UNKNOWN_JOB',
    run: async (t) => expectCode(await pairedAnswer(t, (c) => c.send({ type: 'cancel', jobId: 'nope' })), ['UNKNOWN_JOB'], 'cancel'),
  },
  {
    name: "cancelling another connection's job is UNKNOWN_JOB and leaves it running",
    run: async (t) => {
      const owner = await TestClient.paired(t.url, t.token);
      owner.send({ type: 'generate', requestId: 'mine', params: { ...GOOD_PARAMS, steps: 3 } });
      const accepted = await owner.waitFor((m) => m.type === 'accepted');
      if (accepted.type !== 'accepted') return fail('not accepted');
      expectCode(await pairedAnswer(t, (c) => c.send({ type: 'cancel', jobId: accepted.jobId })), ['UNKNOWN_JOB'], 'foreign cancel');
      const end = await owner.waitFor((m) => (m.type === 'done' || m.type === 'error') && 'jobId' in m && m.jobId === accepted.jobId, 60_000);
      if (end.type !== 'done' || end.outcome !== 'completed') fail(`the owner's job ended ${JSON.stringify(end)}`);
      owner.close();
    },
  },
  {
    name: 'a connection that queues more than its share gets QUEUE_FULL, then its jobs go when it drops',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      for (let i = 0; i < 17; i++) c.send({ type: 'generate', requestId: `q${i}`, params: { ...GOOD_PARAMS, steps: 4 } });
      const last = await c.waitFor((m) => 'requestId' in m && m.requestId === 'q16', 30_000);
      expectCode(last, ['QUEUE_FULL'], '17th job');
      c.terminate();
      await waitIdle(t);
    },
  },
  {
    name: 'panels.revoke of an unknown id is UNKNOWN_PANEL; panels.list answers',
    run: async (t) => {
      expectCode(await pairedAnswer(t, (c) => c.send({ type: 'panels.revoke', id: 'p-00000000' })), ['UNKNOWN_PANEL'], 'revoke');
      const list = await pairedAnswer(t, (c) => c.send({ type: 'panels.list' }));
      if (list?.type !== 'panels') fail(`panels.list answered ${JSON.stringify(list)}`);
    },
  },
  {
    name: 'models.pull with every model present answers models.done at once, twice in a row',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      c.send({ type: 'models.pull', requestId: 'a' });
      c.send({ type: 'models.pull', requestId: 'b' });
      await c.waitFor((m) => m.type === 'models.done' && m.requestId === 'b', 5000);
      if (!c.messages.some((m) => m.type === 'models.done' && m.requestId === 'a')) fail('first pull unanswered');
      c.close();
    },
  },
  {
    name: '1000 pings are each answered',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      for (let i = 0; i < 1000; i++) c.send({ type: 'ping', nonce: i });
      await c.waitFor((m) => m.type === 'pong' && m.nonce === 999, 20_000);
      if (c.messages.filter((m) => m.type === 'pong').length !== 1000) fail('pongs missing');
      c.close();
    },
  },
  {
    name: 'dropping the connection mid-upload and mid-job leaks nothing',
    run: async (t) => {
      const c = await TestClient.paired(t.url, t.token);
      c.sendBinary(encodeImageFrames(FrameKind.upload, 3, 1024, 1024, new Uint8Array(1024 * 1024 * 4))[0]!);
      c.send({ type: 'generate', requestId: 'd', params: { ...GOOD_PARAMS, steps: 4 } });
      await c.waitFor((m) => m.type === 'accepted');
      c.terminate();
      await waitIdle(t);
    },
  },
  {
    name: 'a 1 MiB flood from one client leaves another answered within 1 s',
    run: async (t) => {
      const attacker = await TestClient.paired(t.url, t.token);
      const victim = await TestClient.paired(t.url, t.token);
      const bomb = `{"type":"status","a":[${'1,'.repeat(500_000)}1]}`;
      for (let i = 0; i < 20; i++) attacker.send(bomb);
      const t0 = performance.now();
      await victim.roundTrip();
      const ms = performance.now() - t0;
      attacker.close();
      victim.close();
      if (ms > 1000) fail(`victim waited ${ms} ms`);
    },
  },
];

/** Waits until nothing runs or waits in the daemon's queue. */
export async function waitIdle(t: Target, timeoutMs = 60_000): Promise<void> {
  const probe = await TestClient.paired(t.url, t.token);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const from = probe.messages.length;
      probe.send({ type: 'status' });
      const s = await probe.waitFor((m) => m.type === 'status', 5000, from);
      if (s.type === 'status' && s.running === null && s.queue.length === 0) return;
      if (Date.now() > deadline) fail(`the queue did not drain: ${JSON.stringify(s)}`);
      await sleep(100);
    }
  } finally {
    probe.close();
  }
}

// ------------------------------------------------------------------ many clients, real jobs

export interface StormStats {
  submitted: number;
  completed: number;
  cancelled: number;
  dropped: number;
  results: number;
}

/**
 * `clients` connections × `jobs` real jobs each (64×64, 1–3 steps, 1–2 variations, some with a style upload), a third
 * cancelled and a quarter of the clients dropping their connection part-way. Every job of a client that stays
 * must end exactly once, with as many results as variations when it completed.
 */
export async function jobStorm(t: Target, clients: number, jobs: number, seed: number): Promise<StormStats> {
  const random = seeded(seed);
  const stats: StormStats = { submitted: 0, completed: 0, cancelled: 0, dropped: 0, results: 0 };
  const runClient = async (k: number): Promise<void> => {
    const c = await TestClient.paired(t.url, t.token);
    // Fixed per client, so every run has both: a quarter of the clients drop their connection part-way.
    const dropAfter = k % 4 === 3 ? Math.max(1, Math.floor(jobs / 2) + (k % 3) - 1) : -1;
    const mine: Array<{ jobId: string; variations: number }> = [];
    for (let i = 0; i < jobs; i++) {
      const variations = 1 + Math.floor(random() * 2);
      const requestId = `s${k}-${i}`;
      const withStyle = random() < 0.3;
      if (withStyle) for (const f of uploadFrames(i + 1, 32, 48)) c.sendBinary(f);
      c.send({ type: 'generate', requestId, params: { prompt: `storm ${k}.${i}`, width: 64, height: 64, steps: 1 + Math.floor(random() * 3), variations, seed: k * 1000 + i, ...(withStyle ? { style: { transferId: i + 1 } } : {}) } });
      const m = await c.waitFor((x) => 'requestId' in x && x.requestId === requestId, 30_000);
      if (m.type !== 'accepted') fail(`job ${requestId} refused: ${JSON.stringify(m)}`);
      stats.submitted++;
      mine.push({ jobId: m.jobId, variations });
      if ((k + i) % 3 === 0) c.send({ type: 'cancel', jobId: m.jobId }); // a third of the jobs, some waiting, some running
      if (i + 1 === dropAfter) {
        c.terminate();
        stats.dropped++;
        return;
      }
    }
    const ends = (id: string) => c.messages.filter((m) => (m.type === 'done' || m.type === 'error') && 'jobId' in m && m.jobId === id);
    await c.waitUntil(() => (mine.every((j) => ends(j.jobId).length > 0) ? true : undefined), 240_000, 'every job to end');
    for (const j of mine) {
      const e = ends(j.jobId);
      if (e.length !== 1) fail(`job ${j.jobId} ended ${e.length} times`);
      const end = e[0]!;
      const results = c.messages.filter((m) => m.type === 'result' && m.jobId === j.jobId).length;
      stats.results += results;
      if (end.type === 'done' && end.outcome === 'completed') {
        stats.completed++;
        if (results !== j.variations) fail(`job ${j.jobId} completed with ${results} of ${j.variations} results`);
      } else if (end.type === 'done') {
        stats.cancelled++;
      } else {
        fail(`job ${j.jobId} failed: ${JSON.stringify(end)}`);
      }
    }
    c.close();
  };
  await Promise.all(Array.from({ length: clients }, (_, k) => runClient(k)));
  await waitIdle(t);
  return stats;
}

/** Every code the daemon used in `counts` is a documented one (sanity for reports). */
export function undocumentedCodes(counts: Record<string, number>): string[] {
  const known = new Set<string>(ERROR_CODE_LIST);
  return Object.keys(counts).filter((c) => !known.has(c));
}
