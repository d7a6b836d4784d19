/**
 * The real daemon process on loopback (test-daemon.js: StyleStudioServer + SyntheticTestEngine):
 * pairing, jobs, progress, results, cancel, disconnect, limits.
 * Why the synthetic engine and not `serve` with the tiny model (reliability.test.ts and the e2e use that): these
 * tests need controllable timing (a fixed 20 ms per step, so queue order, cancel-while-queued vs cancel-while-running
 * and disconnects land where the test says), pixels known in advance (every result checked pixel by pixel against
 * syntheticPixel), an engine failure on demand (SYNTHETIC_FAIL_PROMPT) and limits `serve` has no flags for.
 */
import WebSocket from 'ws';
import { encodeImageFrames, FrameKind, PROTOCOL_VERSION, type ServerMessage } from '../../../protocol';
import { waitForIdle } from '../../helpers/daemon-idle';
import { startTestDaemon, type RunningDaemon } from '../../helpers/daemon-process';
import { SYNTHETIC_FAIL_PROMPT } from '../../helpers/synthetic-engine';
import { syntheticPixel } from '../../helpers/synthetic-image';
import { TestClient } from '../../helpers/ws-client';

let daemon: RunningDaemon;
const clients: TestClient[] = [];

beforeAll(async () => {
  daemon = await startTestDaemon({ stepMs: 20, limits: { maxQueue: 6, maxJobsPerClient: 4, maxImageSide: 512, maxPromptLength: 100, chunkBytes: 256 * 1024 } });
});
// The tests share one daemon: each starts once the jobs of earlier tests (dropped with their clients) have ended.
beforeEach(async () => {
  await waitForIdle(daemon);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
});
afterAll(async () => {
  expect(daemon.alive()).toBe(true);
  expect(await daemon.stop()).toBe(0);
});

async function paired(): Promise<TestClient> {
  const c = await TestClient.paired(daemon.url, daemon.token);
  clients.push(c);
  return c;
}

async function connect(options = {}): Promise<TestClient> {
  const c = await TestClient.connect(daemon.url, options);
  clients.push(c);
  return c;
}

function generate(requestId: string, params: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'generate', requestId, params: { prompt: 'a lighthouse', width: 64, height: 32, steps: 4, seed: 7, ...params } };
}

const isFor = (jobId: string) => (m: ServerMessage): boolean => 'jobId' in m && m.jobId === jobId;
const ends = (jobId: string) => (m: ServerMessage): boolean => (m.type === 'done' || m.type === 'error') && isFor(jobId)(m);

async function accepted(c: TestClient, requestId: string): Promise<string> {
  const m = await c.waitFor((x) => (x.type === 'accepted' || x.type === 'error') && 'requestId' in x && x.requestId === requestId);
  if (m.type !== 'accepted') throw new Error(`refused: ${JSON.stringify(m)}`);
  return m.jobId;
}

function expectSyntheticImage(rgba: Uint8Array, width: number, height: number, seed: number): void {
  expect(rgba.length).toBe(width * height * 4);
  for (const [x, y] of [[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1], [width >> 1, height >> 1]] as const) {
    expect(Array.from(rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 4))).toEqual(syntheticPixel(seed, x, y));
  }
}

