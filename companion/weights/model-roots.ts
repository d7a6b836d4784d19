/**
 * Model roots: the folders ComfyUI and AUTOMATIC1111 (and Forge, same layout) keep models in, read where they are.
 *
 *   modelRoots(flags, env)          `--model-root DIR` (repeatable) then STYLESTUDIO_MODEL_ROOTS (path-delimited)
 *   scanModelRoot(root): RootScan   the usable files of each kind, and every file that is not usable with why
 *   findModel(scans, kind, name)    `--checkpoint NAME`, `--adapter NAME`, `--image-encoder NAME`: one file by its name
 *
 * Layouts (a root is the install folder, or its `models` folder):
 *   ComfyUI  models/checkpoints, models/ipadapter, models/clip_vision (subfolders allowed, as ComfyUI allows them)
 *   A1111    models/Stable-diffusion; IP-Adapter files of the sd-webui-controlnet extension (`ip-adapter*` in
 *            models/ControlNet or extensions/sd-webui-controlnet/models); other ControlNet models are not ours
 * Every candidate's header is read (milliseconds), so the list says which files will work: a checkpoint must be a
 * single-file SDXL base .safetensors, an IP-Adapter hold `image_proj.*` + `ip_adapter.*` (ComfyUI's and h94's
 * layout, .safetensors or a torch .bin read without running its pickle), a CLIP vision file be a transformers
 * CLIPVisionModelWithProjection of a size with a built-in config (image-encoder-source.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelSourceError, type ModelSourceErrorCode } from './errors';
import { imageEncoderConfigFor } from './image-encoder-source';
import { readSafetensors } from './safetensors';
import { readSingleFileCheckpoint } from './single-file';
import { readTorchBin } from './torch-bin';

export type FoundKind = 'checkpoint' | 'ip-adapter' | 'clip-vision';
export type RootLayout = 'comfyui' | 'a1111';

export interface FoundModel {
  readonly kind: FoundKind;
  /** Path below its kind's folder, '/'-separated (what `--checkpoint NAME` matches). */
  readonly name: string;
  /** The file as found (symlinks kept: the readers resolve them). */
  readonly file: string;
  readonly bytes: number;
}

export interface UnusableFile {
  readonly kind: FoundKind;
  readonly file: string;
  readonly code: ModelSourceErrorCode;
  readonly problem: string;
}

export interface RootScan {
  readonly root: string;
  readonly layout: RootLayout;
  readonly found: readonly FoundModel[];
  readonly unusable: readonly UnusableFile[];
}

interface KindFolder {
  readonly kind: FoundKind;
  /** Relative to the models folder. */
  readonly dir: string;
  /** Only files whose name passes (A1111 keeps IP-Adapters among other ControlNet models). */
  readonly only?: RegExp;
}

const IP_ADAPTER_NAME = /^ip[-_]?adapter/i;

const LAYOUTS: Readonly<Record<RootLayout, { readonly marker: string; readonly folders: readonly KindFolder[] }>> = {
  comfyui: {
    marker: 'checkpoints',
    folders: [{ kind: 'checkpoint', dir: 'checkpoints' }, { kind: 'ip-adapter', dir: 'ipadapter' }, { kind: 'clip-vision', dir: 'clip_vision' }],
  },
  a1111: {
    marker: 'Stable-diffusion',
    folders: [
      { kind: 'checkpoint', dir: 'Stable-diffusion' },
      { kind: 'ip-adapter', dir: 'ControlNet', only: IP_ADAPTER_NAME },
      { kind: 'ip-adapter', dir: '../extensions/sd-webui-controlnet/models', only: IP_ADAPTER_NAME },
    ],
  },
};

/** Files that are models in these folders; anything else (previews, yaml, notes) is not looked at. */
const MODEL_EXTENSIONS = /\.(safetensors|ckpt|pt|pth|bin|sft)$/i;
/** ComfyUI allows subfolders; deeper trees are not model folders. */
const MAX_DEPTH = 4;

/** The roots to scan: flags first, then the environment variable; each must be a folder. */
export function modelRoots(flags: readonly string[], env: string | undefined = process.env.STYLESTUDIO_MODEL_ROOTS): string[] {
  const given = [
    ...flags.map((dir) => ({ dir, from: '--model-root' })),
    ...(env ?? '').split(path.delimiter).filter((d) => d !== '').map((dir) => ({ dir, from: 'STYLESTUDIO_MODEL_ROOTS' })),
  ];
  const roots: string[] = [];
  for (const { dir, from } of given) {
    const abs = path.resolve(dir);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      throw new ModelSourceError('MODEL_ROOT_INVALID', `${from} ${dir}: no such folder`);
    }
    if (!stat.isDirectory()) throw new ModelSourceError('MODEL_ROOT_INVALID', `${from} ${dir}: not a folder`);
    if (!roots.includes(abs)) roots.push(abs);
  }
  return roots;
}

