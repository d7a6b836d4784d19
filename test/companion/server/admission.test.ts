/**
 * The real daemon on the tiny default set: the engine's state in `welcome` (present → warm), loading stages as
 * progress while a job waits for its networks, and jobs the engine cannot run refused at submit with a stable code.
 */
import { startTinyServe, type TinyServe } from '../../helpers/tiny-serve';
import { TestClient } from '../../helpers/ws-client';

let daemon: TinyServe;
let tight: TinyServe;

beforeAll(async () => {
  [daemon, tight] = await Promise.all([startTinyServe(), startTinyServe({ args: ['--memory-budget', '0.6GiB'] })]);
}, 240_000);

afterAll(async () => {
  await Promise.all([daemon?.stop(), tight?.stop()]);
});

test('welcome says present before the first job and warm after it; the first job reports its loading stages', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  const welcome = c.messages[0]!;
  expect(welcome).toMatchObject({ type: 'welcome', engine: { ready: true, state: 'present' } });
  c.send({ type: 'generate', requestId: 'g1', params: { prompt: 'a red apple', width: 64, height: 64, steps: 2, seed: 3 } });
  const accepted = await c.waitFor((m) => m.type === 'accepted');
  const jobId = accepted.type === 'accepted' ? accepted.jobId : '';
  expect(await c.waitFor((m) => m.type === 'done' && m.jobId === jobId, 120_000)).toMatchObject({ outcome: 'completed' });
  const stages = c.messages.flatMap((m) => (m.type === 'progress' && m.stage !== undefined ? [m.stage] : []));
  expect(stages).toEqual(['loading the text encoders', 'loading the UNet', 'loading the VAE decoder']);
  const again = await TestClient.paired(daemon.url, daemon.token);
  expect(again.messages[0]).toMatchObject({ type: 'welcome', engine: { ready: true, state: 'warm' } });
  // the next job at the same size loads only the text encoders again if the budget let them go: here it kept them
  again.send({ type: 'generate', requestId: 'g2', params: { prompt: 'a blue car', width: 64, height: 64, steps: 1, seed: 4 } });
  const a2 = await again.waitFor((m) => m.type === 'accepted');
  await again.waitFor((m) => m.type === 'done' && a2.type === 'accepted' && m.jobId === a2.jobId, 120_000);
  expect(again.messages.filter((m) => m.type === 'progress' && m.stage !== undefined)).toEqual([]);
  c.close();
  again.close();
}, 240_000);

test('a size off the engine\'s stride is refused by the protocol itself, nothing queued', async () => {
  const c = await TestClient.paired(daemon.url, daemon.token);
  c.send({ type: 'generate', requestId: 'odd', params: { prompt: 'p', width: 72, height: 64, steps: 1 } });
  const m = await c.waitFor((x) => 'requestId' in x && x.requestId === 'odd');
  expect(m).toMatchObject({ type: 'error', code: 'BAD_MESSAGE', message: expect.stringContaining('width 72 is not a multiple of 32; try 64 or 96') });
  expect(c.messages.some((x) => x.type === 'accepted')).toBe(false);
  c.close();
});

test('a job larger than `serve --memory-budget` is refused at submit with both figures (JOB_TOO_LARGE)', async () => {
  const c = await TestClient.paired(tight.url, tight.token);
  c.send({ type: 'generate', requestId: 'big', params: { prompt: 'p', width: 64, height: 64, steps: 1 } });
  const m = await c.waitFor((x) => 'requestId' in x && x.requestId === 'big');
  expect(m).toMatchObject({ type: 'error', code: 'JOB_TOO_LARGE', message: expect.stringMatching(/^this job needs 0\.\d GiB but the memory budget is 0\.6 GiB/) });
  c.close();
});
