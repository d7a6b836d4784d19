/** `stylestudio serve` as a user runs it: banner, token file, no models, busy port, downloads from the panel. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, startServe } from '../../helpers/cli-process';
import { defaultSetHub } from '../../helpers/default-set-hub';
import { TestClient } from '../../helpers/ws-client';

let tmp: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-serve-'));
  env = { STYLESTUDIO_CONFIG_DIR: path.join(tmp, 'config'), HF_HUB_CACHE: path.join(tmp, 'hub'), HF_HOME: '', HF_ENDPOINT: 'http://127.0.0.1:9' };
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('with no models it starts, prints address, token and provider, says what is missing; the panel can pair', async () => {
  const serve = await startServe(env);
  try {
    const out = serve.stdout();
    expect(out).toMatch(/listening\s+ws:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/provider\s+cpu/);
    expect(out).toContain('missing  sdxl-base');
    expect(out).toContain('stylestudio models pull');
    const tokenFile = path.join(tmp, 'config', 'token');
    expect(fs.readFileSync(tokenFile, 'utf8').trim()).toBe(serve.token);
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);

    const client = await TestClient.paired(serve.url, serve.token);
    const welcome = client.messages[0]!;
    expect(welcome).toMatchObject({ type: 'welcome', engine: { ready: false }, provider: 'cpu' });
    if (welcome.type === 'welcome') expect(welcome.models.map((m) => [m.id, m.present])).toEqual([
      ['sdxl-base', false], ['sdxl-vae-fp16-fix', false], ['csgo-adapter', false], ['image-encoder', false]]);
    client.send({ type: 'generate', requestId: 'g', params: { prompt: 'p', width: 64, height: 64 } });
    expect(await client.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'MODELS_MISSING', requestId: 'g' });
    client.close();
  } finally {
    expect(await serve.stop()).toBe(0);
  }
  // A second start keeps the same token.
  const again = await startServe(env);
  expect(again.token).toBe(fs.readFileSync(path.join(tmp, 'config', 'token'), 'utf8').trim());
  await again.stop();
});

test('a port in use gets one clear line and exit code 1, no stack trace', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const r = await runCli(['serve', '--port', String(port)], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`stylestudio: port ${port} on 127.0.0.1 is already in use: another companion may be running; stop it or pass --port N`);
  } finally {
    blocker.close();
  }
});

test('bad flags are refused with a message naming them', async () => {
  const r = await runCli(['serve', '--port', 'abc'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('--port must be an integer');
  const h = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], env);
  expect(h.code).toBe(1);
  expect(h.stderr).toContain('loopback only');
  const p = await runCli(['serve', '--provider', 'tpu', '--port', '0'], env);
  expect(p.code).toBe(1);
  expect(p.stderr.trim()).toBe('stylestudio: --provider must be one of auto, cpu, cuda, dml, coreml, webgpu, got "tpu"');
});

test('the panel\'s models.pull downloads the default set with progress; the next welcome lists them present', async () => {
  const hub = defaultSetHub();
  await hub.start();
  const serve = await startServe({ ...env, HF_ENDPOINT: hub.endpoint });
  try {
    const client = await TestClient.paired(serve.url, serve.token);
    client.send({ type: 'models.pull', requestId: 'pull-1' });
    client.send({ type: 'models.pull', requestId: 'pull-2' });
    expect(await client.waitFor((m) => m.type === 'error' && m.requestId === 'pull-2')).toMatchObject({ code: 'PULL_IN_PROGRESS' });
    const done = await client.waitFor((m) => (m.type === 'models.done' || m.type === 'error') && 'requestId' in m && m.requestId === 'pull-1', 30_000);
    expect(done.type).toBe('models.done');
    if (done.type === 'models.done') expect(done.models.every((m) => m.present)).toBe(true);
    const progress = client.messages.filter((m) => m.type === 'models.progress');
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(new Set(progress.map((m) => m.type === 'models.progress' && m.model))).toEqual(new Set(['sdxl-base', 'sdxl-vae-fp16-fix', 'csgo-adapter', 'image-encoder']));
    const second = await TestClient.paired(serve.url, serve.token);
    const welcome = second.messages[0]!;
    expect(welcome.type === 'welcome' && welcome.models.every((m) => m.present)).toBe(true);
    // The files are all there now, so serve swaps in the real engine; but this fake hub serves stand-in bytes for
    // most of them (only a few are tiny real models), so the pipeline cannot open them: ENGINE_NOT_READY, not
    // MODELS_MISSING. (Generation on a complete tiny set is covered by reliability.test.ts and the e2e.)
    let reason = '';
    for (let i = 0; i < 600; i++) { // the engine opens the folders off the main thread: up to a minute
      const probe = await TestClient.paired(serve.url, serve.token);
      const w = probe.messages[0]!;
      probe.close();
      reason = w.type === 'welcome' ? (w.engine.reason ?? 'ready') : JSON.stringify(w);
      if (!/loading/.test(reason)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(reason).toMatch(/snapshots\/[0-9a-f]{40}\/\S+\.safetensors .*: /); // names the file it could not read, then why
    second.send({ type: 'generate', requestId: 'g', params: { prompt: 'p', width: 64, height: 64 } });
    expect(await second.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'ENGINE_NOT_READY', message: reason });
    client.close();
    second.close();
  } finally {
    await serve.stop();
    await hub.stop();
  }
});

test('serve --checkpoint offers the panel only what it needs: no sdxl-base, and the fp16-fix VAE only for a checkpoint without one', async () => {
  const { writeOriginalCheckpoint } = await import('../weights/ldm-checkpoint-writer');
  const { fixture } = await import('../../helpers/paths');
  const withVae = writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(tmp, 'full.safetensors'));
  const noVae = writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(tmp, 'novae.safetensors'), { parts: ['unet', 'text_encoder', 'text_encoder_2'] });
  for (const [file, ids] of [[withVae, ['csgo-adapter', 'image-encoder']], [noVae, ['sdxl-vae-fp16-fix', 'csgo-adapter', 'image-encoder']]] as const) {
    const serve = await startServe(env, ['--checkpoint', file, '--model-config', fixture('sdxl-tiny')]);
    try {
      expect(serve.stdout()).not.toContain('sdxl-base (about');
      const client = await TestClient.paired(serve.url, serve.token);
      const welcome = client.messages[0]!;
      expect(welcome.type === 'welcome' && welcome.models.map((m) => m.id)).toEqual(ids);
      client.close();
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  }
}, 60_000);

test('model roots: a --model-root that is no ComfyUI/A1111 folder stops serve with its code; a stale STYLESTUDIO_MODEL_ROOTS entry only warns', async () => {
  const plain = path.join(tmp, 'plain');
  fs.mkdirSync(plain);
  const bad = await runCli(['serve', '--port', '0', '--model-root', plain], env);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/neither a ComfyUI folder .* nor an AUTOMATIC1111/);
  const serve = await startServe({ ...env, STYLESTUDIO_MODEL_ROOTS: [path.join(tmp, 'gone'), plain].join(path.delimiter) });
  try {
    expect(serve.stderr()).toMatch(/ignoring STYLESTUDIO_MODEL_ROOTS entry: .*gone: no such folder/);
    expect(serve.stderr()).toMatch(/ignoring STYLESTUDIO_MODEL_ROOTS entry: .*plain: neither a ComfyUI folder/);
    const client = await TestClient.paired(serve.url, serve.token);
    client.send({ type: 'modelSets.list' });
    expect(await client.waitFor((m) => m.type === 'modelSets')).toMatchObject({ current: 'default', sets: [{ id: 'default' }] });
    client.close();
  } finally {
    expect(await serve.stop()).toBe(0);
  }
});
