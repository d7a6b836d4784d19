import WebSocket from 'ws';
import { CompanionClient } from '../../plugin/client/companion-client';
import type { SocketLike } from '../../plugin/client/socket';
import { PanelSession, KEPT_RESULTS, shortName } from '../../plugin/session/panel-session';
import { startLoopbackCompanion, type LoopbackCompanion } from '../helpers/loopback-companion';
import { MemoryHost, SAMPLE_DOC } from './fakes/memory-host';

const TOKEN = 'tok-session';

function until(session: PanelSession, predicate: (s: PanelSession['state']) => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate(session.state)) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out; state: ${JSON.stringify({ job: session.state.job, notice: session.state.notice, conn: session.state.connection.kind })}`));
    }, timeoutMs);
    const off = session.subscribe(() => {
      if (predicate(session.state)) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

describe('PanelSession with a real client and a loopback companion', () => {
  let companion: LoopbackCompanion;
  let session: PanelSession;
  let host: MemoryHost;

  async function started(stepDelayMs = 2, doc = SAMPLE_DOC, modelsMissing = false, listed?: number) {
    companion = await startLoopbackCompanion({ token: TOKEN, stepDelayMs, modelsMissing });
    host = new MemoryHost(doc);
    const client = new CompanionClient({ url: companion.url, socketFactory: (u) => new WebSocket(u) as unknown as SocketLike });
    session = new PanelSession(host, client, undefined, listed);
    await session.start();
  }

  afterEach(async () => {
    session?.stop();
    await companion?.close();
  });

  test('pairing stores the token and connects; a later start reuses it', async () => {
    await started();
    expect(session.state.connection.kind).toBe('unpaired');
    await session.pair(`  ${TOKEN} `);
    await until(session, (s) => s.connection.kind === 'ready');
    expect(host.token).toBe(TOKEN);
    const again = new PanelSession(host, new CompanionClient({ url: companion.url, socketFactory: (u) => new WebSocket(u) as unknown as SocketLike }));
    await again.start();
    await until(again, (s) => s.connection.kind === 'ready');
    again.stop();
  });

  test('generate: reads the active layer, sends the settings, inserts all variations once as one step', async () => {
    await started();
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    session.update({ prompt: '  a lighthouse\nat dusk ', negativePrompt: 'blurry', variations: 2, steps: 4, teacherSteps: 20, seedMode: 'fixed', seed: 99, longSide: 512, avoid: { kind: 'drop', preset: 'texture' } });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toBeNull();
    expect(host.reads).toEqual([{ documentId: 7, layerId: 3, selectionOnly: false, maxSide: 1024 }]);
    expect(companion.uploads.map((u) => u.meanRgb)).toEqual([[30, 60, 90]]);
    expect(companion.generates[0]!.params).toMatchObject({
      prompt: 'a lighthouse\nat dusk', negativePrompt: 'blurry', seed: 99, variations: 2, steps: 4, teacherSteps: 4,
      width: 512, height: 320, negativeStyle: { kind: 'drop', preset: 'texture' }, crossModalAdain: true,
    });
    expect(host.inserts).toHaveLength(1);
    expect(host.inserts[0]).toMatchObject({
      documentId: 7, groupName: 'a lighthouse at dusk', aboveLayerId: 3, target: { left: 0, top: 0, right: 1600, bottom: 900 },
    });
    expect(host.inserts[0]!.results.map((r) => r.seed)).toEqual([99, 100]);
    expect(session.state.results.map((r) => [r.seed, r.inserted, r.canReinsert])).toEqual([[100, true, true], [99, true, true]]);
    // only thumbnails stay on screen; the preview URL was released with the job
    expect(host.urls.size).toBe(2);
  });

  test('the modal-free wait: the layer is read before anything is sent, inserted only after done', async () => {
    await started();
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    session.update({ prompt: 'p', steps: 2, teacherSteps: 1, variations: 1 });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.events).toEqual(['read 3', 'insert 1']);
  });

  test('cancel: the job ends cancelled and nothing is inserted', async () => {
    await started(25);
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    session.update({ prompt: 'p', steps: 100, teacherSteps: 10, variations: 2 });
    await session.generate();
    await until(session, (s) => s.job?.phase === 'running');
    session.cancel();
    expect(session.state.job?.cancelling).toBe(true);
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toEqual({ kind: 'info', text: 'Cancelled.' });
    expect(host.inserts).toEqual([]);
  });

  test('host refusals and missing prompt become notices, and no job is sent', async () => {
    await started();
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    await session.generate();
    expect(session.state.notice?.text).toMatch(/Type a prompt/);
    session.update({ prompt: 'p' });
    host.readError = 'Layer “Ink texture” is empty. Paint or paste into it, or choose another layer.';
    await session.generate();
    expect(session.state.notice).toEqual({ kind: 'error', text: host.readError });
    expect(session.state.job).toBeNull();
    host.state = { kind: 'unsupported', title: 'x', reason: 'This document is in CMYK mode.' };
    await session.generate();
    expect(session.state.notice?.text).toBe('This document is in CMYK mode.');
    expect(companion.generates).toEqual([]);
  });

  test('selection: output aspect follows it and results are placed over it; reuse seed and insert again', async () => {
    await started(2, { ...SAMPLE_DOC, selection: { left: 100, top: 100, right: 400, bottom: 700 } });
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    session.update({ prompt: 'p', steps: 2, teacherSteps: 2, variations: 1, longSide: 1024, selectionOnly: true });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.reads[0]!.selectionOnly).toBe(true);
    expect(companion.generates[0]!.params).toMatchObject({ width: 512, height: 1024 });
    expect(host.inserts[0]!.target).toEqual({ left: 100, top: 100, right: 400, bottom: 700 });
    const result = session.state.results[0]!;
    session.reuseSeed(result.id);
    expect(session.state.settings).toMatchObject({ seedMode: 'fixed', seed: result.seed });
    await session.reinsert(result.id);
    expect(host.inserts).toHaveLength(2);
    expect(host.inserts[1]!.results).toHaveLength(1);
  });

  test('missing models: download with progress, then a fresh welcome says the engine is ready', async () => {
    await started(2, SAMPLE_DOC, true);
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    const c = session.state.connection;
    expect(c.kind === 'ready' && c.welcome.engine).toEqual({ ready: false, reason: 'models missing: tiny' });
    const seen: number[] = [];
    const off = session.subscribe(() => {
      const d = session.state.download;
      if (d?.started) seen.push(d.receivedBytes);
    });
    session.downloadModels();
    expect(session.state.download).toEqual({ started: false });
    await until(session, (s) => s.connection.kind === 'ready' && s.connection.welcome.engine.ready);
    off();
    expect(seen).toEqual([1_000_000, 3_000_000]);
    expect(session.state.download).toBeNull();
    expect(session.state.notice).toEqual({ kind: 'info', text: 'Models downloaded.' });
    expect(companion.connections()).toBe(2);
  });

  test(`only the newest ${KEPT_RESULTS} results keep their pixels; the list itself is bounded`, async () => {
    await started(1, SAMPLE_DOC, false, 10);
    await session.pair(TOKEN);
    await until(session, (s) => s.connection.kind === 'ready');
    session.update({ prompt: 'p', steps: 1, teacherSteps: 1, variations: 4, longSide: 64 });
    for (let i = 0; i < 3; i++) {
      await session.generate();
      await until(session, (s) => s.job === null);
    }
    const flags = session.state.results.map((r) => r.canReinsert);
    expect(flags).toEqual([...Array(KEPT_RESULTS).fill(true), ...Array(10 - KEPT_RESULTS).fill(false)]);
    expect(host.urls.size).toBe(10); // thumbnails of the 2 results that left the list were released
    await session.reinsert(session.state.results[9]!.id);
    expect(session.state.notice?.text).toMatch(/no longer in memory/);
  });
});

test('shortName keeps names on one line and bounded', () => {
  expect(shortName('  a\n b  ')).toBe('a b');
  expect(shortName('x'.repeat(60), 10)).toBe('xxxxxxxxx…');
});