describe('pairing', () => {
  test('hello with the token gets welcome with versions, providers, models and limits', async () => {
    const c = await connect();
    const welcome = await c.hello(daemon.token);
    expect(welcome.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(welcome.providers).toEqual(['synthetic-test']);
    expect(welcome.engine.ready).toBe(true);
    expect(welcome.limits.maxImageSide).toBe(512);
    expect(welcome.limits.chunkBytes).toBe(256 * 1024);
    expect(c.invalid).toEqual([]);
  });

  test('nothing works before hello: text and binary get NOT_AUTHENTICATED and create no job', async () => {
    const c = await connect();
    c.send({ type: 'status' });
    c.send(generate('early'));
    c.sendBinary(encodeImageFrames(FrameKind.upload, 1, 2, 2, new Uint8Array(16))[0]!);
    await c.waitUntil(() => (c.messages.length >= 3 ? true : undefined));
    expect(c.messages.map((m) => m.type === 'error' && m.code)).toEqual(['NOT_AUTHENTICATED', 'NOT_AUTHENTICATED', 'NOT_AUTHENTICATED']);
    const observer = await paired();
    observer.send({ type: 'status' });
    const status = await observer.waitFor((m) => m.type === 'status');
    expect(status).toMatchObject({ queue: { length: 0 }, running: null });
  });

  test('a wrong token gets BAD_TOKEN and close 4401', async () => {
    const c = await connect();
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 'wrong-token' });
    const m = await c.waitFor((x) => x.type === 'error');
    expect(m).toMatchObject({ code: 'BAD_TOKEN' });
    expect((await c.closed).code).toBe(4401);
  });

  test('another major version gets VERSION_MISMATCH naming both versions, close 4426', async () => {
    const c = await connect();
    c.send({ type: 'hello', protocolVersion: '3.0', token: daemon.token });
    const m = await c.waitFor((x) => x.type === 'error');
    expect(m).toMatchObject({ code: 'VERSION_MISMATCH' });
    if (m.type === 'error') expect(m.message).toMatch(/3\.0.*2\.\d+/);
    expect((await c.closed).code).toBe(4426);
  });

  test('a second hello is ALREADY_AUTHENTICATED', async () => {
    const c = await paired();
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: daemon.token });
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'ALREADY_AUTHENTICATED' });
  });

  test('web Origins and foreign Host headers are refused at the handshake (403)', async () => {
    await expect(connect({ origin: 'https://evil.example' })).rejects.toThrow('403');
    await expect(connect({ headers: { Host: `evil.example:${daemon.port}` } })).rejects.toThrow('403');
    await expect(connect({ origin: `http://127.0.0.1:${daemon.port}` })).rejects.toThrow('403');
  });

  test('a plain HTTP request gets 426, not a crash', async () => {
    const res = await fetch(`http://127.0.0.1:${daemon.port}/`);
    expect(res.status).toBe(426);
  });

  test('the daemon does not negotiate permessage-deflate', async () => {
    const ws = new WebSocket(daemon.url, { perMessageDeflate: true });
    await new Promise((resolve) => ws.once('open', resolve));
    expect(ws.extensions).toBe('');
    ws.terminate();
  });
});

