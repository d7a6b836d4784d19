/**
 * Single-file SDXL checkpoints (`*.safetensors` with `model.diffusion_model.*`, `conditioner.embedders.*`,
 * `first_stage_model.*` keys) read in place: each network is a WeightStore of TensorRefs into the one file, renamed
 * to diffusers keys by ldm-layout.ts; packed q/k/v become byte ranges and open_clip's text projection a transposed
 * reference, so nothing is converted or copied.
 *
 *   readSingleFileCheckpoint(file)                 the header, checked: an SDXL base checkpoint, every key in a part
 *   openCheckpointPart(file, part, config, cfgFile) one network's WeightStore under diffusers names
 *   openSingleFileModel(file, { configDir, tokenizerDir? })  the checkpoint as a DiffusersFolder: configs (and
 *                                                  scheduler) from a diffusers folder, tokenizers from it or from
 *                                                  `tokenizerDir`, weights from the checkpoint
 *   WeightSource / openWeightSource(source)        a weight file, or one part of a checkpoint: plain data that
 *                                                  worker threads reopen
 *   BUILTIN_CONFIGS / builtinConfigDir(name)       config sets shipped with the companion ('sdxl-base'), under
 *   builtinConfigsRoot()                           companion/weights/configs (also the CLIP vision configs)
 *
 * Checkpoints carry no configs and no tokenizers: the configs give the structure the key mapping follows, the
 * tokenizers (vocab.json + merges.txt, 3 MB) come from any SDXL diffusers folder or `models pull sdxl-tokenizers`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DiffusersComponent, type DiffusersFolder, openComponentFolder, openDiffusersFolder, type WeightChoice } from './diffusers';
import { ModelSourceError } from './errors';
import { readJsonObjectFile } from './files';
import { CHECKPOINT_PARTS, type CheckpointPart, ldmRules, type MappedTensor, PART_PREFIX } from './ldm-layout';
import { readSafetensors, type SafetensorsFile } from './safetensors';
import type { JsonObject } from './strict-json';
import type { TensorRef } from './tensor';
import { WeightStore } from './weight-store';

/** One network of a single-file checkpoint, as plain data (graph specs carry it to worker threads). */
export interface CheckpointPartSource {
  readonly checkpoint: string;
  readonly part: CheckpointPart;
  /** The part's diffusers config.json: its structure decides the key mapping. */
  readonly configFile: string;
}

/** Where a network's weights are: a weight file (diffusers component, adapter) or a part of a checkpoint. */
export type WeightSource = string | CheckpointPartSource;

export function openWeightSource(source: WeightSource): WeightStore {
  if (typeof source === 'string') return WeightStore.open(source);
  return openCheckpointPart(source.checkpoint, source.part, readJsonObjectFile(source.configFile, 'config'), source.configFile);
}

/** The file a source reads (for messages and existence checks). */
export function weightSourceFile(source: WeightSource): string {
  return typeof source === 'string' ? source : source.checkpoint;
}

export interface SingleFileCheckpoint {
  readonly file: string;
  readonly header: SafetensorsFile;
  /** The networks the file holds (an SDXL checkpoint may lack its VAE). */
  readonly parts: ReadonlySet<CheckpointPart>;
}

/**
 * Tensors outside the four networks that training code leaves in checkpoints and no sampler reads: sgm's
 * DiscreteDenoiser keeps its training noise levels as `denoiser.sigmas` (sampling takes them from the scheduler
 * config), and LitEma's exponential-moving-average copy lives under `model_ema.` (A1111 and ComfyUI sample with the
 * `model.diffusion_model.` weights too).
 */
const OUTSIDE_IGNORED: readonly RegExp[] = [/^denoiser\.sigmas$/, /^model_ema\./];

const SHOWN = 12;

function listed(keys: readonly string[]): string {
  return `${keys.slice(0, SHOWN).join(', ')}${keys.length > SHOWN ? `, … (${keys.length} in all)` : ''}`;
}

/**
 * Reads and checks a checkpoint's header: a safetensors file (other formats are refused, a pickle is never run)
 * holding an SDXL base UNet, both text encoders and nothing outside the four known prefixes.
 */
