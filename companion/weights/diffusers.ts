/**
 * Diffusers folders: `model_index.json` → component subfolders → each component's config and weight file.
 *
 *   openDiffusersFolder(dir): DiffusersFolder        a pipeline folder (model_index.json at its root)
 *   openComponentFolder(dir, name?): DiffusersComponent   a folder that is one component (config.json + weights)
 *   folder.component(name): DiffusersComponent       throws naming model_index.json and the components it lists
 *   component.config(): JsonObject                   config.json (scheduler_config.json for schedulers), cached
 *   component.file(name): string                     a file the component must have (vocab.json …)
 *   component.weights({ variant: 'fp16' }): WeightChoice   which weight file(s); `.open()` → WeightStore
 *   requireKey(config, key, file) / parseConfig(schema, config, file)   config access with errors naming the file
 *
 * Weight file choice follows diffusers' `_get_model_file`/variant rules: `<base>.safetensors`, else
 * `<base>.safetensors.index.json` (sharded); with `variant: 'fp16'`, `<base>.fp16.safetensors` /
 * `<base>.safetensors.index.fp16.json` first, falling back to full precision with a note. `<base>` is
 * `diffusion_pytorch_model` (diffusers classes) or `model` (transformers classes); a folder of unknown library
 * tries both. PyTorch `.bin` files are the last resort.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { WeightFileError } from './errors';
import { readJsonObjectFile } from './files';
import type { WeightSource } from './single-file';
import type { JsonObject, JsonValue } from './strict-json';
import { WeightStore } from './weight-store';

export type WeightVariant = 'fp16';

export interface WeightChoice {
  /** The chosen weight file, or the shard index of a sharded checkpoint (path inside the component folder). */
  readonly file: string;
  /** What graph builds reopen (in worker threads): the file, or the checkpoint part a single-file model maps. */
  readonly source: WeightSource;
  readonly sharded: boolean;
  /** The variant actually used (null = full precision). */
  readonly variant: WeightVariant | null;
  /** Set when the choice differs from what was asked, e.g. the fp16 fallback; show it to the user. */
  readonly note: string | null;
  open(): WeightStore;
}

export interface WeightOptions {
  /** Prefer `*.fp16.*` files; full precision is used (with a note) when the folder has none. */
  readonly variant?: WeightVariant;
}

export interface DiffusersComponent {
  readonly name: string;
  /** Absolute path of the component folder (not realpath'd: hub-cache snapshots hold symlinked files). */
  readonly dir: string;
  /** From model_index.json, e.g. "diffusers"; null for a stand-alone component folder. */
  readonly library: string | null;
  /** From model_index.json (e.g. "UNet2DConditionModel"), else config.json's `_class_name` / `architectures[0]`. */
  readonly className: string | null;
  readonly configFile: string;
  config(): JsonObject;
  file(name: string): string;
  weights(options?: WeightOptions): WeightChoice;
}

export interface DiffusersFolder {
  readonly dir: string;
  readonly modelIndexFile: string;
  /** model_index.json as parsed (pipeline class, flags like force_zeros_for_empty_prompt). */
  readonly modelIndex: JsonObject;
  /** Component names with their [library, class], components listed as [null, null] left out. */
  readonly components: ReadonlyMap<string, { readonly library: string; readonly className: string }>;
  component(name: string): DiffusersComponent;
}

export function openDiffusersFolder(dir: string): DiffusersFolder {
  const root = path.resolve(dir);
  requireDirectory(root, 'model folder');
  const modelIndexFile = path.join(root, 'model_index.json');
  if (!fs.existsSync(modelIndexFile)) {
    throw new WeightFileError(root, 'not a diffusers model folder: model_index.json is missing');
  }
  const modelIndex = readJsonObjectFile(modelIndexFile, 'model_index.json');
  const components = new Map<string, { library: string; className: string }>();
  for (const [key, value] of Object.entries(modelIndex)) {
    if (key.startsWith('_') || !Array.isArray(value)) continue; // `_class_name`, pipeline flags
    if (value.length !== 2) {
      throw new WeightFileError(modelIndexFile, `entry "${key}" must be [library, class], found ${JSON.stringify(value)}`);
    }
    const [library, className] = value;
    if (library === null && className === null) continue; // optional component the pipeline does not have
    if (typeof library !== 'string' || typeof className !== 'string') {
      throw new WeightFileError(modelIndexFile, `entry "${key}" must be [library, class], found ${JSON.stringify(value)}`);
    }
    components.set(key, { library, className });
  }
  return {
    dir: root,
    modelIndexFile,
    modelIndex,
    components,
    component(name: string): DiffusersComponent {
      const entry = components.get(name);
      if (!entry) {
        throw new WeightFileError(modelIndexFile,
          `the pipeline has no component "${name}" (it lists: ${[...components.keys()].join(', ') || 'none'})`);
      }
      const sub = path.join(root, name);
      if (!fs.existsSync(sub)) {
        throw new WeightFileError(sub,
          `component folder is missing (model_index.json lists "${name}" as ${entry.library} ${entry.className})`);
      }
      return makeComponent(sub, name, entry.library, entry.className);
    },
  };
}

