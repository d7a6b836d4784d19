/**
 * Issue 6.7: the real daemon — `node dist/companion/cli.js serve`, as users run it — on loopback with the tiny
 * default model set (tiny-serve.ts), under hostile input. Property-based (fast-check): every malformed message
 * gets a stable error code, the connection and the daemon stay up, and no job is ever created by garbage. Then
 * bad images, then 8 clients × 10 real tiny jobs (64×64, 1–4 steps) with random cancels and disconnects, with the
 * queue checked afterwards, and status/cancel latency while a real job runs.
 */
import fc from 'fast-check';
import {
  CLIENT_MESSAGE_TYPES, DEFAULT_LIMITS, encodeFrame, encodeImageFrames, ERROR_CODE_LIST, FrameKind, PROTOCOL_VERSION, type ErrorCode, type ServerMessage,
} from '../../../protocol';
import { waitForIdle } from '../../helpers/daemon-idle';
import { startTinyServe, type TinyServe } from '../../helpers/tiny-serve';
import { TestClient } from '../../helpers/ws-client';

jest.setTimeout(180_000);

/** `serve` runs with its default limits; only the queue is raised (--max-queue) to hold 8 clients × 10 jobs. */
const MAX_SIDE = DEFAULT_LIMITS.maxImageSide;
let daemon: TinyServe;

beforeAll(async () => {
  daemon = await startTinyServe({ args: ['--max-queue', '100'] });
});
// Shared daemon: each test starts once the jobs of earlier tests have ended, so its own checks of the queue hold.
beforeEach(async () => {
  await waitForIdle(daemon);
});
afterAll(async () => {
  expect(daemon.alive()).toBe(true);
  expect(daemon.stderr()).toBe('');
  expect(await daemon.stop()).toBe(0);
});

/** Sends `act`, then a ping; returns what the daemon said in between. */
async function answersTo(c: TestClient, act: () => void): Promise<ServerMessage[]> {
  const from = c.messages.length;
  act();
  await c.roundTrip();
  return c.messages.slice(from, -1);
}

async function assertIdle(): Promise<void> {
  const probe = await TestClient.paired(daemon.url, daemon.token);
  probe.send({ type: 'status' });
  const status = await probe.waitFor((m) => m.type === 'status');
  probe.close();
  expect(status).toMatchObject({ queue: { length: 0, mine: [] }, running: null });
}

// ------------------------------------------------------------------ hostile text messages

const validGenerate = { type: 'generate', requestId: 'r', params: { prompt: 'p', width: 64, height: 64, steps: 2 } };
const longString = (n: number) => 'x'.repeat(n);

/** Values that are wrong for the field they are put in (each list is invalid for that field). */
const WRONG: Record<string, unknown[]> = {
  'params.prompt': [0, null, [], {}, '', true, longString(9000)],
  'params.width': ['64', 0, -8, 1e308, 7.5, 1001, null, 2 ** 53],
  'params.height': [[], 9, -1, 1e20],
  'params.steps': [0, 1e9, 'x', 2.5, -3],
  'params.seed': [-1, 1.5, 'abc', 2 ** 60, {}],
  'params.variations': [0, 5, 'two', 1e6],
  'params.guidance': [-1, 1e300, 'x', []],
  'params.adainStrength': [2, -0.5, 'max'],
  'params.teacherSteps': [-1, 1e9, 1.5],
  'params.negativeStyle': [{ kind: 'drop', preset: 'shape' }, { kind: 'image' }, 'none', 5, { kind: 'image', image: { transferId: -1 } }],
  'params.style': [{ transferId: -1 }, { transferId: 'a' }, 'style', { transferId: 2 ** 33 }],
  'params.scheduler': ['lms', 3, null],
  requestId: ['', longString(65), 5, null],
  params: [null, 'params', [], 7],
};