export function readSingleFileCheckpoint(file: string): SingleFileCheckpoint {
  if (!/\.(safetensors|sft)$/i.test(file)) {
    throw new ModelSourceError('CHECKPOINT_NOT_SDXL', `${file}: single-file checkpoints are read as .safetensors only ` +
      '(a .ckpt/.pt pickle can run code when loaded; convert it once with a trusted tool, or use the .safetensors release)');
  }
  const header = readSafetensors(file);
  const keys = [...header.tensors.keys()];
  const has = (prefix: string) => keys.some((k) => k.startsWith(prefix));
  const notSdxl = (why: string): never => {
    throw new ModelSourceError('CHECKPOINT_NOT_SDXL', `${file}: not a single-file SDXL base checkpoint: ${why}`);
  };
  if (has('cond_stage_model.')) notSdxl('it has cond_stage_model.* (a Stable Diffusion 1.x/2.x checkpoint)');
  if (has('conditioner.embedders.0.model.')) notSdxl('its only text encoder is OpenCLIP (the SDXL refiner, which StyleStudio does not use)');
  if (!has(PART_PREFIX.unet)) {
    const lora = keys.some((k) => k.startsWith('lora_') || k.includes('.lora_'));
    notSdxl(lora ? 'it holds LoRA weights (lora_* keys), not a model'
      : `it has no ${PART_PREFIX.unet}* tensors (a diffusers component, a VAE or an adapter? its keys begin ${listed(keys.slice(0, 3))})`);
  }
  for (const part of ['text_encoder', 'text_encoder_2'] as const) {
    if (!has(PART_PREFIX[part])) notSdxl(`it has no ${PART_PREFIX[part]}* tensors (SDXL base has two text encoders)`);
  }
  const outside = keys.filter((k) => !CHECKPOINT_PARTS.some((p) => k.startsWith(PART_PREFIX[p])) && !OUTSIDE_IGNORED.some((re) => re.test(k)));
  if (outside.length > 0) {
    throw new ModelSourceError('CHECKPOINT_UNMAPPED_KEYS',
      `${file}: ${outside.length} tensor(s) belong to no SDXL network (${CHECKPOINT_PARTS.map((p) => `${PART_PREFIX[p]}*`).join(', ')}): ${listed(outside)}`);
  }
  return { file: header.given, header, parts: new Set(CHECKPOINT_PARTS.filter((p) => has(PART_PREFIX[p]))) };
}

/** One network of the checkpoint under diffusers keys; every tensor of the part must map. */
export function openCheckpointPart(file: string, part: CheckpointPart, config: JsonObject, configFile: string): WeightStore {
  return partStore(readSingleFileCheckpoint(file), part, config, configFile);
}

function partStore(ckpt: SingleFileCheckpoint, part: CheckpointPart, config: JsonObject, configFile: string): WeightStore {
  const prefix = PART_PREFIX[part];
  if (!ckpt.parts.has(part)) {
    throw new ModelSourceError('CHECKPOINT_PART_MISSING', `${ckpt.file}: the checkpoint has no ${part} (no ${prefix}* tensors)`);
  }
  const rules = ldmRules(part, config, configFile);
  const mapped: TensorRef[] = [];
  const unmapped: string[] = [];
  for (const [key, ref] of ckpt.header.tensors) {
    if (!key.startsWith(prefix)) continue;
    const targets = rules.map(key.slice(prefix.length));
    if (targets === null) unmapped.push(key);
    else for (const target of targets) mapped.push(view(ref, target, ckpt.file));
  }
  if (unmapped.length > 0) {
    throw new ModelSourceError('CHECKPOINT_UNMAPPED_KEYS',
      `${ckpt.file}: ${unmapped.length} ${part} tensor(s) have no place in the structure ${configFile} describes ` +
      `(a config for another model? give the matching --model-config): ${listed(unmapped)}`);
  }
  return WeightStore.fromTensors(mapped, `${ckpt.file} (${part})`);
}

/** The diffusers tensor `target` as a reference into the checkpoint tensor `ref` (no bytes read). */
function view(ref: TensorRef, target: MappedTensor, file: string): TensorRef {
  const bad = (problem: string): never => {
    throw new ModelSourceError('CHECKPOINT_BAD_TENSOR', `${file}: tensor "${ref.key}" [${ref.shape.join(', ')}] ${problem}`);
  };
  const t = target.transform;
  switch (t.kind) {
    case 'as-stored':
      return { ...ref, key: target.key };
    case 'conv1x1-as-linear': {
      const [out, inp, kh, kw] = ref.shape;
      if (ref.shape.length === 2) return { ...ref, key: target.key }; // already stored as a linear weight
      if (ref.shape.length !== 4 || kh !== 1 || kw !== 1) bad('should be a 1×1 convolution weight [out, in, 1, 1]');
      return { ...ref, key: target.key, shape: [out!, inp!] };
    }
    case 'rows': {
      const rows = ref.shape[0];
      if (rows === undefined || rows % t.parts !== 0) bad(`cannot be split into ${t.parts} equal row blocks`);
      const length = ref.length / t.parts;
      return { ...ref, key: target.key, shape: [rows! / t.parts, ...ref.shape.slice(1)], offset: ref.offset + t.index * length, length };
    }
    case 'transposed':
      if (ref.shape.length !== 2) bad('should be 2-D');
      return { ...ref, key: target.key, shape: [ref.shape[1]!, ref.shape[0]!], storedTransposed: true };
    default: {
      const never: never = t;
      throw new Error(`unknown transform ${JSON.stringify(never)}`);
    }
  }
}

