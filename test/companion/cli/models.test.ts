/** `stylestudio models list|pull` and `doctor` as a user runs them, against a loopback hub. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MODELS } from '../../../companion/weights/default-models';
import { runCli } from '../../helpers/cli-process';
import { defaultSetHub } from '../../helpers/default-set-hub';
import type { FakeHub } from '../../helpers/fake-hub';

let tmp: string;
let hub: FakeHub;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-models-'));
  hub = defaultSetHub();
  await hub.start();
  env = { STYLESTUDIO_CONFIG_DIR: path.join(tmp, 'config'), HF_HUB_CACHE: path.join(tmp, 'hub'), HF_HOME: '', HF_ENDPOINT: hub.endpoint };
});
afterEach(async () => {
  await hub.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface ListJson {
  cacheDir: string;
  models: Array<{ id: string; repo: string; present: boolean; missingFiles: string[]; snapshotDir: string | null }>;
}

test('list shows every model missing in an empty cache; pull fetches them; list then shows them present', async () => {
  const before = await runCli(['models', 'list', '--json'], env);
  expect(before.code).toBe(0);
  const b = JSON.parse(before.stdout) as ListJson;
  expect(b.cacheDir).toBe(path.join(tmp, 'hub'));
  expect(b.models.map((m) => [m.id, m.present, m.missingFiles.length])).toEqual(DEFAULT_MODELS.map((m) => [m.id, false, m.files.length]));

  const pull = await runCli(['models', 'pull'], env);
  expect(pull.stderr).toContain('sdxl-base  unet/diffusion_pytorch_model.fp16.safetensors  100%');
  expect(pull.code).toBe(0);
  const after = JSON.parse((await runCli(['models', 'list', '--json'], env)).stdout) as ListJson;
  expect(after.models.every((m) => m.present)).toBe(true);
  const unet = path.join(after.models[0]!.snapshotDir!, 'unet', 'diffusion_pytorch_model.fp16.safetensors');
  expect(fs.lstatSync(unet).isSymbolicLink()).toBe(true);
  expect(fs.readFileSync(unet).equals(hub.blobOf('stabilityai/stable-diffusion-xl-base-1.0', 'unet/diffusion_pytorch_model.fp16.safetensors').bytes)).toBe(true);

  const gets = hub.requests.length;
  const again = await runCli(['models', 'pull'], env);
  expect(again.code).toBe(0);
  expect(hub.requests.length).toBe(gets); // present files are not even asked about
});

test('pull of one model by id, --models DIR as the cache, unknown ids refused', async () => {
  const dir = path.join(tmp, 'explicit');
  const r = await runCli(['models', 'pull', 'sdxl-vae-fp16-fix', '--models', dir], env);
  expect(r.code).toBe(0);
  const list = JSON.parse((await runCli(['models', 'list', '--json', '--models', dir], env)).stdout) as ListJson;
  expect(list.models.map((m) => m.present)).toEqual([false, true, false, false]);
  const bad = await runCli(['models', 'pull', 'sd15'], env);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('unknown model sd15');
});

test('a corrupt download fails the pull with a message naming the file and leaves the model missing', async () => {
  hub.faults = { corruptAt: 100 };
  const r = await runCli(['models', 'pull', 'csgo-adapter'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('InstantX/CSGO/csgo_4_32.bin: content hash');
  const list = JSON.parse((await runCli(['models', 'list', '--json'], env)).stdout) as ListJson;
  expect(list.models.find((m) => m.id === 'csgo-adapter')?.present).toBe(false);
});

test('doctor prints one ok/warn/fail line per check, including models, port and token location', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const r = await runCli(['doctor', '--port', String(port)], env);
    const lines = r.stdout.trim().split('\n').filter((l) => /^\[/.test(l));
    expect(lines.every((l) => /^\[( ok |warn|FAIL)\] /.test(l))).toBe(true);
    const labels = lines.map((l) => l.slice(7).trim().split(/\s{2,}/)[0]);
    expect(labels).toEqual(expect.arrayContaining(['node', 'onnxruntime', 'provider cpu', 'memory', 'model sdxl-base', 'port', 'token']));
    expect(r.stdout).toMatch(/\[warn\] model sdxl-base .*\n.*fix: run `stylestudio models pull`/);
    expect(r.stdout).toMatch(new RegExp(`\\[warn\\] port .*127\\.0\\.0\\.1:${port} is in use`));
    expect(r.stdout).toContain(path.join(tmp, 'config', 'token'));
    expect(r.code).toBe(lines.some((l) => l.startsWith('[FAIL]')) ? 1 : 0);
  } finally {
    blocker.close();
  }
});