const mutatedGenerate = fc
  .tuple(fc.constantFrom(...Object.keys(WRONG)), fc.nat())
  .map(([field, i]) => {
    const values = WRONG[field]!;
    const msg = JSON.parse(JSON.stringify(validGenerate)) as Record<string, Record<string, unknown>>;
    const [head, tail] = field.split('.') as [string, string | undefined];
    if (tail) msg[head]![tail] = values[i % values.length];
    else (msg as Record<string, unknown>)[head] = values[i % values.length];
    return JSON.stringify(msg);
  });

const missingField = fc
  .constantFrom<[Record<string, unknown>, string]>(
    [validGenerate, 'requestId'], [validGenerate, 'params'], [{ type: 'cancel', jobId: 'j' }, 'jobId'],
    [{ type: 'models.pull', requestId: 'm' }, 'requestId'], [{ type: 'hello', protocolVersion: '2.0', token: 't' }, 'token'],
  )
  .map(([msg, drop]) => {
    const copy = { ...msg };
    delete copy[drop];
    return JSON.stringify(copy);
  });

const knownTypes: readonly string[] = CLIENT_MESSAGE_TYPES;
const unknownType = fc
  .record({ type: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant('GENERATE'), fc.constant('generate ')), extra: fc.jsonValue() })
  .filter((m) => typeof m.type !== 'string' || !knownTypes.includes(m.type))
  .map((m) => JSON.stringify(m));

const notJson = fc.oneof(fc.string().map((s) => `{${s}`), fc.string({ minLength: 1 }).map((s) => `${s}}`), fc.constant(''), fc.constant('undefined'));
const jsonNonObject = fc.oneof(fc.integer(), fc.string(), fc.array(fc.jsonValue()), fc.constant(null), fc.boolean()).map((v) => JSON.stringify(v));
const hugeNumbers = fc.constantFrom(
  '{"type":"cancel","jobId":1e999}', '{"type":"ping","nonce":1e999}', '{"type":"generate","requestId":"r","params":{"prompt":"p","width":1e999,"height":64}}',
  '{"type":"generate","requestId":"r","params":{"prompt":"p","width":64,"height":64,"seed":123456789012345678901234567890}}',
);
const unknownJob = fc.string({ minLength: 1, maxLength: 64 }).map((jobId) => JSON.stringify({ type: 'cancel', jobId }));
const badHello = fc.constantFrom(
  JSON.stringify({ type: 'hello', protocolVersion: 1, token: 'x' }), JSON.stringify({ type: 'hello', protocolVersion: '2.0', token: longString(300) }),
  JSON.stringify({ type: 'hello', protocolVersion: '2.0', token: 'whatever' }), // well-formed, but this connection is paired already
);

const hostileText = fc.oneof(mutatedGenerate, missingField, unknownType, notJson, jsonNonObject, hugeNumbers, unknownJob, badHello);
const TEXT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'UNKNOWN_JOB', 'PROMPT_TOO_LONG', 'IMAGE_TOO_LARGE', 'UNKNOWN_IMAGE', 'ALREADY_AUTHENTICATED',
]);

test('250 hostile text messages: exactly one error each, with a stable code; nothing is queued', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(hostileText, async (text) => {
      const answers = await answersTo(c, () => c.send(text));
      expect(answers).toHaveLength(1);
      const a = answers[0]!;
      expect(a.type).toBe('error');
      if (a.type === 'error') {
        expect(TEXT_CODES.has(a.code)).toBe(true);
        seen.set(a.code, (seen.get(a.code) ?? 0) + 1);
      }
    }),
    { numRuns: 250, seed: 6007 },
  );
  console.log(`hostile text answers by code: ${JSON.stringify(Object.fromEntries(seen))}`);
  expect(c.invalid).toEqual([]);
  expect(c.isOpen).toBe(true);
  c.close();
  await assertIdle();
});

// ------------------------------------------------------------------ hostile binary messages

const BINARY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BAD_FRAME', 'BAD_IMAGE', 'IMAGE_TOO_LARGE', 'CHUNK_ORDER', 'UPLOAD_LIMIT']);
const validFrame = encodeImageFrames(FrameKind.upload, 1, 4, 4, new Uint8Array(64))[0]!;