/** Config sets shipped with the companion (companion/weights/configs/NAME: model_index.json and each component's config). */
export const BUILTIN_CONFIGS = ['sdxl-base'] as const;
export type BuiltinConfig = (typeof BUILTIN_CONFIGS)[number];

export function isBuiltinConfig(name: string): name is BuiltinConfig {
  return (BUILTIN_CONFIGS as readonly string[]).includes(name);
}

/** The folder of the built-in configs (companion/weights/configs): JSON files stay in the source tree beside dist/. */
export function builtinConfigsRoot(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'companion', 'weights', 'configs');
    if (fs.existsSync(path.join(candidate, 'sdxl-base', 'model_index.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new ModelSourceError('MODEL_CONFIG_INVALID', 'the built-in configs (companion/weights/configs) are missing from this installation');
    dir = up;
  }
}

export function builtinConfigDir(name: BuiltinConfig): string {
  return path.join(builtinConfigsRoot(), name);
}

export interface SingleFileModelOptions {
  /** A diffusers SDXL folder (configs at least: model_index.json, unet/ vae/ text_encoder/ text_encoder_2/ config.json). */
  readonly configDir: string;
  /** A folder holding tokenizer/ and tokenizer_2/ (default: configDir). */
  readonly tokenizerDir?: string;
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt'];

/** How to get tokenizers, for every message that needs them. */
export const TOKENIZER_HELP = 'single-file checkpoints carry no tokenizers: run `stylestudio models pull sdxl-tokenizers` ' +
  '(3 MB, tokenizer files of stabilityai/stable-diffusion-xl-base-1.0 into the hub cache), or give ' +
  '--model-config <an SDXL diffusers folder that has tokenizer/ and tokenizer_2/>';

/**
 * The checkpoint presented as the diffusers folder the loaders take: unet, vae, text_encoder and text_encoder_2 read
 * their config from `configDir` and their weights from the checkpoint; tokenizers and scheduler are `configDir`'s
 * (tokenizers from `tokenizerDir` when given). The checkpoint header is checked here, so a wrong file fails at once.
 */
export function openSingleFileModel(file: string, options: SingleFileModelOptions): DiffusersFolder {
  const ckpt = readSingleFileCheckpoint(file);
  let configs: DiffusersFolder;
  try {
    configs = openDiffusersFolder(options.configDir);
  } catch (e) {
    throw new ModelSourceError('MODEL_CONFIG_INVALID', `--model-config: ${(e as Error).message}`);
  }
  const tokenizerRoot = options.tokenizerDir ?? configs.dir;
  const checkpointComponent = (name: CheckpointPart): DiffusersComponent => {
    const base = configs.component(name);
    const source: CheckpointPartSource = { checkpoint: ckpt.file, part: name, configFile: base.configFile };
    return {
      name, dir: base.dir, library: base.library, className: base.className, configFile: base.configFile,
      config: () => base.config(),
      file: (fileName) => base.file(fileName),
      weights: (): WeightChoice => {
        if (!ckpt.parts.has(name)) {
          throw new ModelSourceError('CHECKPOINT_PART_MISSING', `${ckpt.file}: the checkpoint has no ${name} (no ${PART_PREFIX[name]}* tensors)`);
        }
        return { file: ckpt.file, source, sharded: false, variant: null, note: null, open: () => partStore(ckpt, name, base.config(), base.configFile) };
      },
    };
  };
  const tokenizerComponent = (name: string): DiffusersComponent => {
    const dir = path.join(tokenizerRoot, name);
    const missing = TOKENIZER_FILES.filter((f) => !fs.existsSync(path.join(dir, f)));
    if (missing.length > 0) {
      throw new ModelSourceError('TOKENIZERS_MISSING', `${dir}: no ${missing.join(', ')}; ${TOKENIZER_HELP}`);
    }
    return openComponentFolder(dir, name);
  };
  return {
    dir: configs.dir,
    modelIndexFile: configs.modelIndexFile,
    modelIndex: configs.modelIndex,
    components: configs.components,
    component(name: string): DiffusersComponent {
      if ((CHECKPOINT_PARTS as readonly string[]).includes(name)) return checkpointComponent(name as CheckpointPart);
      if (name === 'tokenizer' || name === 'tokenizer_2') return tokenizerComponent(name);
      return configs.component(name);
    },
  };
}
