/**
 * Single-file SDXL checkpoints: tiny ones made from the tiny diffusers set by the independent inverse mapping of
 * ldm-checkpoint-writer.ts, read back in place. Every key maps, every shape and byte range matches the diffusers
 * file, and a generation with the checkpoint is bit-identical to one with the folder. The published SDXL key set
 * (realshape manifests) round-trips through the built-in sdxl-base configs; bad files fail with coded errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decodeImage, type RgbaImage } from '../../../companion/image/rgba';
import { DEFAULTS } from '../../../companion/pipeline/request';
import { type PipelineRequest, StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import { ModelSet, type ModelPaths } from '../../../companion/runtime/model-set';
import { resolveVae } from '../../../companion/runtime/model-paths';
import { ModelSourceError } from '../../../companion/weights/errors';
import { ldmRules, PART_PREFIX, type CheckpointPart } from '../../../companion/weights/ldm-layout';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { builtinConfigDir, openCheckpointPart, openSingleFileModel } from '../../../companion/weights/single-file';
import type { TensorRef } from '../../../companion/weights/tensor';
import { fixture, repoRoot } from '../../helpers/paths';
import { openClipKey, unetOriginalKey, vaeOriginalKey, writeOriginalCheckpoint } from './ldm-checkpoint-writer';
import { buildSafetensors, bytesAt, f32, tempDir } from './safetensors-writer';
import { codeOf } from '../../helpers/error-code';

const TINY = fixture('sdxl-tiny');
const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const PARTS: readonly CheckpointPart[] = ['unet', 'vae', 'text_encoder', 'text_encoder_2'];
const FILE_OF: Record<CheckpointPart, string> = {
  unet: 'unet/diffusion_pytorch_model.safetensors', vae: 'vae/diffusion_pytorch_model.safetensors',
  text_encoder: 'text_encoder/model.safetensors', text_encoder_2: 'text_encoder_2/model.safetensors',
};

let dir: string;
let ckpt: string;
let style: RgbaImage;
beforeAll(async () => {
  dir = tempDir('single-file');
  ckpt = writeOriginalCheckpoint(TINY, path.join(dir, 'tiny-sdxl.safetensors'));
  style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png')));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const config = (part: CheckpointPart) => JSON.parse(fs.readFileSync(path.join(TINY, part, 'config.json'), 'utf8')) as Record<string, never>;
const configFile = (part: CheckpointPart) => path.join(TINY, part, 'config.json');


/** The element bytes of `ref` as the key names them (undoing a stored transpose). */
function logicalBytes(ref: TensorRef): Buffer {
  const raw = bytesAt(ref);
  if (ref.storedTransposed !== true) return raw;
  const [rows, cols] = ref.shape as [number, number]; // logical; stored is [cols, rows]
  const size = raw.length / (rows * cols);
  const out = Buffer.alloc(raw.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) raw.copy(out, (r * cols + c) * size, (c * rows + r) * size, (c * rows + r + 1) * size);
  return out;
}