const hostileBinary = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 64 }), // binary without header
  fc.tuple(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 255 })).map(([offset, value]) => {
    const f = validFrame.slice();
    f[offset] = value; // one header byte changed: often still a valid frame, then no answer
    return f;
  }),
  fc.constantFrom(FrameKind.result, FrameKind.preview, 0, 4, 255).map((kind) => { // a kind clients may not send
    const f = validFrame.slice();
    f[5] = kind;
    return f;
  }),
  fc.string({ maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s))), // text where binary is expected
);

test('120 hostile binary frames: at most one error each, with a binary-frame code; the connection stays', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  await fc.assert(
    fc.asyncProperty(hostileBinary, async (bytes) => {
      const answers = await answersTo(c, () => c.sendBinary(bytes));
      expect(answers.length).toBeLessThanOrEqual(1);
      for (const a of answers) {
        expect(a.type).toBe('error');
        if (a.type === 'error') expect(BINARY_CODES.has(a.code)).toBe(true);
      }
    }),
    { numRuns: 120, seed: 6008 },
  );
  expect(c.isOpen).toBe(true);
  c.close();
  await assertIdle();
});

test('no hello, wrong token: refused with stable codes on fresh connections; wrong tokens never lock out the right one', async () => {
  // Its own serve: wrong tokens raise the daemon's backoff, which would slow the other tests' failures down.
  const pairing = await startTinyServe();
  let badTokens = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileText, { minLength: 1, maxLength: 4 }), fc.string({ maxLength: 80 }), async (prelude, token) => {
        const c = await TestClient.connect(pairing.url);
        try {
          for (const text of prelude) {
            const from = c.messages.length;
            c.send(text);
            await c.waitUntil(() => (c.messages.length > from || !c.isOpen ? true : undefined));
            const answers = c.messages.slice(from);
            expect(answers).toHaveLength(1);
            // Hellos are checked before pairing, so they can be BAD_MESSAGE/BAD_TOKEN/BAD_JSON; the rest NOT_AUTHENTICATED.
            const code = answers[0]!.type === 'error' ? answers[0]!.code : 'none';
            expect(['NOT_AUTHENTICATED', 'BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'BAD_TOKEN']).toContain(code);
            if (code === 'BAD_TOKEN') badTokens++;
            if (code === 'BAD_TOKEN' || !c.isOpen) return;
          }
          c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: token === pairing.token ? `${token}x` : token || 'x' });
          const refusal = await c.waitFor((m) => m.type === 'error', 10_000, c.messages.length);
          expect(refusal.type === 'error' && ['BAD_TOKEN', 'BAD_MESSAGE', 'NOT_AUTHENTICATED'].includes(refusal.code)).toBe(true);
          if (refusal.type === 'error' && refusal.code === 'BAD_TOKEN') badTokens++;
        } finally {
          c.terminate();
        }
      }),
      { numRuns: 12, seed: 6009 },
    );
    console.log(`pairing: ${badTokens} BAD_TOKEN`);
    expect(badTokens).toBeGreaterThan(5);
    // Right after the failures the right token pairs at once: wrong tokens slow only themselves.
    const t0 = Date.now();
    const late = await TestClient.paired(pairing.url, pairing.token);
    expect(Date.now() - t0).toBeLessThan(1000);
    late.terminate();
    expect(pairing.alive()).toBe(true);
    expect(pairing.stderr()).toBe('');
  } finally {
    expect(await pairing.stop()).toBe(0);
  }
});

test('wrong protocol version, oversized frames: refused with stable close codes', async () => {
  for (const version of ['1.0', '3.0', '99.1']) {
    const c = await TestClient.connect(daemon.url);
    c.send({ type: 'hello', protocolVersion: version, token: daemon.token });
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'VERSION_MISMATCH' });
    expect((await c.closed).code).toBe(4426);
  }
  for (const size of [1024 * 1024 + 64 * 1024 + 1, 3 * 1024 * 1024]) {
    const c = await TestClient.paired(daemon.url, daemon.token);
    c.sendBinary(new Uint8Array(size));
    expect((await c.closed).code).toBe(1009);
    const t = await TestClient.paired(daemon.url, daemon.token);
    t.send(longString(size));
    expect((await t.closed).code).toBe(1009);
  }
  await assertIdle();
});

