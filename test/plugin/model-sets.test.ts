/**
 * The panel's client and session with a companion that has a ComfyUI model root: the model sets arrive on connecting,
 * a selection switches the companion (its welcome's models and engine follow), a refused one says why, and a
 * reconnection lists them again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { ModelSets } from '../../protocol';
import { CompanionClient, ModelSetSelectionError } from '../../plugin/client/companion-client';
import { PanelSession } from '../../plugin/session/panel-session';
import { MemoryHost, SAMPLE_DOC } from './fakes/memory-host';
import type { SocketLike } from '../../plugin/client/socket';
import { fixture } from '../helpers/paths';
import { startTinyServe, type TinyServe } from '../helpers/tiny-serve';
import { writeOriginalCheckpoint } from '../companion/weights/ldm-checkpoint-writer';

jest.setTimeout(120_000);

let dir: string;
let daemon: TinyServe;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-panel-sets-'));
  const checkpoints = path.join(dir, 'ComfyUI', 'models', 'checkpoints');
  fs.mkdirSync(checkpoints, { recursive: true });
  writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(checkpoints, 'tiny.safetensors'));
  fs.writeFileSync(path.join(checkpoints, 'broken.safetensors'), Buffer.from([1, 2, 3]));
  daemon = await startTinyServe({ args: ['--model-root', path.join(dir, 'ComfyUI'), '--model-config', fixture('sdxl-tiny')] });
});
afterAll(async () => {
  expect(daemon.stderr()).toBe('');
  await daemon.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The next `modelSets` the client receives (with `current` when given). Tests here share one daemon, so none
 * assumes which set the other left current. */
function nextSets(client: CompanionClient, current?: string): Promise<ModelSets> {
  return new Promise((resolve) => {
    const off = client.subscribeModelSets((sets) => {
      if (current !== undefined && sets.current !== current) return;
      off();
      resolve(sets);
    });
  });
}

test('sets on connecting, a switch the welcome follows, a refusal with its code, sets again after a reconnect', async () => {
  const opened: WebSocket[] = [];
  const client = new CompanionClient({
    url: daemon.url, backoff: { initialMs: 20, maxMs: 80 },
    socketFactory: (url) => {
      const ws = new WebSocket(url).on('error', () => undefined);
      opened.push(ws);
      return ws as unknown as SocketLike;
    },
  });
  try {
    const first = nextSets(client);
    client.connect(daemon.token);
    const listed = await first;
    expect(listed.sets.map((s) => [s.name, s.usable])).toEqual([[expect.stringMatching(/^Default set/), true], ['tiny.safetensors', true], ['broken.safetensors', false]]);

    const switched = await client.selectModelSet('tiny.safetensors');
    expect(switched.current).toBe('tiny.safetensors');
    expect(client.modelSets?.current).toBe('tiny.safetensors');
    const welcome = client.state.kind === 'ready' ? client.state.welcome : null;
    expect(welcome?.models.map((m) => m.id)).toEqual(['csgo-adapter', 'image-encoder']); // no sdxl-base, the checkpoint has a VAE

    const refused = await client.selectModelSet(listed.sets[2]!.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ModelSetSelectionError);
    expect(refused).toMatchObject({ code: 'MODEL_SET_UNUSABLE' });

    const again = nextSets(client, 'tiny.safetensors');
    opened[0]!.terminate(); // a dropped connection: the client reconnects and lists the sets again
    expect((await again).current).toBe('tiny.safetensors');
    expect(opened).toHaveLength(2);
  } finally {
    client.disconnect();
  }
});

test('the panel session shows the sets, switches on a choice, and turns a refusal into a notice', async () => {
  const host = new MemoryHost(SAMPLE_DOC);
  await host.tokens.save(daemon.token);
  const client = new CompanionClient({ url: daemon.url, socketFactory: (url) => new WebSocket(url).on('error', () => undefined) as unknown as SocketLike });
  const session = new PanelSession(host, client);
  const until = (ok: () => boolean) => new Promise<void>((resolve) => {
    if (ok()) return resolve();
    const off = session.subscribe(() => {
      if (ok()) {
        off();
        resolve();
      }
    });
  });
  try {
    await session.start();
    await until(() => session.state.modelSets !== null);
    const target = session.state.modelSets!.current === 'default' ? 'tiny.safetensors' : 'default';
    await session.selectModelSet(target);
    expect(session.state).toMatchObject({ switchingSet: false, notice: null, modelSets: { current: target } });
    const broken = session.state.modelSets!.sets.find((s) => !s.usable)!;
    await session.selectModelSet(broken.id);
    expect(session.state.notice).toMatchObject({ kind: 'error', text: expect.stringMatching(/^The model set did not change: broken\.safetensors: /) });
    expect(session.state.modelSets!.current).toBe(target);
  } finally {
    session.stop();
  }
});
