/**
 * The model sets `serve` offers the panel (`modelSets`): the default set from the hub cache and every SDXL checkpoint
 * under the model roots (`--model-root`, STYLESTUDIO_MODEL_ROOTS), plus a `--checkpoint` file outside them. Selecting
 * one makes it the source later engines are built from; unusable files are listed with why, never selected.
 */
import * as path from 'node:path';
import { ProtocolError, type ModelSetInfo } from '../../protocol';
import { modelStatuses } from '../weights/model-catalog';
import { type RootScan, scanModelRoot } from '../weights/model-roots';
import { resolveModelSource, type ModelSource } from '../weights/model-source';

export const DEFAULT_SET_ID = 'default';

interface CheckpointSet extends ModelSetInfo {
  readonly file?: string;
}

export class ServeModelSets {
  private currentId: string;
  private currentSource: ModelSource | undefined;

  constructor(
    private readonly cacheDir: string,
    private readonly roots: readonly string[],
    /** `--model-config` for every checkpoint (default: the built-in sdxl-base configs). */
    private readonly modelConfig: string | undefined,
    /** `serve --checkpoint`, already resolved: the first current set. */
    initial: ModelSource | undefined,
  ) {
    this.currentSource = initial;
    this.currentId = initial === undefined ? DEFAULT_SET_ID : this.idOfFile(initial.model);
  }

  /** What later engines are built from: undefined = the default set. */
  get source(): ModelSource | undefined {
    return this.currentSource;
  }

  list(): { readonly current: string; readonly sets: readonly ModelSetInfo[] } {
    return { current: this.currentId, sets: this.all().map(({ file: _file, ...info }) => info) };
  }

  /** Makes `id` current; throws ProtocolError UNKNOWN_MODEL_SET or MODEL_SET_UNUSABLE. */
  select(id: string): ModelSource | undefined {
    const set = this.all().find((s) => s.id === id);
    if (set === undefined) throw new ProtocolError('UNKNOWN_MODEL_SET', `no model set ${JSON.stringify(id)}; modelSets lists them`);
    if (!set.usable) throw new ProtocolError('MODEL_SET_UNUSABLE', `${set.name}: ${set.reason ?? 'cannot be used'}`);
    const source = set.file === undefined ? undefined
      : resolveModelSource({ checkpoint: set.file, modelConfig: this.modelConfig }, { cacheDir: this.cacheDir });
    this.currentId = id;
    this.currentSource = source;
    return source;
  }

  private all(): CheckpointSet[] {
    const present = modelStatuses(this.cacheDir).every((m) => m.present);
    const sets: CheckpointSet[] = [{
      id: DEFAULT_SET_ID, name: 'Default set (SDXL base + CSGO)', kind: 'default', usable: present,
      ...(present ? {} : { reason: 'models missing from the hub cache: Download fetches them' }),
    }];
    for (const scan of this.scans()) {
      for (const f of scan.found.filter((m) => m.kind === 'checkpoint')) {
        sets.push({ id: f.name, name: path.basename(f.file), kind: 'checkpoint', usable: true, file: f.file });
      }
      for (const u of scan.unusable.filter((m) => m.kind === 'checkpoint')) {
        // listed so the designer sees why a file is missing from the choice; its id is its path (never selectable)
        sets.push({ id: u.file, name: path.basename(u.file), kind: 'checkpoint', usable: false, reason: u.problem });
      }
    }
    const initial = this.currentSource;
    if (initial !== undefined && !sets.some((s) => s.file !== undefined && path.resolve(s.file) === initial.model)) {
      sets.push({ id: initial.model, name: path.basename(initial.model), kind: 'checkpoint', usable: true, file: initial.model });
    }
    return sets;
  }

  /** The roots as they are now; one removed or changed since startup is left out (checked at startup). */
  private scans(): RootScan[] {
    return this.roots.flatMap((root) => {
      try {
        return [scanModelRoot(root)];
      } catch {
        return [];
      }
    });
  }

  private idOfFile(file: string): string {
    const found = this.scans().flatMap((s) => s.found).find((f) => f.kind === 'checkpoint' && path.resolve(f.file) === file);
    return found?.name ?? file;
  }
}