// ------------------------------------------------------------------ bad images

type BadImage = { name: string; frames: Uint8Array[] };
const rgba = (w: number, h: number) => new Uint8Array(w * h * 4).fill(9);
const header = (transferId: number, w: number, h: number, chunkCount: number, chunkIndex: number, totalBytes = w * h * 4) =>
  ({ kind: FrameKind.upload, transferId, chunkIndex, chunkCount, width: w, height: h, totalBytes });

const badImage = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 600 })).map(([which, n]): BadImage => ({
    name: 'zero side',
    frames: [encodeFrame(header(0, which ? 0 : n, which ? n : 0, 1, 0, 0), new Uint8Array(4))],
  })),
  fc.tuple(fc.integer({ min: MAX_SIDE + 1, max: 30_000 }), fc.integer({ min: 1, max: 30_000 })).map(([w, h]): BadImage => {
    const total = w * h * 4;
    return total > 0xffffffff
      ? { name: 'huge, byte count overflows', frames: [encodeFrame(header(0, w, h, 1, 0, 4), new Uint8Array(4))] }
      : { name: 'huge dimensions', frames: [encodeFrame(header(0, w, h, Math.ceil(total / 1024 / 1024), 0), new Uint8Array(16))] };
  }),
  fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: -7, max: 7 }).filter((d) => d !== 0)).map(([w, h, d]): BadImage => ({
    name: 'totalBytes not w×h×4',
    frames: [encodeFrame(header(0, w, h, 1, 0, Math.max(1, w * h * 4 + d)), rgba(w, h))],
  })),
  fc.tuple(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 50 })).map(([w, cut]): BadImage => {
    const frames = encodeImageFrames(FrameKind.upload, 0, w, w, rgba(w, w), Math.ceil((w * w * 4) / 3));
    const last = frames[frames.length - 1]!;
    frames[frames.length - 1] = last.subarray(0, Math.max(33, last.length - cut)); // truncated last chunk
    return { name: 'truncated last chunk', frames };
  }),
  fc.integer({ min: 2, max: 40 }).map((w): BadImage => ({
    name: 'missing last chunk',
    frames: encodeImageFrames(FrameKind.upload, 0, w, w, rgba(w, w), Math.ceil((w * w * 4) / 3)).slice(0, -1),
  })),
  fc.integer({ min: 2, max: 40 }).map((w): BadImage => {
    const [a, b, c] = encodeImageFrames(FrameKind.upload, 0, w, w, rgba(w, w), Math.ceil((w * w * 4) / 3));
    return { name: 'chunks out of order', frames: [a!, c ?? b!, b!] };
  }),
  fc.integer({ min: 2, max: 40 }).map((w): BadImage => {
    const [a, b] = encodeImageFrames(FrameKind.upload, 0, w, w, rgba(w, w), Math.ceil((w * w * 4) / 3));
    return { name: 'repeated chunk', frames: [a!, a!, b!] };
  }),
  fc.integer({ min: 2, max: 40 }).map((w): BadImage => {
    const frames = encodeImageFrames(FrameKind.upload, 0, w, w, rgba(w, w), Math.ceil((w * w * 4) / 3));
    const other = encodeImageFrames(FrameKind.upload, 0, w + 1, w, rgba(w + 1, w), Math.ceil((w * w * 4) / 3));
    return { name: 'later chunk disagrees', frames: [frames[0]!, other[1]!] };
  }),
  fc.integer({ min: 1, max: 30 }).map((w): BadImage => {
    const f = encodeImageFrames(FrameKind.upload, 0, w, 1, rgba(w, 1))[0]!;
    const extra = new Uint8Array(f.length + 4);
    extra.set(f);
    return { name: 'extra bytes', frames: [extra] };
  }),
);