export function openComponentFolder(dir: string, name = path.basename(path.resolve(dir))): DiffusersComponent {
  const abs = path.resolve(dir);
  return makeComponent(abs, name, null, null);
}

/** The value of a required config key; throws naming the file and the key. */
export function requireKey(config: JsonObject, key: string, file: string): JsonValue {
  const value = Object.prototype.hasOwnProperty.call(config, key) ? config[key] : undefined;
  if (value === undefined) throw new WeightFileError(file, `missing required key "${key}"`);
  return value;
}

/** Validates a config with a zod schema; the error names the file and every failing key path. */
export function parseConfig<T>(schema: z.ZodType<T>, config: JsonObject, file: string): T {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const at = issue.path.map(String).join('.');
    return at === '' ? issue.message : `"${at}": ${issue.message}`;
  });
  throw new WeightFileError(file, `invalid config: ${problems.join('; ')}`);
}

function requireDirectory(dir: string, what: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new WeightFileError(dir, `${what} not found`);
  }
  if (!stat.isDirectory()) throw new WeightFileError(dir, `${what} must be a directory, found a file`);
}

const CONFIG_NAMES = ['config.json', 'scheduler_config.json'];

function makeComponent(dir: string, name: string, library: string | null, indexClass: string | null): DiffusersComponent {
  requireDirectory(dir, `component folder "${name}"`);
  const configFile = CONFIG_NAMES.map((n) => path.join(dir, n)).find((f) => fs.existsSync(f)) ?? path.join(dir, 'config.json');
  let cached: JsonObject | undefined;
  const config = (): JsonObject => {
    if (!cached) {
      if (!fs.existsSync(configFile)) {
        throw new WeightFileError(dir, `component "${name}" has no config (looked for ${CONFIG_NAMES.join(', ')})`);
      }
      cached = readJsonObjectFile(configFile, 'config');
    }
    return cached;
  };
  const classFromConfig = (): string | null => {
    if (!fs.existsSync(configFile)) return null;
    const c = config();
    if (typeof c._class_name === 'string') return c._class_name;
    const arch = c.architectures;
    return Array.isArray(arch) && typeof arch[0] === 'string' ? arch[0] : null;
  };
  return {
    name,
    dir,
    library,
    get className(): string | null {
      return indexClass ?? classFromConfig();
    },
    configFile,
    config,
    file(fileName: string): string {
      const p = path.join(dir, fileName);
      if (!fs.existsSync(p)) throw new WeightFileError(p, `component "${name}" lacks required file ${fileName}`);
      return p;
    },
    weights(options: WeightOptions = {}): WeightChoice {
      return chooseWeights(dir, name, library, options);
    },
  };
}

function chooseWeights(dir: string, name: string, library: string | null, options: WeightOptions): WeightChoice {
  const bases = library === 'diffusers' ? ['diffusion_pytorch_model']
    : library === 'transformers' ? ['model']
      : ['diffusion_pytorch_model', 'model'];
  const candidates = (variant: WeightVariant | null): { file: string; sharded: boolean }[] => bases.flatMap((base) => {
    const v = variant === null ? '' : `.${variant}`;
    const binBase = base === 'model' ? 'pytorch_model' : base; // transformers names its .bin differently
    return [
      { file: `${base}${v}.safetensors`, sharded: false },
      { file: `${base}.safetensors.index${v}.json`, sharded: true },
      { file: `${binBase}${v}.bin`, sharded: false },
    ];
  });
  const find = (variant: WeightVariant | null) =>
    candidates(variant).find((c) => fs.existsSync(path.join(dir, c.file)));
  const make = (c: { file: string; sharded: boolean }, variant: WeightVariant | null, note: string | null): WeightChoice => {
    const file = path.join(dir, c.file);
    return { file, source: file, sharded: c.sharded, variant, note, open: () => WeightStore.open(file) };
  };

  const asked = options.variant ?? null;
  const preferred = find(asked);
  if (preferred) return make(preferred, asked, null);
  if (asked !== null) {
    const full = find(null);
    if (full) {
      return make(full, null, `${name}: no ${asked} variant weights, using full precision ${full.file}`);
    }
  } else {
    const half = find('fp16');
    if (half) return make(half, 'fp16', `${name}: only ${half.file} exists, using the fp16 variant`);
  }
  const looked = [...(asked === null ? [] : candidates(asked)), ...candidates(null)].map((c) => c.file);
  throw new WeightFileError(dir, `component "${name}" has no weights (looked for ${looked.join(', ')})`);
}
