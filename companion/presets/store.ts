/**
 * Style presets on disk: `<configDir>/presets/<name>/preset.json` plus PNG copies of its images, so a preset survives
 * its originals moving. Shared by the CLI and the daemon. A preset is written into a temporary folder and renamed into
 * place (an overwrite swaps folders), so readers see the old or the new preset, never a mix.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  presetNameProblem, PRESET_VERSION, referencesProblem, StylePreset, type PresetContentOf, type PresetEntry,
} from '../../protocol';
import { readImageFile, writePngFile, type RgbaImage } from '../image/rgba';
import { PresetExistsError, PresetInvalidError, PresetNotFoundError, PresetUnsupportedError } from './errors';

export const PRESET_FILE = 'preset.json';
const NEGATIVE_FILE = 'negative.png';

/** Where presets live: beside the pairing token, so the CLI and the daemon share them. */
export function presetsDir(configDir: string): string {
  return path.join(configDir, 'presets');
}

/** A preset to save: its name, what it was made with, and its content with images as pixels. */
export interface NewPreset extends PresetContentOf<RgbaImage> {
  readonly name: string;
  readonly madeWith: StylePreset['madeWith'];
}

/** A preset read from its folder. */
export interface LoadedPreset {
  readonly preset: StylePreset;
  readonly folder: string;
}

export function checkPresetName(name: string): void {
  const problem = presetNameProblem(name);
  if (problem !== null) throw new PresetInvalidError(problem);
}

/** Throws PresetUnsupportedError unless the engine can apply the preset's references (referencesProblem: at most five, one weight above 0). */
export function checkApplicable(preset: Pick<StylePreset, 'name' | 'references'>): void {
  const problem = referencesProblem(preset.references);
  if (problem !== null) throw new PresetUnsupportedError(`preset ${preset.name}: ${problem}`);
}

export class PresetStore {
  constructor(readonly dir: string) {}

  /** Every preset folder, sorted by name; one that cannot be read is listed with its problem. */
  list(): PresetEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.sort((a, b) => a.localeCompare(b)).map((name) => {
      try {
        return { name, preset: readPresetFolder(path.join(this.dir, name)).preset };
      } catch (e) {
        return { name, problem: (e as Error).message };
      }
    });
  }

  /** The preset called `name`. */
  open(name: string): LoadedPreset {
    checkPresetName(name);
    const folder = path.join(this.dir, name);
    if (!fs.existsSync(folder)) throw new PresetNotFoundError(`no preset ${JSON.stringify(name)} in ${this.dir}; \`stylestudio presets list\` lists them`);
    return readPresetFolder(folder);
  }

  /** Whether a preset (or anything) is saved under `name`. */
  has(name: string): boolean {
    checkPresetName(name);
    return fs.existsSync(path.join(this.dir, name));
  }

  /** A preset by name, or by its folder when `arg` is a path (contains a separator or starts with a dot). */
  resolve(arg: string): LoadedPreset {
    return /[\\/]/.test(arg) || arg.startsWith('.') ? readPresetFolder(path.resolve(arg)) : this.open(arg);
  }

  /** Writes a preset; an existing one of that name is replaced only with `overwrite` (else PresetExistsError). */
  async save(p: NewPreset, options: { readonly overwrite?: boolean } = {}): Promise<StylePreset> {
    checkPresetName(p.name);
    const preset: StylePreset = {
      version: PRESET_VERSION,
      name: p.name,
      createdAt: new Date().toISOString(),
      references: p.references.map((r, i) => ({ image: `reference-${i}.png`, weight: r.weight })),
      elements: p.elements.kind === 'image' ? { kind: 'image', image: NEGATIVE_FILE } : p.elements,
      madeWith: p.madeWith,
      settings: p.settings,
      seed: p.seed,
    };
    const checked = StylePreset.safeParse(preset);
    if (!checked.success) throw new PresetInvalidError(`preset ${p.name}: ${issueText(checked.error)}`);
    checkApplicable(preset);
    const target = path.join(this.dir, p.name);
    if (fs.existsSync(target) && options.overwrite !== true) {
      throw new PresetExistsError(`preset ${JSON.stringify(p.name)} exists; overwrite it explicitly (--force, or confirm in the panel)`);
    }
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, `.${p.name}.${randomBytes(4).toString('hex')}.tmp`);
    fs.mkdirSync(tmp);
    try {
      for (const [i, r] of p.references.entries()) await writePngFile(r.image, path.join(tmp, `reference-${i}.png`));
      if (p.elements.kind === 'image') await writePngFile(p.elements.image, path.join(tmp, NEGATIVE_FILE));
      fs.writeFileSync(path.join(tmp, PRESET_FILE), `${JSON.stringify(checked.data, null, 2)}\n`);
      if (fs.existsSync(target)) {
        if (options.overwrite !== true) throw new PresetExistsError(`preset ${JSON.stringify(p.name)} was created meanwhile; nothing was changed`);
        const old = `${tmp}.old`;
        fs.renameSync(target, old);
        fs.renameSync(tmp, target);
        fs.rmSync(old, { recursive: true, force: true });
      } else {
        fs.renameSync(tmp, target);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return checked.data;
  }

  delete(name: string): void {
    const { folder } = this.open(name);
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

/** Reads `folder/preset.json`; every problem names the file and the field. */
export function readPresetFolder(folder: string): LoadedPreset {
  const file = path.join(folder, PRESET_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new PresetNotFoundError(`${folder}: not a preset folder (no ${PRESET_FILE})`);
    throw new PresetInvalidError(`${file}: cannot read (${code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PresetInvalidError(`${file}: not valid JSON`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== PRESET_VERSION) {
    throw new PresetInvalidError(`${file}: preset version ${JSON.stringify(version)}; this StyleStudio reads version ${PRESET_VERSION}`);
  }
  const parsed = StylePreset.safeParse(raw);
  if (!parsed.success) throw new PresetInvalidError(`${file}: ${issueText(parsed.error)}`);
  const preset = parsed.data;
  for (const image of presetImageFiles(preset)) {
    if (!fs.existsSync(path.join(folder, image))) throw new PresetInvalidError(`${file}: names ${image}, which is missing from the folder`);
  }
  return { preset, folder };
}

function presetImageFiles(preset: StylePreset): string[] {
  return [...preset.references.map((r) => r.image), ...(preset.elements.kind === 'image' ? [preset.elements.image] : [])];
}

/** The preset's reference images and negative style image as pixels. */
export async function readPresetImages(loaded: LoadedPreset): Promise<{ readonly references: RgbaImage[]; readonly negative?: RgbaImage }> {
  const read = async (file: string): Promise<RgbaImage> => {
    try {
      return await readImageFile(path.join(loaded.folder, file));
    } catch (e) {
      throw new PresetInvalidError(`preset ${loaded.preset.name}: ${(e as Error).message}`);
    }
  };
  const references = [];
  for (const r of loaded.preset.references) references.push(await read(r.image));
  const { elements } = loaded.preset;
  return { references, ...(elements.kind === 'image' ? { negative: await read(elements.image) } : {}) };
}

function issueText(error: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] }): string {
  const issue = error.issues[0]!;
  return `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`;
}