test('40 bad images: each is refused with a stable code (or stays unusable) and can never start a job', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  let transferId = 1000;
  const names = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(badImage, async ({ name, frames }) => {
      transferId++;
      names.set(name, (names.get(name) ?? 0) + 1);
      const answers = await answersTo(c, () => {
        for (const f of frames) {
          const copy = f.slice();
          new DataView(copy.buffer).setUint32(8, transferId, true);
          c.sendBinary(copy);
        }
      });
      for (const a of answers) {
        expect(a.type).toBe('error');
        if (a.type === 'error') expect(BINARY_CODES.has(a.code)).toBe(true);
      }
      const requestId = `bad-${transferId}`;
      const refused = await answersTo(c, () => c.send({ ...validGenerate, requestId, params: { ...validGenerate.params, style: { transferId } } }));
      expect(refused).toEqual([expect.objectContaining({ type: 'error', code: 'UNKNOWN_IMAGE', requestId })]);
    }),
    { numRuns: 40, seed: 6010 },
  );
  console.log(`bad images by kind: ${JSON.stringify(Object.fromEntries(names))}`);
  // Pending slots were freed by the refusals: a good image still works on the same connection.
  for (const f of encodeImageFrames(FrameKind.upload, 7, 8, 8, rgba(8, 8))) c.sendBinary(f);
  c.send({ ...validGenerate, requestId: 'good', params: { ...validGenerate.params, style: { transferId: 7 } } });
  const ok = await c.waitFor((m) => 'requestId' in m && m.requestId === 'good');
  expect(ok.type).toBe('accepted');
  if (ok.type === 'accepted') await c.waitFor((m) => m.type === 'done' && m.jobId === ok.jobId);
  c.close();
  await assertIdle();
});

// ------------------------------------------------------------------ many clients, cancels, disconnects

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('8 clients × 10 jobs with random cancels and disconnects: every job ends once, results match, the queue drains', async () => {
  const random = mulberry32(606);
  const stats = { submitted: 0, completed: 0, cancelled: 0, ended: 0, dropped: 0, results: 0 };
  const runClient = async (k: number): Promise<void> => {
    const c = await TestClient.paired(daemon.url, daemon.token);
    // A quarter of the clients drop their connection after a random number of their jobs ended.
    const disconnectAfter = random() < 0.25 ? Math.floor(random() * 10) : -1;
    const jobs: Array<{ jobId: string; variations: number; cancel: boolean }> = [];
    for (let i = 0; i < 10; i++) {
      const variations = 1 + Math.floor(random() * 2);
      c.send({ type: 'generate', requestId: `c${k}-${i}`, params: { prompt: `client ${k} job ${i}`, width: 64, height: 64, steps: 1 + Math.floor(random() * 4), variations, seed: k * 100 + i } });
      const m = await c.waitFor((x) => 'requestId' in x && x.requestId === `c${k}-${i}`);
      expect(m.type).toBe('accepted');
      if (m.type !== 'accepted') return;
      stats.submitted++;
      const cancel = random() < 0.3;
      jobs.push({ jobId: m.jobId, variations, cancel });
      if (cancel) c.send({ type: 'cancel', jobId: m.jobId });
    }
    if (disconnectAfter >= 0) {
      const ended = (id: string) => c.messages.some((m) => (m.type === 'done' || m.type === 'error') && 'jobId' in m && m.jobId === id);
      await c.waitUntil(() => (jobs.filter((j) => ended(j.jobId)).length >= disconnectAfter ? true : undefined), 150_000);
      c.terminate();
      stats.dropped += jobs.filter((j) => !ended(j.jobId)).length;
      stats.ended += jobs.filter((j) => ended(j.jobId)).length;
      return;
    }
    for (const job of jobs) {
      const end = await c.waitFor((m) => (m.type === 'done' || m.type === 'error') && 'jobId' in m && m.jobId === job.jobId, 150_000);
      const mine = c.messages.filter((m) => 'jobId' in m && m.jobId === job.jobId);
      expect(mine.filter((m) => m.type === 'done' || m.type === 'error')).toHaveLength(1); // ends exactly once
      expect(mine[mine.length - 1]).toBe(end); // nothing after the end
      const results = mine.filter((m) => m.type === 'result');
      if (end.type === 'done' && end.outcome === 'completed') {
        // A cancel can arrive after a short job finished: then it completed, and the cancel got UNKNOWN_JOB.
        expect(results.map((r) => r.type === 'result' && r.index)).toEqual(Array.from({ length: job.variations }, (_, i) => i));
        stats.completed++;
        stats.results += results.length;
      } else {
        expect(end).toMatchObject({ type: 'done', outcome: 'cancelled' });
        expect(job.cancel).toBe(true); // only cancelled jobs end cancelled
        stats.cancelled++;
      }
    }
    expect(c.invalid).toEqual([]);
    expect(c.binaryErrors).toEqual([]);
    c.close();
  };
  await Promise.all(Array.from({ length: 8 }, (_, k) => runClient(k)));
  console.log(`8×10 jobs: ${JSON.stringify(stats)}; daemon RSS ${(daemon.rssKiB() / 1024).toFixed(1)} MiB`);
  expect(stats.submitted).toBe(80);
  expect(stats.completed + stats.cancelled + stats.ended + stats.dropped).toBe(80);
  // Every image that arrived was complete; the dropped clients' jobs end (a running one at its next step), the queue
  // drains, and the daemon still serves.
  await waitForIdle(daemon, 60_000);
  const after = await TestClient.paired(daemon.url, daemon.token);
  after.send({ type: 'generate', requestId: 'after', params: { prompt: 'p', width: 64, height: 64, steps: 1 } });
  const m = await after.waitFor((x) => 'requestId' in x && x.requestId === 'after');
  expect(m.type).toBe('accepted');
  if (m.type === 'accepted') expect(await after.waitFor((x) => x.type === 'done' && x.jobId === m.jobId)).toMatchObject({ outcome: 'completed' });
  after.close();
});

