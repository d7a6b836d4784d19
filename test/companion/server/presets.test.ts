/**
 * Presets through the real daemon (`stylestudio serve` on the tiny default set): save one with an uploaded reference,
 * list it, load it back (its reference arrives as FrameKind.reference frames, pixel for pixel), and generate with it:
 * the same prompt twice gives bit-identical images, equal to the explicit settings with the original upload. The CLI
 * sees what the panel saved (one config dir). Every bad request is refused with its code and leaks no upload.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeImageFrames, FrameKind, presetSpecFields, type PresetContent, type ServerMessage } from '../../../protocol';
import { decodeImage, type RgbaImage } from '../../../companion/image/rgba';
import { CLI } from '../../helpers/cli-process';
import { fixture } from '../../helpers/paths';
import { startTinyServe, type TinyServe } from '../../helpers/tiny-serve';
import { TestClient } from '../../helpers/ws-client';

jest.setTimeout(120_000);

let daemon: TinyServe;
let client: TestClient;
let style: RgbaImage;
let nextTransfer = 1;

beforeAll(async () => {
  daemon = await startTinyServe();
  client = await TestClient.paired(daemon.url, daemon.token);
  style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png')));
});
afterAll(async () => {
  client?.close();
  await daemon?.stop();
});

function upload(image: RgbaImage): number {
  const id = nextTransfer++;
  for (const frame of encodeImageFrames(FrameKind.upload, id, image.width, image.height, image.data)) client.sendBinary(frame);
  return id;
}

let nextRequest = 1;
/** Sends a request and waits for its answer (any message or error echoing its requestId). */
async function request(message: Record<string, unknown>): Promise<ServerMessage> {
  const requestId = `r${nextRequest++}`;
  client.send({ ...message, requestId });
  return client.waitFor((m) => 'requestId' in m && m.requestId === requestId);
}

const content = (transferId: number): PresetContent => ({
  references: [{ image: { transferId }, weight: 1 }],
  elements: { kind: 'drop', preset: 'colour' },
  settings: { crossModalAdain: true, strength: 0.7, guidance: 4, steps: 2, width: 64, height: 64, teacherSteps: 1, promptSuffix: ', ink' },
  seed: { kind: 'fixed', seed: 5 },
});

/** Runs one generate and returns its result image's bytes. */
async function generate(params: Record<string, unknown>): Promise<Uint8Array> {
  const accepted = await request({ type: 'generate', params });
  if (accepted.type !== 'accepted') throw new Error(`refused: ${JSON.stringify(accepted)}`);
  const result = await client.waitFor((m) => m.type === 'result' && m.jobId === accepted.jobId, 60_000);
  await client.waitFor((m) => m.type === 'done' && m.jobId === accepted.jobId, 60_000);
  return client.waitUntil(() => client.images.get((result as { transferId: number }).transferId)?.rgba);
}

test('save, list, load and apply: the same prompt twice is bit-identical and equals the explicit settings', async () => {
  client.send({ type: 'presets.list' });
  expect(await client.waitFor((m) => m.type === 'presets')).toEqual({ type: 'presets', presets: [] });

  const saved = await request({ type: 'preset.save', name: 'harbour series', preset: content(upload(style)) });
  expect(saved).toMatchObject({ type: 'presets', presets: [{ name: 'harbour series', preset: { madeWith: { modelSet: 'default' }, seed: { kind: 'fixed', seed: 5 } } }] });
  const folder = path.join(daemon.dir, 'config', 'presets', 'harbour series');
  expect(fs.readdirSync(folder).sort()).toEqual(['preset.json', 'reference-0.png']);

  const loaded = await request({ type: 'preset.load', name: 'harbour series' });
  if (loaded.type !== 'preset') throw new Error(JSON.stringify(loaded));
  const ref = loaded.references[0]!;
  const pixels = await client.waitUntil(() => client.images.get(ref.transferId)?.rgba);
  expect([ref.width, ref.height]).toEqual([style.width, style.height]);
  expect(Buffer.from(pixels).equals(Buffer.from(style.data))).toBe(true);

  const fromPreset = () => ({
    ...presetSpecFields(loaded.preset.settings, loaded.preset.seed, 'a harbour at dawn'),
    style: { transferId: upload({ width: ref.width, height: ref.height, data: pixels }) }, drop: 'colour',
  });
  const first = await generate(fromPreset());
  const second = await generate(fromPreset());
  const explicit = await generate({
    prompt: 'a harbour at dawn, ink', style: { transferId: upload(style) }, drop: 'colour', crossModalAdain: true, strength: 0.7,
    guidance: 4, steps: 2, width: 64, height: 64, teacherSteps: 1, seed: 5,
  });
  expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
  expect(Buffer.from(first).equals(Buffer.from(explicit))).toBe(true);

  // the CLI reads the same presets
  const shown = spawnSync(process.execPath, [CLI, 'presets', 'list'], { encoding: 'utf8', env: { ...process.env, STYLESTUDIO_CONFIG_DIR: path.join(daemon.dir, 'config') } });
  expect(shown.stdout).toMatch(/^harbour series {2}strength 0\.7, AdaIN on, drop colour, seed 5, 2 steps, guidance 4, 64×64, made with default$/m);
});