describe('a tiny single-file checkpoint read in place', () => {
  test.each(PARTS)('%s: every tensor maps to the diffusers key, shape and bytes of the folder', (part) => {
    const store = openCheckpointPart(ckpt, part, config(part), configFile(part));
    const folder = readSafetensors(path.join(TINY, FILE_OF[part])).tensors;
    // the tiny text_encoder was saved by transformers 5 without the `text_model.` prefix the checkpoint keeps
    const folderKey = (k: string) => (part === 'text_encoder' && !folder.has(k) ? k.replace(/^text_model\./, '') : k);
    const ignored = part === 'text_encoder' ? ['text_model.embeddings.position_ids'] : [];
    expect(store.keys().filter((k) => !ignored.includes(k)).map(folderKey).sort()).toEqual([...folder.keys()].sort());
    for (const key of store.keys()) {
      if (ignored.includes(key)) continue;
      const mine = store.get(key)!;
      const theirs = folder.get(folderKey(key))!;
      expect([key, mine.shape]).toEqual([key, theirs.shape]);
      expect(mine.file).toBe(fs.realpathSync(ckpt)); // a reference into the checkpoint, not a copy
      expect(logicalBytes(mine).equals(bytesAt(theirs))).toBe(true);
    }
  });

  test('the test writer and tools/golden/single_file.py (a third statement of the layout) give the same names and shapes', () => {
    const python = JSON.parse(fs.readFileSync(fixture('sdxl-tiny-single-file', 'keys.json'), 'utf8')) as [string, number[]][];
    const written = [...readSafetensors(ckpt).tensors.values()].map((t) => [t.key, [...t.shape]] as [string, number[]]);
    expect(written.sort((a, b) => (a[0] < b[0] ? -1 : 1))).toEqual(python);
    for (const [key] of python) {
      const part = PARTS.find((p) => key.startsWith(PART_PREFIX[p]))!;
      expect([key, ldmRules(part, config(part), configFile(part)).map(key.slice(PART_PREFIX[part].length))]).not.toEqual([key, null]);
    }
  });

  test('packed q/k/v are three byte ranges of in_proj_weight; the projection is referenced transposed, not rewritten', () => {
    const store = openCheckpointPart(ckpt, 'text_encoder_2', config('text_encoder_2'), configFile('text_encoder_2'));
    const header = readSafetensors(ckpt).tensors;
    const packed = header.get('conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight')!;
    const [q, k, v] = ['q', 'k', 'v'].map((p) => store.get(`text_model.encoder.layers.1.self_attn.${p}_proj.weight`)!);
    expect([q!.offset, k!.offset, v!.offset]).toEqual([0, 1, 2].map((i) => packed.offset + (i * packed.length) / 3));
    const projection = store.get('text_projection.weight')!;
    expect(projection.storedTransposed).toBe(true);
    expect(projection.offset).toBe(header.get('conditioner.embedders.1.model.text_projection')!.offset);
    expect(projection.shape).toEqual([48, 64]); // [projection_dim, hidden_size], as transformers stores it
  });

  test('generation with the checkpoint is bit-identical to the diffusers folder (plain SDXL, and StyleStudio with an IP-Adapter)', async () => {
    const request = (extra: Partial<PipelineRequest> = {}): PipelineRequest => ({
      prompt: 'A red apple', negativePrompt: 'blurry', guidance: 5, seed: 3, variations: 1, width: 64, height: 64, steps: 3,
      crossModalAdain: false, adainStrength: DEFAULTS.adainStrength, scale: 1, styleLayers: { kind: 'adapter-default' },
      styleResize: 'none', teacherSteps: 0, ...extra,
    });
    const adapterFiles = { adapter: SD('ip-adapter_sdxl.safetensors'), imageEncoder: SD('image_encoder') };
    const run = async (paths: ModelPaths, r: PipelineRequest) => {
      const set = await ModelSet.open(paths, { intraOpThreads: 1 });
      try {
        const out = await new StyleStudioPipeline(set).generate(r);
        return out.variations[0]!;
      } finally {
        await set.close();
      }
    };
    const styled = request({ style, crossModalAdain: true, teacherSteps: 1 }); // StyleStudio: AdaIN and the teacher on
    for (const [what, r, extra] of [['plain', request(), {}], ['styled', styled, adapterFiles]] as const) {
      const fromFolder = await run({ model: TINY, ...extra }, r);
      const fromFile = await run({ model: ckpt, modelConfig: { configDir: TINY }, ...extra }, r);
      const same = Buffer.from(fromFile.latents.data.buffer).equals(Buffer.from(fromFolder.latents.data.buffer));
      console.log(`${what}: latents ${fromFile.latents.data.length} floats, bit-identical ${same}`);
      expect(same).toBe(true);
      expect(Buffer.from(fromFile.image!.data).equals(Buffer.from(fromFolder.image!.data))).toBe(true);
    }
  }, 240_000);

  test('an fp16 checkpoint maps too (the graph casts as for fp16 folder files)', () => {
    const half = writeOriginalCheckpoint(TINY, path.join(dir, 'tiny-fp16.safetensors'), { fp16: true });
    for (const part of PARTS) {
      const store = openCheckpointPart(half, part, config(part), configFile(part));
      expect(store.keys().every((k) => ['F16', 'I64'].includes(store.get(k)!.dtype))).toBe(true);
    }
  });
});