describe('jobs', () => {
  test('generate with an uploaded style: accepted → progress with previews → one result per variation → done', async () => {
    const c = await paired();
    const style = new Uint8Array(40 * 30 * 4).fill(200);
    for (const frame of encodeImageFrames(FrameKind.upload, 11, 40, 30, style, 1000)) c.sendBinary(frame);
    c.send(generate('g1', { style: { transferId: 11 }, variations: 2, seed: 100 }));
    const jobId = await accepted(c, 'g1');
    await c.waitFor(ends(jobId));
    const mine = c.messages.filter(isFor(jobId));
    expect(mine.map((m) => m.type)).toEqual(['accepted', 'progress', 'progress', 'progress', 'progress', 'result',
      'progress', 'progress', 'progress', 'progress', 'result', 'done']);
    const progress = mine.filter((m) => m.type === 'progress');
    expect(progress.map((m) => m.type === 'progress' && m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.every((m) => m.type === 'progress' && m.total === 8)).toBe(true);
    const previews = progress.flatMap((m) => (m.type === 'progress' && m.preview ? [m.preview] : []));
    expect(previews.length).toBe(4);
    for (const p of previews) {
      const img = c.images.get(p.transferId);
      expect(img?.kind).toBe(FrameKind.preview);
      expect(Math.max(p.width, p.height)).toBeLessThanOrEqual(128);
    }
    const results = mine.filter((m) => m.type === 'result');
    expect(results.map((m) => m.type === 'result' && [m.index, m.seed])).toEqual([[0, 100], [1, 101]]);
    for (const r of results) {
      if (r.type !== 'result') continue;
      const img = c.images.get(r.transferId)!;
      expect(img.kind).toBe(FrameKind.result);
      expectSyntheticImage(img.rgba, 64, 32, r.seed);
    }
    expect(mine[mine.length - 1]).toMatchObject({ type: 'done', outcome: 'completed' });
    expect(c.invalid).toEqual([]);
    expect(c.binaryErrors).toEqual([]);
  });

  test('a result larger than one chunk arrives in several frames and reassembles', async () => {
    const c = await paired();
    c.send(generate('big', { width: 512, height: 512, steps: 1, seed: 3 })); // 1 MiB in 256 KiB chunks
    const jobId = await accepted(c, 'big');
    const framesBefore = c.binaryFrames;
    await c.waitFor(ends(jobId));
    const r = c.messages.find((m) => m.type === 'result' && m.jobId === jobId);
    if (r?.type !== 'result') throw new Error('no result');
    expectSyntheticImage(c.images.get(r.transferId)!.rgba, 512, 512, 3);
    expect(c.binaryFrames - framesBefore).toBe(4);
  });

  test('seed null draws random seeds, reported per result', async () => {
    const c = await paired();
    c.send(generate('rnd', { seed: null, variations: 2, steps: 1 }));
    const jobId = await accepted(c, 'rnd');
    await c.waitFor(ends(jobId));
    const seeds = c.messages.flatMap((m) => (m.type === 'result' && m.jobId === jobId ? [m.seed] : []));
    expect(seeds.length).toBe(2);
    expect(seeds[0]).not.toBe(seeds[1]);
    for (const s of seeds) expect(Number.isSafeInteger(s)).toBe(true);
  });

  test('FIFO positions, cancel of a waiting job and of the running job', async () => {
    const c = await paired();
    c.send(generate('a', { steps: 150 }));
    c.send(generate('b', { steps: 2 }));
    c.send(generate('c', { steps: 2 }));
    const [a, b, cc] = [await accepted(c, 'a'), await accepted(c, 'b'), await accepted(c, 'c')];
    const positions = ['a', 'b', 'c'].map((r) => c.messages.find((m) => m.type === 'accepted' && m.requestId === r));
    expect(positions.map((m) => m?.type === 'accepted' && m.position)).toEqual([0, 1, 2]);
    await c.waitFor((m) => m.type === 'progress' && m.jobId === a);
    c.send({ type: 'status' });
    const status = await c.waitFor((m) => m.type === 'status');
    expect(status).toMatchObject({ queue: { length: 2, mine: [{ jobId: b, position: 1 }, { jobId: cc, position: 2 }] }, running: { jobId: a, mine: true } });
    c.send({ type: 'cancel', jobId: b });
    expect(await c.waitFor(ends(b))).toMatchObject({ type: 'done', outcome: 'cancelled' });
    c.send({ type: 'cancel', jobId: a });
    expect(await c.waitFor(ends(a))).toMatchObject({ type: 'done', outcome: 'cancelled' });
    expect(c.messages.some((m) => m.type === 'result' && m.jobId === a)).toBe(false);
    expect(await c.waitFor(ends(cc))).toMatchObject({ type: 'done', outcome: 'completed' });
    expect(c.messages.some((m) => m.type === 'progress' && m.jobId === b)).toBe(false);
    c.send({ type: 'cancel', jobId: cc });
    const late = await c.waitFor((m) => m.type === 'error' && m.code === 'UNKNOWN_JOB');
    expect(late).not.toHaveProperty('jobId'); // jobId marks the error that ends a job; this one ended already
    expect(c.messages.filter(isFor(cc)).pop()).toMatchObject({ type: 'done' });
  });

  test('status and cancel are answered within 100 ms while the engine works', async () => {
    const c = await paired();
    c.send(generate('long', { steps: 150 }));
    const jobId = await accepted(c, 'long');
    await c.waitFor((m) => m.type === 'progress' && m.jobId === jobId);
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const from = c.messages.length;
      const t0 = performance.now();
      c.send({ type: 'status' });
      await c.waitFor((m) => m.type === 'status', 5000, from);
      times.push(performance.now() - t0);
    }
    const t0 = performance.now();
    c.send({ type: 'cancel', jobId });
    await c.waitFor(ends(jobId));
    const cancelMs = performance.now() - t0;
    times.sort((x, y) => x - y);
    console.log(`status round trips while a job runs (ms): ${times.map((t) => t.toFixed(1)).join(' ')}; cancel → done ${cancelMs.toFixed(1)} ms`);
    expect(times[4]).toBeLessThan(100);
    expect(cancelMs).toBeLessThan(100 + 20); // one 20 ms step at most
  });

  test('a client that disconnects has its jobs cancelled; others keep being served', async () => {
    const leaver = await paired();
    leaver.send(generate('l1', { steps: 150 }));
    leaver.send(generate('l2', { steps: 150 }));
    const l1 = await accepted(leaver, 'l1');
    await accepted(leaver, 'l2');
    await leaver.waitFor((m) => m.type === 'progress' && m.jobId === l1);
    const stayer = await paired();
    stayer.send(generate('s1', { steps: 2 }));
    const s1 = await accepted(stayer, 's1');
    leaver.terminate();
    expect(await stayer.waitFor(ends(s1))).toMatchObject({ type: 'done', outcome: 'completed' });
    stayer.send({ type: 'status' });
    expect(await stayer.waitFor((m) => m.type === 'status')).toMatchObject({ queue: { length: 0 }, running: null });
  });

  test('an engine failure ends the job with ENGINE_FAILED and the daemon keeps serving', async () => {
    const c = await paired();
    c.send(generate('f', { prompt: SYNTHETIC_FAIL_PROMPT }));
    const jobId = await accepted(c, 'f');
    expect(await c.waitFor(ends(jobId))).toMatchObject({ type: 'error', code: 'ENGINE_FAILED' });
    c.send(generate('after', { steps: 1 }));
    expect(await c.waitFor(ends(await accepted(c, 'after')))).toMatchObject({ type: 'done', outcome: 'completed' });
  });
});

