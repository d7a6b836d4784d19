/**
 * Connection limits on the real daemon process: hello timeout, the unpaired pool, the paired cap, slow readers.
 * The synthetic engine (test-daemon.ts) because these need settings `serve` has no flags for (a 300 ms hello timeout,
 * 4 paired connections, 3 unpaired, a 2 MiB send buffer) and a slow reader needs 4 × 2048² results produced at once.
 */
import { PROTOCOL_VERSION } from '../../../protocol';
import { startTestDaemon, type RunningDaemon } from '../../helpers/daemon-process';
import { TestClient } from '../../helpers/ws-client';

let daemon: RunningDaemon;
beforeAll(async () => {
  daemon = await startTestDaemon({
    helloTimeoutMs: 300, pairing: { baseMs: 50, maxMs: 200, windowMs: 60_000 }, maxConnections: 4, maxUnpaired: 3,
    maxBufferedBytes: 2 * 1024 * 1024,
  });
});
afterAll(async () => {
  expect(daemon.alive()).toBe(true);
  await daemon.stop();
});

test('a connection that never says hello is told HELLO_TIMEOUT (4408) and closed', async () => {
  const c = await TestClient.connect(daemon.url);
  expect((await c.closed).code).toBe(4408);
  expect(c.messages).toEqual([expect.objectContaining({ type: 'error', code: 'HELLO_TIMEOUT' })]);
});

test('beyond maxUnpaired (3) a new socket pushes out the oldest unpaired one; pairing still works', async () => {
  const idle = await Promise.all([0, 1, 2].map(() => TestClient.connect(daemon.url)));
  const late = await TestClient.paired(daemon.url, daemon.token);
  expect((await idle[0]!.closed).code).toBe(1006); // terminated: the oldest
  late.close();
  for (const c of idle) c.terminate();
});

test('beyond maxConnections (4) paired: the fifth pairing is refused with CONNECTION_LIMIT (4503); unpaired sockets do not count', async () => {
  const idle = await Promise.all([0, 1].map(() => TestClient.connect(daemon.url)));
  // One after another: a burst of more new sockets than the unpaired pool holds would push out the oldest of them.
  const open: TestClient[] = [];
  for (let i = 0; i < 4; i++) open.push(await TestClient.paired(daemon.url, daemon.token));
  const fifth = await TestClient.connect(daemon.url);
  fifth.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: daemon.token });
  expect(await fifth.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'CONNECTION_LIMIT' });
  expect((await fifth.closed).code).toBe(4503);
  open[0]!.close();
  await open[0]!.closed;
  await TestClient.paired(daemon.url, daemon.token).then((c) => c.close());
  for (const c of [...open, ...idle]) c.terminate();
  await new Promise((resolve) => setTimeout(resolve, 100));
});

test('a client that stops reading is cut off instead of making the daemon buffer without bound', async () => {
  const slow = await TestClient.paired(daemon.url, daemon.token);
  const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
  slow.send({ type: 'generate', requestId: 'big', params: { prompt: 'p', width: 2048, height: 2048, steps: 1, variations: 4 } });
  await slow.waitFor((m) => m.type === 'accepted');
  socket.pause(); // 4 results × 16 MiB: far more than the kernel's socket buffers, so it piles up in the daemon
  const watcher = await TestClient.paired(daemon.url, daemon.token);
  let idle = false;
  for (let i = 0; i < 100 && !idle; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const from = watcher.messages.length;
    watcher.send({ type: 'status' });
    const status = await watcher.waitFor((m) => m.type === 'status', 5000, from);
    idle = status.type === 'status' && status.running === null;
  }
  expect(idle).toBe(true);
  socket.resume();
  const closed = await slow.closed;
  expect(closed.code).toBe(1006); // terminated, no close frame
  watcher.close();
});

test('wrong tokens are answered BAD_TOKEN (4401) after a growing delay; the right token is never held up', async () => {
  const answered: number[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await TestClient.connect(daemon.url);
    const t0 = Date.now();
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: `guess-${i}` });
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'BAD_TOKEN' });
    answered.push(Date.now() - t0);
    expect((await c.closed).code).toBe(4401);
  }
  expect(answered[3]!).toBeGreaterThanOrEqual(190); // 50, 100, 200, 200 (capped)
  const t0 = Date.now();
  const c = await TestClient.paired(daemon.url, daemon.token);
  expect(Date.now() - t0).toBeLessThan(1000);
  c.close();
});
