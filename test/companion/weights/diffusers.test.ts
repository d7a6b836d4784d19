import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { WeightFileError } from '../../../companion/weights/errors';
import {
  openComponentFolder, openDiffusersFolder, parseConfig, requireKey,
} from '../../../companion/weights/diffusers';
import { fixture } from '../../helpers/paths';
import { buildSafetensors, f32, tempDir } from './safetensors-writer';

const sdxl = fixture('sdxl-tiny');
let dir: string;
beforeAll(() => {
  dir = tempDir('diffusers');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder with the given files (string → JSON text, Buffer → bytes). */
function folder(name: string, files: Record<string, string | Buffer>): string {
  const root = path.join(dir, name);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  fs.mkdirSync(root, { recursive: true });
  return root;
}
const tiny = (v: number) => buildSafetensors({ w: { dtype: 'F32', shape: [1], data: f32(v) } });
const tinyF16 = buildSafetensors({ w: { dtype: 'F16', shape: [1], data: Buffer.from([0, 60]) } });
const UNET_INDEX = '{"_class_name": "X", "unet": ["diffusers", "UNet2DConditionModel"]}';

describe('the sdxl-tiny folder', () => {
  const model = openDiffusersFolder(sdxl);

  test('model_index.json lists the components with library and class', () => {
    expect(model.dir).toBe(sdxl);
    expect(model.modelIndex._class_name).toBe('StableDiffusionXLPipeline');
    expect(model.modelIndex.force_zeros_for_empty_prompt).toBe(true);
    expect(Object.fromEntries(model.components)).toEqual({
      scheduler: { library: 'diffusers', className: 'EulerDiscreteScheduler' },
      text_encoder: { library: 'transformers', className: 'CLIPTextModel' },
      text_encoder_2: { library: 'transformers', className: 'CLIPTextModelWithProjection' },
      tokenizer: { library: 'transformers', className: 'CLIPTokenizer' },
      tokenizer_2: { library: 'transformers', className: 'CLIPTokenizer' },
      unet: { library: 'diffusers', className: 'UNet2DConditionModel' },
      vae: { library: 'diffusers', className: 'AutoencoderKL' },
    });
  });

  test('a transformers component: config.json and model(.fp16).safetensors', () => {
    const te = model.component('text_encoder_2');
    expect(te.dir).toBe(path.join(sdxl, 'text_encoder_2'));
    expect(te.className).toBe('CLIPTextModelWithProjection');
    expect(te.configFile).toBe(path.join(sdxl, 'text_encoder_2', 'config.json'));
    expect(requireKey(te.config(), 'projection_dim', te.configFile)).toBe(48);

    const full = te.weights();
    expect(full).toMatchObject({ file: path.join(te.dir, 'model.safetensors'), sharded: false, variant: null, note: null });
    const store = full.open();
    expect(store.get('text_model.final_layer_norm.weight')).toMatchObject({ dtype: 'F32', shape: [64] });
    expect(store.tensor('text_projection.weight', [48, 64]).file).toBe(fs.realpathSync(path.join(te.dir, 'model.safetensors')));

    const half = te.weights({ variant: 'fp16' });
    expect(half).toMatchObject({ file: path.join(te.dir, 'model.fp16.safetensors'), variant: 'fp16', note: null });
    expect(half.open().get('text_model.final_layer_norm.weight')).toMatchObject({ dtype: 'F16', shape: [64] });
  });

  test('a diffusers component uses diffusion_pytorch_model.*', () => {
    const vae = model.component('vae');
    expect(vae.weights().file).toBe(path.join(sdxl, 'vae', 'diffusion_pytorch_model.safetensors'));
    expect(vae.weights({ variant: 'fp16' }).file).toBe(path.join(sdxl, 'vae', 'diffusion_pytorch_model.fp16.safetensors'));
    expect(requireKey(vae.config(), 'scaling_factor', vae.configFile)).toBe(0.13025);
  });

  test('the scheduler reads scheduler_config.json; a tokenizer file is found by name', () => {
    const sched = model.component('scheduler');
    expect(sched.configFile).toBe(path.join(sdxl, 'scheduler', 'scheduler_config.json'));
    expect(sched.config().timestep_spacing).toBe('leading');
    expect(model.component('tokenizer_2').file('merges.txt')).toBe(path.join(sdxl, 'tokenizer_2', 'merges.txt'));
  });

  test('a component the pipeline does not list', () => {
    expect(() => model.component('image_encoder')).toThrow(new WeightFileError(path.join(sdxl, 'model_index.json'),
      'the pipeline has no component "image_encoder" (it lists: scheduler, text_encoder, text_encoder_2, tokenizer, tokenizer_2, unet, vae)'));
  });

  test('a tokenizer file that is missing', () => {
    expect(() => model.component('tokenizer').file('tokenizer.json')).toThrow(
      `${path.join(sdxl, 'tokenizer', 'tokenizer.json')}: component "tokenizer" lacks required file tokenizer.json`);
  });
});

describe('a stand-alone component folder', () => {
  test('image_encoder with config.json + model.safetensors', () => {
    const enc = openComponentFolder(fixture('ip-adapter-tiny', 'sdxl_models', 'image_encoder'));
    expect(enc.name).toBe('image_encoder');
    expect(enc.library).toBeNull();
    expect(enc.className).toBe('CLIPVisionModelWithProjection');
    const w = enc.weights({ variant: 'fp16' });
    // h94 ships the image encoder as fp16 data in model.safetensors: no variant file, so the full name with a note.
    expect(w).toMatchObject({ file: path.join(enc.dir, 'model.safetensors'), variant: null });
    expect(w.note).toBe('image_encoder: no fp16 variant weights, using full precision model.safetensors');
    expect(w.open().tensor('visual_projection.weight', [32, 32]).dtype).toBe('F16');
  });
});

describe('weight file choice', () => {
  test('fp16 asked, only full precision present → full precision with a note', () => {
    const root = folder('only-full', { 'model_index.json': UNET_INDEX, 'unet/config.json': '{}', 'unet/diffusion_pytorch_model.safetensors': tiny(1) });
    const w = openDiffusersFolder(root).component('unet').weights({ variant: 'fp16' });
    expect(w).toMatchObject({ file: path.join(root, 'unet', 'diffusion_pytorch_model.safetensors'), variant: null });
    expect(w.note).toBe('unet: no fp16 variant weights, using full precision diffusion_pytorch_model.safetensors');
  });

  test('nothing asked, only fp16 present → fp16 with a note', () => {
    const root = folder('only-half', { 'model_index.json': UNET_INDEX, 'unet/config.json': '{}', 'unet/diffusion_pytorch_model.fp16.safetensors': tinyF16 });
    const w = openDiffusersFolder(root).component('unet').weights();
    expect(w).toMatchObject({ variant: 'fp16', note: 'unet: only diffusion_pytorch_model.fp16.safetensors exists, using the fp16 variant' });
    expect(w.open().tensor('w', [1]).dtype).toBe('F16');
  });

  test('sharded fp16 variant: diffusion_pytorch_model.safetensors.index.fp16.json', () => {
    const root = folder('sharded', {
      'model_index.json': UNET_INDEX,
      'unet/config.json': '{}',
      'unet/diffusion_pytorch_model.safetensors': tiny(1),
      'unet/diffusion_pytorch_model.safetensors.index.fp16.json':
        '{"metadata": {}, "weight_map": {"w": "diffusion_pytorch_model-00001-of-00001.fp16.safetensors"}}',
      'unet/diffusion_pytorch_model-00001-of-00001.fp16.safetensors': tinyF16,
    });
    const unet = openDiffusersFolder(root).component('unet');
    const half = unet.weights({ variant: 'fp16' });
    expect(half).toMatchObject({ sharded: true, variant: 'fp16', note: null,
      file: path.join(root, 'unet', 'diffusion_pytorch_model.safetensors.index.fp16.json') });
    expect(half.open().tensor('w', [1]).file).toBe(
      fs.realpathSync(path.join(root, 'unet', 'diffusion_pytorch_model-00001-of-00001.fp16.safetensors')));
    expect(unet.weights().file).toBe(path.join(root, 'unet', 'diffusion_pytorch_model.safetensors'));
  });

  test('a transformers component with only pytorch_model.bin reads it without executing the pickle', () => {
    const root = folder('bin-only', { 'enc/config.json': '{"architectures": ["CLIPVisionModelWithProjection"]}',
      'enc/pytorch_model.bin': fs.readFileSync(fixture('weights', 'state-dict.bin')) });
    const w = openComponentFolder(path.join(root, 'enc')).weights();
    expect(w).toMatchObject({ file: path.join(root, 'enc', 'pytorch_model.bin'), variant: null, note: null });
    expect(w.open().tensor('0.weight', [2, 3]).dtype).toBe('F32');
  });

  test('a single file wins over a shard index', () => {
    const root = folder('both', {
      'te/config.json': '{"architectures": ["CLIPTextModel"]}',
      'te/model.safetensors.index.json': '{"weight_map": {"w": "model-1.safetensors"}}',
      'te/model-1.safetensors': tiny(2),
      'te/model.safetensors': tiny(3),
    });
    expect(openComponentFolder(path.join(root, 'te')).weights().file).toBe(path.join(root, 'te', 'model.safetensors'));
  });
});

describe('broken folders', () => {
  test('missing weights lists every file looked for', () => {
    const root = folder('no-weights', { 'model_index.json': UNET_INDEX, 'unet/config.json': '{}' });
    expect(() => openDiffusersFolder(root).component('unet').weights({ variant: 'fp16' })).toThrow(
      `${path.join(root, 'unet')}: component "unet" has no weights (looked for diffusion_pytorch_model.fp16.safetensors, ` +
      'diffusion_pytorch_model.safetensors.index.fp16.json, diffusion_pytorch_model.fp16.bin, ' +
      'diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json, diffusion_pytorch_model.bin)');
  });

  test('a stand-alone folder of unknown library looks for both naming schemes', () => {
    const root = folder('unknown-empty', { 'config.json': '{}' });
    expect(() => openComponentFolder(root).weights()).toThrow(
      'has no weights (looked for diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json, ' +
      'diffusion_pytorch_model.bin, model.safetensors, model.safetensors.index.json, pytorch_model.bin)');
  });

  test('missing config', () => {
    const root = folder('no-config', { 'model_index.json': UNET_INDEX, 'unet/diffusion_pytorch_model.safetensors': tiny(1) });
    expect(() => openDiffusersFolder(root).component('unet').config()).toThrow(
      `${path.join(root, 'unet')}: component "unet" has no config (looked for config.json, scheduler_config.json)`);
  });

  test('config that is not JSON names the config file', () => {
    const root = folder('bad-config', { 'config.json': '{"hidden_size": 32,,}' });
    expect(() => openComponentFolder(root).config()).toThrow(
      `${path.join(root, 'config.json')}: config is not valid JSON: expected '"' but found "," at character 19`);
  });

  test('config that is not an object', () => {
    const root = folder('array-config', { 'config.json': '[1]' });
    expect(() => openComponentFolder(root).config()).toThrow(`${path.join(root, 'config.json')}: config must be a JSON object, found an array`);
  });

  test('a config with Python NaN/Infinity is read', () => {
    const root = folder('nan-config', { 'config.json': '{"a": NaN, "b": -Infinity}' });
    expect(openComponentFolder(root).config()).toEqual({ a: NaN, b: -Infinity });
  });

  test('missing required config key', () => {
    const file = path.join(sdxl, 'vae', 'config.json');
    const cfg = openDiffusersFolder(sdxl).component('vae').config();
    expect(() => requireKey(cfg, 'shift_factor_x', file)).toThrow(`${file}: missing required key "shift_factor_x"`);
    // A key present as null is present: the caller decides what null means.
    expect(requireKey({ a: null }, 'a', file)).toBeNull();
  });

  test('a config failing a zod schema names the file and each bad key', () => {
    const schema = z.object({ hidden_size: z.number().int().positive(), hidden_act: z.enum(['gelu', 'quick_gelu']) }).passthrough();
    const file = path.join(sdxl, 'text_encoder', 'config.json');
    const cfg = openDiffusersFolder(sdxl).component('text_encoder').config();
    expect(parseConfig(schema, cfg, file).hidden_size).toBe(32);
    expect(() => parseConfig(schema, { hidden_size: -1 }, file)).toThrow(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid config: "hidden_size": .+; "hidden_act": .+$`));
  });

  test('component listed in model_index.json but its folder is missing', () => {
    const root = folder('no-unet-dir', { 'model_index.json': UNET_INDEX });
    expect(() => openDiffusersFolder(root).component('unet')).toThrow(
      `${path.join(root, 'unet')}: component folder is missing (model_index.json lists "unet" as diffusers UNet2DConditionModel)`);
  });

  test('not a diffusers folder', () => {
    const root = folder('no-index', { 'unet/config.json': '{}' });
    expect(() => openDiffusersFolder(root)).toThrow(`${root}: not a diffusers model folder: model_index.json is missing`);
  });

  test('model folder that does not exist / is a file', () => {
    const gone = path.join(dir, 'gone');
    expect(() => openDiffusersFolder(gone)).toThrow(`${gone}: model folder not found`);
    const file = path.join(folder('a-file', { x: '1' }), 'x');
    expect(() => openDiffusersFolder(file)).toThrow(`${file}: model folder must be a directory, found a file`);
  });

  test('model_index.json with a malformed entry', () => {
    const root = folder('bad-index', { 'model_index.json': '{"unet": ["diffusers"]}' });
    expect(() => openDiffusersFolder(root)).toThrow(
      `${path.join(root, 'model_index.json')}: entry "unet" must be [library, class], found ["diffusers"]`);
  });

  test('model_index.json optional components [null, null] are left out', () => {
    const root = folder('null-entry', { 'model_index.json': '{"unet": ["diffusers", "U"], "image_encoder": [null, null]}' });
    const model = openDiffusersFolder(root);
    expect([...model.components.keys()]).toEqual(['unet']);
    expect(() => model.component('image_encoder')).toThrow('the pipeline has no component "image_encoder" (it lists: unet)');
  });
});
