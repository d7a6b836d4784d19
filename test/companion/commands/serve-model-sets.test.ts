/**
 * Issue 14.7, the panel's side: the real `serve` with a ComfyUI model root lists its model sets (`modelSets.list`),
 * switches to a checkpoint and back (`modelSet.select`), runs a job on the checkpoint, and refuses unknown, unusable
 * and busy switches with their codes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ServerMessage } from '../../../protocol';
import { fixture } from '../../helpers/paths';
import { startTinyServe, type TinyServe } from '../../helpers/tiny-serve';
import { TestClient } from '../../helpers/ws-client';
import { writeOriginalCheckpoint } from '../weights/ldm-checkpoint-writer';

jest.setTimeout(180_000);

let dir: string;
let serve: TinyServe;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-model-sets-'));
  const checkpoints = path.join(dir, 'ComfyUI', 'models', 'checkpoints');
  fs.mkdirSync(path.join(checkpoints, 'sdxl'), { recursive: true });
  writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(checkpoints, 'sdxl', 'tiny.safetensors'));
  fs.writeFileSync(path.join(checkpoints, 'truncated.safetensors'), Buffer.from([1, 2, 3]));
  serve = await startTinyServe({ args: ['--model-root', path.join(dir, 'ComfyUI'), '--model-config', fixture('sdxl-tiny')] });
});
afterAll(async () => {
  const code = await serve.stop();
  expect({ code, stderr: serve.stderr() }).toEqual({ code: 0, stderr: '' }); // a crash at exit names its signal on stderr
  fs.rmSync(dir, { recursive: true, force: true });
});

type ModelSetsMessage = Extract<ServerMessage, { type: 'modelSets' }>;
const isSets = (requestId?: string) => (m: ServerMessage) => m.type === 'modelSets' && m.requestId === requestId;

test('list, switch to a checkpoint, generate on it, switch back; unknown, unusable and busy switches refused', async () => {
  const c = await TestClient.paired(serve.url, serve.token);
  c.send({ type: 'modelSets.list' });
  const listed = (await c.waitFor(isSets())) as ModelSetsMessage;
  expect(listed.current).toBe('default');
  expect(listed.sets.map((s) => [s.name, s.kind, s.usable])).toEqual([
    [expect.stringMatching(/^Default set/), 'default', true], ['tiny.safetensors', 'checkpoint', true], ['truncated.safetensors', 'checkpoint', false],
  ]);
  expect(listed.sets[1]!.id).toBe('sdxl/tiny.safetensors'); // its path below models/checkpoints, as --checkpoint NAME takes it
  expect(listed.sets[2]!.reason).toBeTruthy();

  c.send({ type: 'modelSet.select', requestId: 's1', id: 'sdxl/tiny.safetensors' });
  const chosen = (await c.waitFor(isSets('s1'))) as ModelSetsMessage;
  expect(chosen.current).toBe('sdxl/tiny.safetensors');
  expect(chosen.models.map((m) => m.id)).not.toContain('sdxl-base'); // the checkpoint replaces it
  let state = chosen;
  for (let i = 0; i < 400 && !state.engine.ready; i++) {
    await new Promise((r) => setTimeout(r, 50));
    c.messages.length = 0; // only the answer to this list counts
    c.send({ type: 'modelSets.list' });
    state = (await c.waitFor(isSets())) as ModelSetsMessage;
  }
  expect(state).toMatchObject({ current: 'sdxl/tiny.safetensors', engine: { ready: true } });

  c.send({ type: 'generate', requestId: 'g1', params: { prompt: 'a red apple', width: 64, height: 64, steps: 2, seed: 1 } });
  expect(await c.waitFor((m) => m.type === 'done' || m.type === 'error', 120_000)).toMatchObject({ type: 'done', outcome: 'completed' });

  // busy: a long job queued, the switch is refused, the job is cancelled
  c.send({ type: 'generate', requestId: 'g2', params: { prompt: 'a red apple', width: 64, height: 64, steps: 150, seed: 1 } });
  const accepted = await c.waitFor((m) => m.type === 'accepted' && m.requestId === 'g2');
  c.send({ type: 'modelSet.select', requestId: 's2', id: 'default' });
  expect(await c.waitFor((m) => m.type === 'error' && m.requestId === 's2')).toMatchObject({ code: 'MODEL_SET_BUSY' });
  if (accepted.type === 'accepted') c.send({ type: 'cancel', jobId: accepted.jobId });
  await c.waitFor((m) => m.type === 'done' && accepted.type === 'accepted' && m.jobId === accepted.jobId, 60_000);

  c.send({ type: 'modelSet.select', requestId: 's3', id: 'nowhere.safetensors' });
  expect(await c.waitFor((m) => m.type === 'error' && m.requestId === 's3')).toMatchObject({ code: 'UNKNOWN_MODEL_SET' });
  c.send({ type: 'modelSet.select', requestId: 's4', id: listed.sets[2]!.id });
  expect(await c.waitFor((m) => m.type === 'error' && m.requestId === 's4')).toMatchObject({ code: 'MODEL_SET_UNUSABLE' });

  c.send({ type: 'modelSet.select', requestId: 's5', id: 'default' });
  const back = (await c.waitFor(isSets('s5'))) as ModelSetsMessage;
  expect(back.current).toBe('default');
  expect(back.models.map((m) => m.id)).toContain('sdxl-base');
  c.close();
  expect(serve.stderr()).toBe('');
});
