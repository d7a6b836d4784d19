import WebSocket from 'ws';
import { CompanionClient } from '../../plugin/client/companion-client';
import type { SocketLike } from '../../plugin/client/socket';
import { PanelSession, KEPT_RESULTS, shortName } from '../../plugin/session/panel-session';
import { tinySetHub } from '../helpers/tiny-hub';
import { startTinyServe, type TinyServe } from '../helpers/tiny-serve';
import { TestClient } from '../helpers/ws-client';
import { MemoryHost, SAMPLE_DOC } from './fakes/memory-host';

/** Node's ws (unlike a browser's) also emits 'error' when closed before connecting: keep that from being unhandled. */
const sockets = (u: string): SocketLike => new WebSocket(u).on('error', () => undefined) as unknown as SocketLike;

function until(session: PanelSession, predicate: (s: PanelSession['state']) => boolean, timeoutMs = 60_000): Promise<void> {
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

jest.setTimeout(180_000);

/** The daemon's queue, as a status request from a second connection sees it. */
async function queueOf(daemon: TinyServe): Promise<unknown> {
  const probe = await TestClient.paired(daemon.url, daemon.token);
  probe.send({ type: 'status' });
  const status = await probe.waitFor((m) => m.type === 'status');
  probe.close();
  return status.type === 'status' ? { waiting: status.queue.length, running: status.running } : status;
}

describe('PanelSession with a real client and the real companion (serve on the tiny models)', () => {
  let daemon: TinyServe;
  let session: PanelSession;
  let host: MemoryHost;

  beforeAll(async () => {
    daemon = await startTinyServe();
  });
  afterAll(async () => {
    expect(daemon.stderr()).toBe('');
    await daemon.stop();
  });

  async function started(doc = SAMPLE_DOC, listed?: number, url = daemon.url) {
    host = new MemoryHost(doc);
    session = new PanelSession(host, new CompanionClient({ url, socketFactory: sockets }), undefined, listed);
    await session.start();
  }

  async function paired(doc = SAMPLE_DOC, listed?: number) {
    await started(doc, listed);
    await session.pair(daemon.token);
    await until(session, (s) => s.connection.kind === 'ready');
  }

  afterEach(() => {
    session?.stop();
  });

  test('pairing keeps the panel token the companion hands out; a later start pairs with it', async () => {
    await started();
    expect(session.state.connection.kind).toBe('unpaired');
    await session.pair(`  ${daemon.token} `);
    await until(session, (s) => s.connection.kind === 'ready');
    await until(session, () => host.token?.startsWith('p.') === true);
    const again = new PanelSession(host, new CompanionClient({ url: daemon.url, socketFactory: sockets }));
    await again.start();
    await until(again, (s) => s.connection.kind === 'ready');
    expect(again.state.notice).toBeNull();
    again.stop();
  });

  test('generate: reads the active layer, inserts all variations once as one step with the requested seeds and size', async () => {
    await paired();
    session.update({ prompt: '  a lighthouse\nat dusk ', negativePrompt: 'blurry', variations: 2, steps: 4, teacherSteps: 20, seedMode: 'fixed', seed: 99, longSide: 512, avoid: { kind: 'drop', elements: ['texture'] } });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toBeNull();
    expect(host.reads).toEqual([{ documentId: 7, layerId: 3, selectionOnly: false, maxSide: 1024 }]);
    expect(host.inserts).toHaveLength(1);
    expect(host.inserts[0]).toMatchObject({
      documentId: 7, groupName: 'a lighthouse at dusk', aboveLayerId: 3, target: { left: 0, top: 0, right: 1600, bottom: 900 }, mask: null,
    });
    expect(host.inserts[0]!.results.map((r) => [r.seed, r.image.width, r.image.height])).toEqual([[99, 512, 320], [100, 512, 320]]);
    expect(session.state.results.map((r) => [r.seed, r.inserted, r.canReinsert])).toEqual([[100, true, true], [99, true, true]]);
    // only thumbnails stay on screen; preview URLs were released with the job
    expect(host.urls.size).toBe(2);
  });

  test('the modal-free wait: the layer is read before anything is sent, inserted only after done', async () => {
    await paired();
    session.update({ prompt: 'p', steps: 2, teacherSteps: 1, variations: 1, longSide: 512 });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.events).toEqual(['read 3', 'insert 1']);
  });

  test('cancel: the job ends cancelled and nothing is inserted', async () => {
    await paired();
    session.update({ prompt: 'p', steps: 100, teacherSteps: 10, variations: 2, longSide: 512 });
    await session.generate();
    await until(session, (s) => s.job?.phase === 'running');
    session.cancel();
    expect(session.state.job?.cancelling).toBe(true);
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toEqual({ kind: 'info', text: 'Cancelled.' });
    expect(host.inserts).toEqual([]);
  });

  test('host refusals and missing prompt become notices, and no job reaches the companion', async () => {
    await paired();
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
    expect(await queueOf(daemon)).toEqual({ waiting: 0, running: null });
  });

  test('restyle a layer (img2img): its pixels over the results\' region go with the job; the layer\'s content changes the result', async () => {
    await paired();
    const settings = { prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512, seedMode: 'fixed' as const, seed: 5 };
    session.update({ ...settings, restyleLayerId: 3, denoise: 0.5 });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toBeNull();
    // the style read, then the init read: exactly the canvas (the results' region) at the output's long side
    expect(host.reads.map((r) => r.region ?? null)).toEqual([null, { left: 0, top: 0, right: 1600, bottom: 900 }]);
    expect(host.reads[1]!.maxSide).toBe(512);
    const restyled = host.inserts[0]!.results[0]!.image;
    host.layerColour = [20, 200, 90, 255];
    await session.generate();
    await until(session, (s) => s.job === null);
    const otherLayer = host.inserts[1]!.results[0]!.image;
    session.update({ restyleLayerId: null });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.reads).toHaveLength(5); // no init read without a layer to restyle
    const fromNoise = host.inserts[2]!.results[0]!.image;
    expect([restyled.width, restyled.height]).toEqual([512, 320]);
    expect(Buffer.from(restyled.data).equals(Buffer.from(otherLayer.data))).toBe(false);
    // same style layer and seed, with and without the layer to restyle (the memory host reads one colour for both)
    expect(Buffer.from(otherLayer.data).equals(Buffer.from(fromNoise.data))).toBe(false);
  });

  test('several references: each added layer is read and goes with the job, weights included; an unchosen one is a notice', async () => {
    await paired();
    host.layerColours = { 3: [30, 60, 90, 255], 2: [220, 40, 40, 255] };
    const settings = { prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512, seedMode: 'fixed' as const, seed: 9 };
    const image = async (patch: Partial<typeof session.state.settings>) => {
      session.update({ ...settings, ...patch });
      await session.generate();
      await until(session, (s) => s.job === null);
      expect(session.state.notice).toBeNull();
      return host.inserts[host.inserts.length - 1]!.results[0]!.image.data;
    };
    const levels = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const one = await image({});
    const two = await image({ moreStyles: [{ layerId: 2, weight: 1 }], styleWeight: 0.5 });
    expect(host.reads.slice(-2).map((r) => r.layerId)).toEqual([3, 2]);
    const off = await image({ moreStyles: [{ layerId: 2, weight: 0 }], styleWeight: 1 });
    expect(levels(two, one)).toBeGreaterThan(10); // the red layer's style reaches the result
    expect(levels(off, one)).toBeLessThanOrEqual(2); // weight 0 leaves it out (another graph: float noise only)
    session.update({ moreStyles: [{ layerId: null, weight: 1 }] });
    await session.generate();
    expect(session.state.notice?.text).toMatch(/Choose a layer for each added style reference/);
    expect(host.inserts).toHaveLength(3);
  });

  test('several elements left out go as one list: colours + lighting = colours (colour brings its light), lighting alone differs', async () => {
    await paired();
    host.layerColours = { 3: [200, 60, 30, 255] };
    const run = async (elements: readonly ('colour' | 'lighting')[]) => {
      session.update({ prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512, seedMode: 'fixed', seed: 4, avoid: { kind: 'drop', elements } });
      await session.generate();
      await until(session, (s) => s.job === null);
      expect(session.state.notice).toBeNull();
      return Buffer.from(host.inserts[host.inserts.length - 1]!.results[0]!.image.data);
    };
    const colours = await run(['colour']);
    const both = await run(['colour', 'lighting']);
    const lighting = await run(['lighting']);
    expect(both.equals(colours)).toBe(true);
    expect(lighting.equals(colours)).toBe(false);
  });

  test('deleting the applied preset removes it on the companion and puts the style source back on the layers; a second delete is refused', async () => {
    await paired();
    session.update({ prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512 });
    expect(await session.savePreset('to delete', false)).toBe(true);
    await session.applyPreset('to delete');
    expect(session.state.presetSource?.name).toBe('to delete');
    await session.deletePreset('to delete');
    expect(session.state.notice).toEqual({ kind: 'info', text: 'Deleted preset “to delete”.' });
    expect(session.state.presetSource).toBeNull();
    expect(session.state.presets?.some((p) => p.name === 'to delete')).toBe(false);
    await session.deletePreset('to delete');
    expect(session.state.notice?.kind).toBe('error');
    expect(session.state.notice?.text).toMatch(/^The preset was not deleted: .*to delete/);
    expect(session.state.presetBusy).toBe(false);
  });

  test('several layers to avoid: each is read and goes as a negative slot; the second one changes the result', async () => {
    await paired();
    host.layerColours = { 3: [30, 60, 90, 255], 2: [220, 40, 40, 255], 1: [20, 200, 40, 255] };
    const run = async (patch: Partial<typeof session.state.settings>) => {
      session.update({ prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512, seedMode: 'fixed', seed: 12, avoid: { kind: 'layer', layerId: 2 }, ...patch });
      await session.generate();
      await until(session, (s) => s.job === null);
      expect(session.state.notice).toBeNull();
      return host.inserts[host.inserts.length - 1]!.results[0]!.image.data;
    };
    const one = await run({ moreAvoidLayerIds: [] });
    const two = await run({ moreAvoidLayerIds: [1] });
    expect(host.reads.slice(-3).map((r) => r.layerId)).toEqual([3, 2, 1]);
    expect(Buffer.from(two).equals(Buffer.from(one))).toBe(false);
    session.update({ moreAvoidLayerIds: [null] });
    await session.generate();
    expect(session.state.notice?.text).toMatch(/Choose a layer for each added layer to avoid/);
  });

  test('restyle: a layer deleted since it was chosen is a notice, and no job reaches the companion', async () => {
    await paired();
    session.update({ prompt: 'p', steps: 4, restyleLayerId: 999 });
    await session.generate();
    expect(session.state.notice?.text).toMatch(/layer to restyle no longer exists/);
    expect(host.inserts).toHaveLength(0);
  });

  test('selection: output aspect follows it and results are placed over it; reuse seed and insert again', async () => {
    await paired({ ...SAMPLE_DOC, selection: { left: 100, top: 100, right: 400, bottom: 700 } });
    session.update({ prompt: 'p', steps: 2, teacherSteps: 2, variations: 1, longSide: 512, selectionOnly: true });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.reads[0]!.selectionOnly).toBe(true);
    expect(host.inserts[0]!.results.map((r) => [r.image.width, r.image.height])).toEqual([[256, 512]]);
    expect(host.inserts[0]!.target).toEqual({ left: 100, top: 100, right: 400, bottom: 700 });
    expect(host.inserts[0]!.mask?.bounds).toEqual({ left: 100, top: 100, right: 400, bottom: 700 });
    const result = session.state.results[0]!;
    session.reuseSeed(result.id);
    expect(session.state.settings).toMatchObject({ seedMode: 'fixed', seed: result.seed });
    await session.reinsert(result.id);
    expect(host.inserts).toHaveLength(2);
    expect(host.inserts[1]!.results).toHaveLength(1);
    expect(host.inserts[1]!.mask).toBe(host.inserts[0]!.mask); // inserted again under the same captured selection
  });

  test('inpainting (restyle + mask to selection + only inside): the captured selection goes as the mask; the kept side stays', async () => {
    const selection = { left: 0, top: 0, right: 1600, bottom: 900 };
    await paired({ ...SAMPLE_DOC, selection });
    host.layerColours = { 3: [30, 60, 90, 255], 1: [240, 240, 240, 255] };
    host.selectionAlpha = new Uint8Array(1600 * 900).map((_, i) => (i % 1600 < 800 ? 255 : 0)); // the left half
    const run = async (patch: Partial<typeof session.state.settings>) => {
      session.update({ prompt: 'p', steps: 4, teacherSteps: 2, variations: 1, longSide: 512, seedMode: 'fixed', seed: 4, restyleLayerId: 1, denoise: 1, ...patch });
      await session.generate();
      await until(session, (s) => s.job === null);
      expect(session.state.notice).toBeNull();
      return host.inserts[host.inserts.length - 1]!.results[0]!.image;
    };
    const whole = await run({ inpaint: false });
    const inside = await run({ inpaint: true });
    expect([inside.width, inside.height]).toEqual([512, 288]);
    // column means of the right (kept) half against the left (redrawn) half: the kept half is the flat light layer
    const spread = (img: typeof inside, x0: number, x1: number) => {
      let lo = 255;
      let hi = 0;
      for (let y = 0; y < img.height; y++) for (let x = x0; x < x1; x++) { const v = img.data[(y * img.width + x) * 4]!; lo = Math.min(lo, v); hi = Math.max(hi, v); }
      return hi - lo;
    };
    expect(spread(inside, 300, 512)).toBeLessThan(spread(whole, 300, 512));
    expect(Buffer.from(inside.data).equals(Buffer.from(whole.data))).toBe(false);
  });

  test('mask to selection: the selection is captured at Generate, a new one during the job changes nothing; off: fitted, unmasked', async () => {
    const selection = { left: 100, top: 100, right: 400, bottom: 520 }; // 300 × 420
    await paired({ ...SAMPLE_DOC, selection });
    const shape = new Uint8Array(300 * 420).map((_, i) => (i % 300 < 150 ? 255 : 0)); // the left half: not a rectangle's box
    host.selectionAlpha = shape;
    session.update({ prompt: 'p', steps: 8, teacherSteps: 2, variations: 1, longSide: 512 });
    expect(session.state.settings.maskToSelection).toBe(true); // on by default
    expect(session.outputSize()).toEqual({ width: 352, height: 512 }); // the engine's stride (32): closest to 300:420
    await session.generate();
    await until(session, (s) => s.job?.phase === 'running');
    // the user selects something else while the companion works
    host.state = { kind: 'ready', doc: { ...SAMPLE_DOC, selection: { left: 0, top: 0, right: 50, bottom: 50 } } };
    host.selectionAlpha = null;
    await until(session, (s) => s.job === null);
    expect(session.state.notice).toBeNull();
    expect(host.events).toEqual(['read 3', 'read selection', 'insert 1']);
    const insert = host.inserts[0]!;
    expect(insert.results.map((r) => [r.image.width, r.image.height])).toEqual([[352, 512]]);
    expect(insert.target).toEqual(selection);
    expect(insert.mask?.bounds).toEqual(selection);
    expect(insert.mask?.alpha).toBe(shape);

    // off: as without the option: fitted into the (current) selection's box on the 64 px grid, no mask, no selection read
    host.state = { kind: 'ready', doc: { ...SAMPLE_DOC, selection } };
    await session.refreshDocument();
    session.update({ maskToSelection: false });
    expect(session.outputSize()).toEqual({ width: 384, height: 512 });
    await session.generate();
    await until(session, (s) => s.job === null);
    expect(host.events.slice(3)).toEqual(['read 3', 'insert 1']);
    expect(host.inserts[1]).toMatchObject({ target: selection, mask: null });
    expect(host.inserts[1]!.results.map((r) => [r.image.width, r.image.height])).toEqual([[384, 512]]);
  });

  test(`only the newest ${KEPT_RESULTS} results keep their pixels; the list itself is bounded`, async () => {
    await paired(SAMPLE_DOC, 10);
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

test('missing models: the Download button fetches the set with progress, and a fresh welcome lists every model present', async () => {
  const hub = tinySetHub();
  await hub.start();
  const daemon = await startTinyServe({ models: false, hubEndpoint: hub.endpoint });
  const host = new MemoryHost(SAMPLE_DOC);
  const session = new PanelSession(host, new CompanionClient({ url: daemon.url, socketFactory: sockets }));
  try {
    await session.start();
    await session.pair(daemon.token);
    await until(session, (s) => s.connection.kind === 'ready');
    const c = session.state.connection;
    expect(c.kind === 'ready' && c.welcome.engine.ready).toBe(false);
    expect(c.kind === 'ready' && c.welcome.models.some((m) => !m.present)).toBe(true);
    const seen: number[] = [];
    const off = session.subscribe(() => {
      const d = session.state.download;
      if (d?.started) seen.push(d.receivedBytes);
    });
    session.downloadModels();
    expect(session.state.download).toEqual({ started: false });
    await until(session, (s) => s.notice?.text === 'Models downloaded.', 120_000);
    await until(session, (s) => s.connection.kind === 'ready' && s.connection.welcome.models.every((m) => m.present), 30_000);
    off();
    expect(seen.length).toBeGreaterThan(0);
    expect(session.state.download).toBeNull();
    expect(hub.requests.some((r) => r.method === 'GET')).toBe(true);
  } finally {
    session.stop();
    expect(daemon.stderr()).not.toMatch(/Error|\n\s+at /); // stderr carries the download's progress lines, nothing else
    await daemon.stop();
    await hub.stop();
  }
});

test('shortName keeps names on one line and bounded', () => {
  expect(shortName('  a\n b  ')).toBe('a b');
  expect(shortName('x'.repeat(60), 10)).toBe('xxxxxxxxx…');
});