test('while a real tiny job runs, status is answered within 100 ms and cancel ends it at the next step', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  // 128×128 × 150 steps on the tiny model: seconds of work, in steps of a few tens of ms on this machine.
  c.send({ type: 'generate', requestId: 'long', params: { prompt: 'a long job', width: 128, height: 128, steps: 150, seed: 3 } });
  const accepted = await c.waitFor((m) => 'requestId' in m && m.requestId === 'long');
  if (accepted.type !== 'accepted') throw new Error(`refused: ${JSON.stringify(accepted)}`);
  const { jobId } = accepted;
  const progressFrom = (from: number) => c.waitFor((m) => m.type === 'progress' && m.jobId === jobId, 60_000, from);
  await progressFrom(0);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const from = c.messages.length;
    const t0 = performance.now();
    c.send({ type: 'status' });
    const status = await c.waitFor((m) => m.type === 'status', 5000, from);
    times.push(performance.now() - t0);
    expect(status).toMatchObject({ running: { jobId, mine: true, total: 150 } });
  }
  // One step's duration, from two consecutive progress messages: the most a cancel may wait for the boundary.
  await progressFrom(c.messages.length);
  const s0 = performance.now();
  await progressFrom(c.messages.length);
  const stepMs = performance.now() - s0;
  const t0 = performance.now();
  c.send({ type: 'cancel', jobId });
  expect(await c.waitFor((m) => m.type === 'done' && m.jobId === jobId, 10_000)).toMatchObject({ outcome: 'cancelled' });
  const cancelMs = performance.now() - t0;
  times.sort((x, y) => x - y);
  console.log(`real tiny engine: status round trips while a job runs (ms): ${times.map((t) => t.toFixed(1)).join(' ')}; one step ${stepMs.toFixed(1)} ms; cancel → done ${cancelMs.toFixed(1)} ms`);
  expect(times[4]).toBeLessThan(100);
  expect(cancelMs).toBeLessThan(100 + stepMs);
  expect(c.messages.some((m) => m.type === 'result' && m.jobId === jobId)).toBe(false);
  c.close();
  await assertIdle();
});

test('error codes the daemon used are all documented codes', () => {
  expect(ERROR_CODE_LIST.length).toBeGreaterThan(20);
});
