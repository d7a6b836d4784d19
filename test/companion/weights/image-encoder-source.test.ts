/**
 * ComfyUI clip_vision single files: the built-in config is chosen from the tensor shapes (checked on a header-only,
 * sparse file with the published ViT-bigG/14 layout), sizes without a built-in config are a coded error, and a
 * transformers folder is read as before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelSourceError } from '../../../companion/weights/errors';
import { imageEncoderConfigFor, openImageEncoder } from '../../../companion/weights/image-encoder-source';
import { fixture, repoRoot } from '../../helpers/paths';
import { sparseFromManifest, tempDir } from './safetensors-writer';

let dir: string;
beforeAll(() => {
  dir = tempDir('image-encoder');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a ViT-bigG/14 file (the published h94 sdxl_models/image_encoder layout) gets the built-in bigG config, weights read in place', () => {
  const file = path.join(dir, 'CLIP-ViT-bigG-14-laion2B-39B-b160k.safetensors');
  const count = sparseFromManifest(path.join(repoRoot, 'tools', 'realshape', 'manifests', 'h94--IP-Adapter', 'sdxl_models', 'image_encoder', 'model.safetensors.json.gz'), file);
  const encoder = openImageEncoder(file);
  expect(path.basename(path.dirname(encoder.configFile))).toBe('clip-vision-vit-bigg');
  expect(encoder.config()).toMatchObject({ hidden_size: 1664, num_hidden_layers: 48, projection_dim: 1280, num_attention_heads: 16 });
  expect(encoder.weights().source).toBe(file);
  expect(encoder.weights().open().keys()).toHaveLength(count);
});

test('a CLIP vision file of another size, or not CLIP vision at all, is MODEL_FILE_UNUSABLE naming what it found', () => {
  const tiny = fixture('ip-adapter-tiny', 'sdxl_models', 'image_encoder', 'model.safetensors');
  const err = (() => {
    try {
      imageEncoderConfigFor(tiny);
    } catch (e) {
      return e as ModelSourceError;
    }
    throw new Error('no error');
  })();
  expect(err.code).toBe('MODEL_FILE_UNUSABLE');
  expect(err.message).toMatch(/hidden_size \d+, intermediate_size \d+, num_hidden_layers \d+/);
  expect(err.message).toMatch(/transformers folder/);
  expect(() => openImageEncoder(fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'))).toThrow(/not a CLIP vision model with projection/);
});

test('a transformers folder is read as a folder', () => {
  const folder = fixture('ip-adapter-tiny', 'sdxl_models', 'image_encoder');
  expect(openImageEncoder(folder).weights().source).toBe(path.join(folder, 'model.safetensors'));
});
