/**
 * The CLIP image encoder an adapter reads: a transformers folder (config.json + model.safetensors), or a single
 * `.safetensors` file as ComfyUI keeps them in models/clip_vision (the same tensors, no config). A single file gets
 * the built-in config whose sizes its tensor shapes give: OpenCLIP ViT-H/14 (h94 `models/image_encoder`, for the
 * `*_vit-h` adapters) or ViT-bigG/14 (h94 `sdxl_models/image_encoder`). Attention heads are the one size the shapes do
 * not show; both encoders have 16 (open_clip's ViT-H-14 / ViT-bigG-14 configs: head width 80 / 104).
 *
 *   openImageEncoder(location): DiffusersComponent   what model-set.ts builds the image encoder from
 *   imageEncoderConfigFor(file): string              the built-in config.json a single file matches (or a coded error)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DiffusersComponent, openComponentFolder } from './diffusers';
import { ModelSourceError } from './errors';
import { readJsonObjectFile } from './files';
import { readSafetensors } from './safetensors';
import { builtinConfigsRoot } from './single-file';
import { WeightStore } from './weight-store';

const BUILTIN_IMAGE_ENCODERS = ['clip-vision-vit-h', 'clip-vision-vit-bigg'] as const;

/** The sizes a CLIP vision file's shapes give, under transformers' config names. */
interface VisionSizes {
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly projection_dim: number;
  readonly patch_size: number;
  readonly image_size: number;
}

function sizesOf(file: string): VisionSizes {
  const tensors = readSafetensors(file).tensors;
  const dim = (key: string, axis: number): number => {
    const d = tensors.get(key)?.shape[axis];
    if (d === undefined) {
      throw new ModelSourceError('MODEL_FILE_UNUSABLE', `${file}: not a CLIP vision model with projection in the transformers layout (no ${key})`);
    }
    return d;
  };
  const layers = new Set([...tensors.keys()].flatMap((k) => /^vision_model\.encoder\.layers\.(\d+)\./.exec(k)?.[1] ?? []));
  const patch = dim('vision_model.embeddings.patch_embedding.weight', 2);
  return {
    hidden_size: dim('vision_model.embeddings.class_embedding', 0),
    intermediate_size: dim('vision_model.encoder.layers.0.mlp.fc1.weight', 0),
    num_hidden_layers: layers.size,
    projection_dim: dim('visual_projection.weight', 0),
    patch_size: patch,
    image_size: Math.round(Math.sqrt(dim('vision_model.embeddings.position_embedding.weight', 0) - 1)) * patch,
  };
}

export function imageEncoderConfigFor(file: string): string {
  const sizes = sizesOf(file);
  const keys = Object.keys(sizes) as (keyof VisionSizes)[];
  for (const name of BUILTIN_IMAGE_ENCODERS) {
    const configFile = path.join(builtinConfigsRoot(), name, 'config.json');
    const config = readJsonObjectFile(configFile, 'config');
    if (keys.every((k) => config[k] === sizes[k])) return configFile;
  }
  throw new ModelSourceError('MODEL_FILE_UNUSABLE', `${file}: a CLIP vision model of ${keys.map((k) => `${k} ${sizes[k]}`).join(', ')} ` +
    'matches neither ViT-H/14 nor ViT-bigG/14; give its transformers folder (config.json + model.safetensors) instead');
}

export function openImageEncoder(location: string): DiffusersComponent {
  let isFile: boolean;
  try {
    isFile = fs.statSync(location).isFile();
  } catch {
    return openComponentFolder(location, 'image_encoder'); // its error names the missing folder
  }
  if (!isFile) return openComponentFolder(location, 'image_encoder');
  const file = path.resolve(location);
  const configFile = imageEncoderConfigFor(file);
  const config = openComponentFolder(path.dirname(configFile), 'image_encoder');
  return {
    ...config,
    weights: () => ({ file, source: file, sharded: false, variant: null, note: null, open: () => WeightStore.open(file) }),
  };
}