test('bad requests get their code, change nothing and leak no upload', async () => {
  await request({ type: 'preset.save', name: 'kept', preset: content(upload(style)) });
  const before = fs.readFileSync(path.join(daemon.dir, 'config', 'presets', 'kept', 'preset.json'), 'utf8');

  const exists = upload(style);
  expect(await request({ type: 'preset.save', name: 'kept', preset: { ...content(exists), seed: { kind: 'random' } } }))
    .toMatchObject({ type: 'error', code: 'PRESET_EXISTS', message: expect.stringMatching(/preset "kept" exists/) });
  // the refused save consumed its upload
  expect(await request({ type: 'generate', params: { prompt: 'p', style: { transferId: exists }, width: 64, height: 64, steps: 1 } }))
    .toMatchObject({ type: 'error', code: 'UNKNOWN_IMAGE' });
  expect(fs.readFileSync(path.join(daemon.dir, 'config', 'presets', 'kept', 'preset.json'), 'utf8')).toBe(before);

  const two = content(upload(style));
  const zeroRefs = { ...two, references: [{ ...two.references[0]!, weight: 0 }, { image: { transferId: upload(style) }, weight: 0 }] };
  expect(await request({ type: 'preset.save', name: 'two', preset: zeroRefs }))
    .toMatchObject({ type: 'error', code: 'BAD_PRESET', message: expect.stringMatching(/at least one reference image needs a weight above 0/) });
  expect(await request({ type: 'preset.save', name: 'ghost', preset: content(999) })).toMatchObject({ type: 'error', code: 'UNKNOWN_IMAGE' });
  // a malformed message is refused by the schema, naming the field (as a malformed generate is)
  expect(await request({ type: 'preset.save', name: '../escape', preset: content(1) }))
    .toMatchObject({ type: 'error', code: 'BAD_MESSAGE', message: expect.stringMatching(/name: preset name "\.\.\/escape" must be/) });
  expect(await request({ type: 'preset.save', name: 'odd', preset: { ...content(1), settings: { ...content(1).settings, width: 100 } } }))
    .toMatchObject({ type: 'error', code: 'BAD_MESSAGE', message: expect.stringMatching(/width 100 is not a multiple of 32/) });
  expect(await request({ type: 'preset.load', name: 'nope' })).toMatchObject({ type: 'error', code: 'UNKNOWN_PRESET' });
  expect(fs.readdirSync(path.join(daemon.dir, 'config', 'presets')).sort()).toEqual(['harbour series', 'kept']);

  // overwrite when asked; delete
  const replaced = await request({ type: 'preset.save', name: 'kept', overwrite: true, preset: { ...content(upload(style)), seed: { kind: 'random' } } });
  expect(replaced).toMatchObject({ type: 'presets' });
  expect(JSON.parse(fs.readFileSync(path.join(daemon.dir, 'config', 'presets', 'kept', 'preset.json'), 'utf8')).seed).toEqual({ kind: 'random' });
  const deleted = await request({ type: 'preset.delete', name: 'kept' });
  expect(deleted.type === 'presets' && deleted.presets.map((p) => p.name)).toEqual(['harbour series']);
  expect(client.invalid).toEqual([]);
  // at most maxPendingUploads (4) would be left if any upload had leaked: four more still fit
  for (let i = 0; i < 4; i++) upload(style);
  await client.roundTrip();
  expect(client.messages.filter((m) => m.type === 'error' && m.code === 'UPLOAD_LIMIT')).toEqual([]);
});

test('2.1 is a minor step: a 2.0 panel still pairs (it never sends the preset messages)', async () => {
  const old = await TestClient.connect(daemon.url);
  expect(await old.hello(daemon.token, '2.0')).toMatchObject({ type: 'welcome', protocolVersion: '2.1' });
  old.close();
});