describe('the published SDXL key set round-trips through the built-in sdxl-base configs', () => {
  const manifest = (file: string): [string, number[]][] => {
    const gz = path.join(repoRoot, 'tools', 'realshape', 'manifests', 'stabilityai--stable-diffusion-xl-base-1.0', `${file}.json.gz`);
    return (JSON.parse(zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8')) as { tensors: [string, number[]][] }).tensors;
  };
  const builtin = builtinConfigDir('sdxl-base');
  const rulesOf = (part: CheckpointPart) => {
    const file = path.join(builtin, part, 'config.json');
    return ldmRules(part, JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, never>, file);
  };

  test('UNet: 1680 tensors, each original name maps back to its diffusers name', () => {
    const rules = rulesOf('unet');
    const keys = manifest('unet/diffusion_pytorch_model.fp16.safetensors').map(([k]) => k);
    expect(keys).toHaveLength(1680);
    const shape = { layersPerBlock: 2, attentionUp: [true, true, false] };
    for (const key of keys) expect([key, rules.map(unetOriginalKey(key, shape))]).toEqual([key, [{ key, transform: { kind: 'as-stored' } }]]);
    // names as the published sd_xl_base_1.0.safetensors spells them
    const published: [string, string][] = [
      ['input_blocks.3.0.op.weight', 'down_blocks.0.downsamplers.0.conv.weight'],
      ['input_blocks.7.1.transformer_blocks.9.attn2.to_k.weight', 'down_blocks.2.attentions.0.transformer_blocks.9.attn2.to_k.weight'],
      ['output_blocks.2.2.conv.weight', 'up_blocks.0.upsamplers.0.conv.weight'],
      ['output_blocks.5.2.conv.bias', 'up_blocks.1.upsamplers.0.conv.bias'],
      ['output_blocks.8.0.skip_connection.weight', 'up_blocks.2.resnets.2.conv_shortcut.weight'],
      ['middle_block.2.emb_layers.1.weight', 'mid_block.resnets.1.time_emb_proj.weight'],
      ['label_emb.0.2.bias', 'add_embedding.linear_2.bias'],
      ['out.2.weight', 'conv_out.weight'],
    ];
    for (const [original, diffusers] of published) expect(rules.map(original)?.[0]?.key).toBe(diffusers);
    expect(rules.map('input_blocks.9.0.in_layers.0.weight')).toBeNull(); // SDXL base has 8 input blocks after conv_in
  });

  test('VAE (fp16-fix layout = base layout) and both text encoders', () => {
    const gz = path.join(repoRoot, 'tools', 'realshape', 'manifests', 'madebyollin--sdxl-vae-fp16-fix', 'diffusion_pytorch_model.safetensors.json.gz');
    const vaeKeys = (JSON.parse(zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8')) as { tensors: [string][] }).tensors.map(([k]) => k);
    const vae = rulesOf('vae');
    for (const key of vaeKeys) expect([key, vae.map(vaeOriginalKey(key, 4).key)?.[0]?.key]).toEqual([key, key]);
    expect(vae.map('decoder.up.0.block.2.nin_shortcut.weight')?.[0]?.key).toBe('decoder.up_blocks.3.resnets.2.conv_shortcut.weight');

    const te1 = rulesOf('text_encoder');
    for (const [key] of manifest('text_encoder/model.fp16.safetensors')) expect(te1.map(key)?.[0]?.key).toBe(key);

    const te2 = rulesOf('text_encoder_2');
    const te2Keys = manifest('text_encoder_2/model.fp16.safetensors').map(([k]) => k);
    const reached = new Set<string>();
    for (const key of te2Keys) {
      const original = key === 'text_projection.weight' ? 'text_projection'
        : key.replace(/\.self_attn\.(q|k|v)_proj\.(weight|bias)$/, '.self_attn.packed.$2');
      const name = original.includes('.self_attn.packed.')
        ? original.replace(/^text_model\.encoder\.layers\.(\d+)\.self_attn\.packed\.(weight|bias)$/, 'transformer.resblocks.$1.attn.in_proj_$2')
        : original === 'text_projection' ? original : openClipKey(key);
      for (const m of te2.map(name) ?? []) reached.add(m.key);
    }
    expect([...reached].sort()).toEqual([...te2Keys].sort());
    expect(te2.map('transformer.resblocks.32.ln_1.weight')).toBeNull(); // bigG has 32 layers
    expect(te2.map('logit_scale')).toEqual([]);
  });
});

describe('bad checkpoints fail with a code, naming the file and the fix', () => {
  const write = (name: string, tensors: Parameters<typeof buildSafetensors>[0]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, buildSafetensors(tensors));
    return file;
  };
  const one = { dtype: 'F32', shape: [1], data: f32(1) };

  test.each([
    ['an SD 1.5 checkpoint', { 'cond_stage_model.transformer.text_model.final_layer_norm.weight': one, 'model.diffusion_model.out.2.bias': one }, 'CHECKPOINT_NOT_SDXL'],
    ['a LoRA', { 'lora_unet_down_blocks_0.alpha': one }, 'CHECKPOINT_NOT_SDXL'],
    ['a diffusers UNet file', { 'conv_in.weight': one }, 'CHECKPOINT_NOT_SDXL'],
    ['the refiner', { 'conditioner.embedders.0.model.ln_final.weight': one, 'model.diffusion_model.out.2.bias': one }, 'CHECKPOINT_NOT_SDXL'],
    ['a UNet without text encoders', { 'model.diffusion_model.out.2.bias': one }, 'CHECKPOINT_NOT_SDXL'],
  ])('%s', (name, tensors, code) => {
    expect(codeOf(() => openSingleFileModel(write(`${name}.safetensors`, tensors), { configDir: TINY }))).toBe(code);
  });

  test('a .ckpt pickle is refused before it is opened', () => {
    const file = path.join(dir, 'old.ckpt');
    fs.writeFileSync(file, 'not read');
    expect(codeOf(() => openSingleFileModel(file, { configDir: TINY }))).toBe('CHECKPOINT_NOT_SDXL');
  });

  test('tensors outside every network, or outside the structure the config gives, are listed', () => {
    const stray = writeOriginalCheckpoint(TINY, path.join(dir, 'stray.safetensors'), { extra: { 'embedding_manager.embedder.weight': one } });
    expect(codeOf(() => openSingleFileModel(stray, { configDir: TINY }))).toBe('CHECKPOINT_UNMAPPED_KEYS');
    // training leftovers no sampler reads are ignored on purpose
    const leftovers = writeOriginalCheckpoint(TINY, path.join(dir, 'leftovers.safetensors'), {
      extra: { 'denoiser.sigmas': { dtype: 'F32', shape: [2], data: f32(0.03, 14.6) }, 'model_ema.decay': one, 'model_ema.diffusion_modelout2bias': one },
    });
    expect(openSingleFileModel(leftovers, { configDir: TINY }).component('unet').weights().open().keys()).not.toContain('model_ema.decay');
    const deeper = writeOriginalCheckpoint(TINY, path.join(dir, 'deeper.safetensors'), { extra: { 'model.diffusion_model.input_blocks.9.0.in_layers.0.weight': one } });
    const e = (() => {
      try {
        openCheckpointPart(deeper, 'unet', config('unet'), configFile('unet'));
      } catch (err) {
        return err as ModelSourceError;
      }
      throw new Error('no error');
    })();
    expect(e.code).toBe('CHECKPOINT_UNMAPPED_KEYS');
    expect(e.message).toContain('input_blocks.9.0.in_layers.0.weight');
    expect(e.message).toContain(configFile('unet'));
    // the real SDXL configs on the tiny checkpoint: the structure fits but every shape differs
    const real = builtinConfigDir('sdxl-base');
    expect(() => openSingleFileModel(ckpt, { configDir: real }).component('unet').weights().open().tensor('conv_in.weight', [320, 4, 3, 3]))
      .toThrow(/conv_in\.weight.*has shape \[32, 4, 3, 3\], expected \[320, 4, 3, 3\]/);
  });

  test('a packed q/k/v that does not split in three is a coded error', () => {
    const bad = writeOriginalCheckpoint(TINY, path.join(dir, 'packed.safetensors'), {
      extra: { [`${PART_PREFIX.text_encoder_2}transformer.resblocks.0.attn.in_proj_bias`]: { dtype: 'F32', shape: [4], data: f32(1, 2, 3, 4) } },
    });
    expect(codeOf(() => openCheckpointPart(bad, 'text_encoder_2', config('text_encoder_2'), configFile('text_encoder_2')))).toBe('CHECKPOINT_BAD_TENSOR');
  });

  test('a checkpoint without a VAE: the VAE component says so; the rest opens', () => {
    const noVae = writeOriginalCheckpoint(TINY, path.join(dir, 'no-vae.safetensors'), { parts: ['unet', 'text_encoder', 'text_encoder_2'] });
    const model = openSingleFileModel(noVae, { configDir: TINY });
    expect(codeOf(() => model.component('vae').weights())).toBe('CHECKPOINT_PART_MISSING');
    expect(model.component('unet').weights().open().keys().length).toBeGreaterThan(100);
    const paths = { model: noVae, modelConfig: { configDir: TINY } };
    expect(() => resolveVae(paths, path.join(dir, 'empty-hub'))).toThrow(/the checkpoint .*no-vae\.safetensors has no VAE .*: give --vae DIR/);
    expect(resolveVae({ ...paths, vae: path.join(TINY, 'vae') }, undefined).paths.vae).toBe(path.join(TINY, 'vae'));
    expect(resolveVae({ model: ckpt, modelConfig: { configDir: TINY } }, undefined).paths.vae).toBeUndefined(); // its own
  });

  test('configs without tokenizers: the error says how to get them', () => {
    const model = openSingleFileModel(ckpt, { configDir: builtinConfigDir('sdxl-base') });
    expect(codeOf(() => model.component('tokenizer'))).toBe('TOKENIZERS_MISSING');
    expect(() => model.component('tokenizer_2')).toThrow(/models pull sdxl-tokenizers/);
    const withTokenizers = openSingleFileModel(ckpt, { configDir: builtinConfigDir('sdxl-base'), tokenizerDir: TINY });
    expect(withTokenizers.component('tokenizer_2').dir).toBe(path.join(TINY, 'tokenizer_2'));
  });
});

test('the built-in sdxl-base and ViT-bigG configs are the published ones tools/realshape records (a copy shipped with the companion: no drift)', () => {
  const builtin = path.join(repoRoot, 'companion', 'weights', 'configs', 'sdxl-base');
  const published = path.join(repoRoot, 'tools', 'realshape', 'configs', 'stabilityai--stable-diffusion-xl-base-1.0');
  const files = ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/config.json', 'text_encoder_2/config.json', 'unet/config.json', 'vae/config.json'];
  for (const f of files) expect([f, fs.readFileSync(path.join(builtin, f), 'utf8')]).toEqual([f, fs.readFileSync(path.join(published, f), 'utf8')]);
  const bigG = 'h94--IP-Adapter/sdxl_models/image_encoder/config.json';
  expect(fs.readFileSync(path.join(repoRoot, 'companion', 'weights', 'configs', 'clip-vision-vit-bigg', 'config.json'), 'utf8'))
    .toBe(fs.readFileSync(path.join(repoRoot, 'tools', 'realshape', 'configs', bigG), 'utf8'));
});
