/**
 * Stopping the daemon releases the engines before close() resolves: the one in use and one replaced by setEngine
 * (a model-set switch) whose job was still running. `serve` exits right after close(); sessions still alive in worker
 * threads at that moment can take the process down by a signal (CI saw exit 143 after a switch back to the default set).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveServerOptions } from '../../../companion/server/options';
import { StyleStudioServer, type ModelService } from '../../../companion/server/server';
import { SyntheticTestEngine } from '../../helpers/synthetic-engine';
import { TEST_TOKEN } from '../../helpers/daemon-process';
import { TestClient } from '../../helpers/ws-client';

jest.setTimeout(60_000);

const models: ModelService = { list: () => [], pull: async () => [] };

/** A synthetic engine whose close takes `closeMs` (or never ends) and records when it is done. */
function engineClosingAfter(name: string, closed: string[], closeMs: number | null): SyntheticTestEngine {
  const engine = new SyntheticTestEngine({ stepMs: 50 }) // a 150-step job runs 7.5 s;
  const terminate = engine.close.bind(engine);
  engine.close = async () => {
    await terminate();
    if (closeMs === null) return new Promise<void>(() => {});
    await new Promise((resolve) => setTimeout(resolve, closeMs));
    closed.push(name);
  };
  return engine;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-close-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const serverWith = (engine: SyntheticTestEngine) =>
  new StyleStudioServer(resolveServerOptions({ token: TEST_TOKEN, companionVersion: 't', port: 0, configDir: dir }), engine, models, () => {});

test('close() resolves only after the engine in use and a replaced engine with a running job are closed', async () => {
  const closed: string[] = [];
  const first = engineClosingAfter('first', closed, 200);
  const server = serverWith(first);
  await server.listen();
  const c = await TestClient.paired(server.url, TEST_TOKEN);
  c.send({ type: 'generate', requestId: 'g', params: { prompt: 'p', width: 64, height: 64, steps: 150, seed: 1 } });
  await c.waitFor((m) => m.type === 'progress');
  server.setEngine(engineClosingAfter('second', closed, 100)); // the job goes on on the first engine
  expect(closed).toEqual([]);
  await server.close();
  closed.push('server');
  expect(closed[2]).toBe('server');
  expect(closed.slice(0, 2).sort()).toEqual(['first', 'second']);
  c.close();
});

test('an engine whose close never ends does not keep the server from closing', async () => {
  const server = serverWith(engineClosingAfter('stuck', [], null));
  await server.listen();
  const t0 = Date.now();
  await server.close();
  expect(Date.now() - t0).toBeLessThan(30_000); // bounded wait (5 s), not forever
});