describe('limits', () => {
  async function refused(c: TestClient, requestId: string): Promise<string> {
    const m = await c.waitFor((x) => 'requestId' in x && x.requestId === requestId);
    if (m.type !== 'error') throw new Error(`not refused: ${JSON.stringify(m)}`);
    return m.code;
  }

  test('prompt length, image side, unknown uploads, steps', async () => {
    const c = await paired();
    c.send(generate('p', { prompt: 'x'.repeat(101) }));
    expect(await refused(c, 'p')).toBe('PROMPT_TOO_LONG');
    c.send(generate('n', { negativePrompt: 'x'.repeat(101) }));
    expect(await refused(c, 'n')).toBe('PROMPT_TOO_LONG');
    c.send(generate('w', { width: 544 })); // on the stride, above this daemon's maxImageSide
    expect(await refused(c, 'w')).toBe('IMAGE_TOO_LARGE');
    c.send(generate('s', { style: { transferId: 99 } }));
    expect(await refused(c, 's')).toBe('UNKNOWN_IMAGE');
    c.sendBinary(encodeImageFrames(FrameKind.upload, 7, 4, 4, new Uint8Array(64))[0]!);
    c.send(generate('ns', { style: { transferId: 7 }, negativeStyle: { transferId: 98 } }));
    expect(await refused(c, 'ns')).toBe('UNKNOWN_IMAGE');
    c.send(generate('st', { steps: 151 }));
    expect(await refused(c, 'st')).toBe('BAD_MESSAGE');
    c.send(generate('dp', { drop: 'colour' })); // a drop preset needs a style image
    expect(await refused(c, 'dp')).toBe('BAD_MESSAGE');
  });

  test('an upload is consumed by the generate that names it', async () => {
    const c = await paired();
    c.sendBinary(encodeImageFrames(FrameKind.upload, 5, 4, 4, new Uint8Array(64))[0]!);
    c.send(generate('u1', { style: { transferId: 5 }, steps: 1 }));
    await accepted(c, 'u1');
    c.send(generate('u2', { style: { transferId: 5 }, steps: 1 }));
    expect(await refused(c, 'u2')).toBe('UNKNOWN_IMAGE');
  });

  test('upload images above the side limit and too many pending uploads are refused', async () => {
    const c = await paired();
    c.sendBinary(encodeImageFrames(FrameKind.upload, 1, 513, 1, new Uint8Array(513 * 4))[0]!);
    expect(await c.waitFor((m) => m.type === 'error' && m.transferId === 1)).toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    for (let id = 10; id < 15; id++) c.sendBinary(encodeImageFrames(FrameKind.upload, id, 2, 2, new Uint8Array(16))[0]!);
    expect(await c.waitFor((m) => m.type === 'error' && m.transferId === 14)).toMatchObject({ code: 'UPLOAD_LIMIT' });
  });

  test('the queue refuses jobs beyond its caps with QUEUE_FULL', async () => {
    const a = await paired();
    const b = await paired();
    for (let i = 0; i < 5; i++) a.send(generate(`a${i}`, { steps: 150 }));
    const codes = await Promise.all([0, 1, 2, 3, 4].map((i) => a.waitFor((m) => 'requestId' in m && m.requestId === `a${i}`)));
    expect(codes.map((m) => (m.type === 'error' ? m.code : m.type))).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'QUEUE_FULL']);
    for (let i = 0; i < 3; i++) b.send(generate(`b${i}`, { steps: 150 }));
    const bs = await Promise.all([0, 1, 2].map((i) => b.waitFor((m) => 'requestId' in m && m.requestId === `b${i}`)));
    expect(bs.map((m) => (m.type === 'error' ? m.code : m.type))).toEqual(['accepted', 'accepted', 'QUEUE_FULL']);
  });

  test('a message above maxPayload closes the socket with 1009', async () => {
    const c = await paired();
    c.sendBinary(new Uint8Array(1024 * 1024 + 65 * 1024));
    expect((await c.closed).code).toBe(1009);
  });
});