/** The models folder of a root and its layout: the root itself or its `models/` subfolder. */
function detectLayout(root: string): { layout: RootLayout; models: string } {
  for (const models of [path.join(root, 'models'), root]) {
    for (const layout of ['comfyui', 'a1111'] as const) {
      if (isDirectory(path.join(models, LAYOUTS[layout].marker))) return { layout, models };
    }
  }
  throw new ModelSourceError('MODEL_ROOT_INVALID',
    `${root}: neither a ComfyUI folder (models/checkpoints) nor an AUTOMATIC1111/Forge folder (models/Stable-diffusion), nor their models/ folder`);
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function scanModelRoot(root: string): RootScan {
  const { layout, models } = detectLayout(path.resolve(root));
  const found: FoundModel[] = [];
  const unusable: UnusableFile[] = [];
  for (const folder of LAYOUTS[layout].folders) {
    const base = path.join(models, folder.dir);
    if (!isDirectory(base)) continue;
    walk(base, '', 0, new Set([fs.realpathSync(base)]), (file, name) => {
      if (folder.only !== undefined && !folder.only.test(path.basename(name))) return;
      const problem = checkFile(folder.kind, file);
      if (problem === null) found.push({ kind: folder.kind, name, file, bytes: fs.statSync(file).size });
      else unusable.push({ kind: folder.kind, file, ...problem });
    }, (file, why) => unusable.push({ kind: folder.kind, file, code: 'MODEL_FILE_UNUSABLE', problem: why }));
  }
  return { root: path.resolve(root), layout, found, unusable };
}

/** Depth-first over model files; symlinked folders followed once (a loop is reported, not followed). */
function walk(dir: string, rel: string, depth: number, seen: Set<string>,
  onFile: (file: string, name: string) => void, onProblem: (file: string, why: string) => void): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).sort();
  } catch (e) {
    onProblem(dir, `cannot list the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const file = path.join(dir, entry);
    const name = rel === '' ? entry : `${rel}/${entry}`;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (e) {
      if (MODEL_EXTENSIONS.test(entry)) onProblem(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'broken symlink (its target is gone)' : (e as Error).message);
      continue;
    }
    if (stat.isDirectory()) {
      const real = fs.realpathSync(file);
      if (seen.has(real)) {
        onProblem(file, 'symlink loop: this folder is already being scanned');
        continue;
      }
      if (depth + 1 < MAX_DEPTH) walk(file, name, depth + 1, new Set([...seen, real]), onFile, onProblem);
    } else if (stat.isFile() && MODEL_EXTENSIONS.test(entry)) {
      onFile(file, name);
    }
  }
}

/** Why a file of this kind cannot be used, or null. Headers only; no pickle is ever run. */
function checkFile(kind: FoundKind, file: string): { code: ModelSourceErrorCode; problem: string } | null {
  const safetensors = /\.(safetensors|sft)$/i.test(file);
  try {
    switch (kind) {
      case 'checkpoint':
        readSingleFileCheckpoint(file);
        return null;
      case 'ip-adapter': {
        if (!safetensors && !/\.bin$/i.test(file)) return { code: 'MODEL_FILE_UNUSABLE', problem: 'IP-Adapter weights are read from .safetensors or .bin only' };
        const keys = [...(safetensors ? readSafetensors(file).tensors.keys() : readTorchBin(file).tensors.keys())];
        if (keys.some((k) => k.startsWith('image_proj.')) && keys.some((k) => k.startsWith('ip_adapter.'))) return null;
        return { code: 'MODEL_FILE_UNUSABLE', problem: `not an IP-Adapter (no image_proj.* and ip_adapter.* tensors; keys begin ${keys.slice(0, 3).join(', ')})` };
      }
      case 'clip-vision': {
        if (!safetensors) return { code: 'MODEL_FILE_UNUSABLE', problem: 'CLIP vision weights are read from .safetensors only' };
        imageEncoderConfigFor(file);
        return null;
      }
      default: {
        const never: never = kind;
        throw new Error(`unknown kind ${String(never)}`);
      }
    }
  } catch (e) {
    if (e instanceof ModelSourceError) return { code: e.code, problem: e.message.replace(`${file}: `, '') };
    return { code: 'MODEL_FILE_UNUSABLE', problem: (e as Error).message.replace(`${file}: `, '') };
  }
}

/** The option that names each kind (messages). */
const FLAG: Readonly<Record<FoundKind, string>> = { checkpoint: '--checkpoint', 'ip-adapter': '--adapter', 'clip-vision': '--image-encoder' };

/**
 * The file of `kind` that `name` names under the roots: its path below the kind's folder, with or without the
 * extension, or its file name when that is unique.
 */
export function findModel(scans: readonly RootScan[], kind: FoundKind, name: string): FoundModel {
  const strip = (n: string) => n.replace(/\.(safetensors|sft|bin)$/i, '');
  const all = scans.flatMap((s) => s.found.filter((f) => f.kind === kind));
  const exact = all.filter((f) => f.name === name || strip(f.name) === strip(name));
  const matches = exact.length > 0 ? exact : all.filter((f) => strip(path.posix.basename(f.name)) === strip(name));
  if (matches.length === 1) return matches[0]!;
  const flag = FLAG[kind];
  if (matches.length > 1) {
    throw new ModelSourceError('MODEL_NOT_FOUND', `${flag} ${name} matches ${matches.length} files: ${matches.map((m) => m.file).join(', ')}; give the path`);
  }
  const bad = scans.flatMap((s) => s.unusable.filter((u) => u.kind === kind && strip(path.basename(u.file)) === strip(path.basename(name))));
  if (bad.length > 0) throw new ModelSourceError(bad[0]!.code, `${bad[0]!.file}: ${bad[0]!.problem}`);
  const where = scans.length === 0 ? 'no model roots given (--model-root DIR or STYLESTUDIO_MODEL_ROOTS)'
    : `${kind} files under ${scans.map((s) => s.root).join(', ')}: ${all.map((f) => f.name).join(', ') || 'none'}`;
  throw new ModelSourceError('MODEL_NOT_FOUND', `${flag} ${name}: no such file, and no ${kind} of that name (${where})`);
}
