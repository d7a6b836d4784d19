/**
 * The Hugging Face hub cache, read without any network: `models--{org}--{name}/refs/<ref>` holds a commit hash,
 * `snapshots/<commit>/…` holds the repo's files as symlinks into `../../blobs/<sha>` (copies on Windows without
 * symlink rights). The weight readers realpath every file they open, so TensorRef.file is the blob itself:
 * ONNX Runtime refuses external data reached through a symlink that leaves the model folder.
 *
 *   hubCacheDir(env?, home?): string        HF_HUB_CACHE | HUGGINGFACE_HUB_CACHE | $HF_HOME/hub |
 *                                           ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub (huggingface_hub's order)
 *   resolveHubSnapshot(repoId, { revision?, cacheDir? }): HubSnapshot   the snapshot folder of a cached repo
 *   resolveModelLocation(pathOrRepoId, options?): string   a local folder as is, else a cached repo's snapshot
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WeightFileError } from './errors';

export interface HubSnapshot {
  readonly repoId: string;
  /** The commit hash the revision resolved to. */
  readonly commit: string;
  /** `<cache>/models--org--name/snapshots/<commit>`: pass it to openDiffusersFolder / openComponentFolder. */
  readonly dir: string;
}

export interface HubOptions {
  /** A branch or tag (read from refs/) or a 40-hex commit hash; default "main". */
  readonly revision?: string;
  /** Overrides the environment's cache folder. */
  readonly cacheDir?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function hubCacheDir(env: Env = process.env, home: string = os.homedir()): string {
  const expand = (p: string): string => (p === '~' || p.startsWith('~/') ? path.join(home, p.slice(1)) : p);
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return path.resolve(expand(explicit));
  const hfHome = env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'huggingface');
  return path.resolve(expand(hfHome), 'hub');
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function resolveHubSnapshot(repoId: string, options: HubOptions = {}): HubSnapshot {
  if (!REPO_ID.test(repoId) || repoId.includes('..') || repoId.includes('--')) {
    throw new WeightFileError(repoId, 'not a Hugging Face repo id (expected "org/name")');
  }
  const cache = options.cacheDir ?? hubCacheDir();
  const repoDir = path.join(cache, `models--${repoId.replace('/', '--')}`);
  if (!fs.existsSync(repoDir)) {
    if (!fs.existsSync(cache)) {
      throw new WeightFileError(cache, `Hugging Face cache folder not found (looking for ${repoId}; ` +
        'set HF_HUB_CACHE or HF_HOME, or give the model folder path)');
    }
    throw new WeightFileError(repoDir, `${repoId} is not in the Hugging Face cache (download it first)`);
  }
  const revision = options.revision ?? 'main';
  if (revision.includes('..') || path.isAbsolute(revision)) {
    throw new WeightFileError(repoDir, `invalid revision ${JSON.stringify(revision)}`);
  }
  let commit: string;
  if (COMMIT.test(revision)) {
    commit = revision;
  } else {
    const refFile = path.join(repoDir, 'refs', revision);
    let text: string;
    try {
      text = fs.readFileSync(refFile, 'utf8');
    } catch {
      throw new WeightFileError(refFile, `revision "${revision}" of ${repoId} is not in the cache ` +
        `(cached snapshots: ${listSnapshots(repoDir).join(', ') || 'none'})`);
    }
    commit = text.trim();
    if (!COMMIT.test(commit)) {
      throw new WeightFileError(refFile, `expected a 40-hex commit hash, found ${JSON.stringify(text.slice(0, 80))}`);
    }
  }
  const dir = path.join(repoDir, 'snapshots', commit);
  if (!fs.existsSync(dir)) {
    throw new WeightFileError(dir, `snapshot ${commit} of ${repoId} (revision "${revision}") is not in the cache ` +
      `(cached snapshots: ${listSnapshots(repoDir).join(', ') || 'none'})`);
  }
  return { repoId, commit, dir };
}

/** A path that exists locally is used as is; anything else that looks like "org/name" is looked up in the cache. */
export function resolveModelLocation(pathOrRepoId: string, options: HubOptions = {}): string {
  if (fs.existsSync(pathOrRepoId)) return path.resolve(pathOrRepoId);
  if (!REPO_ID.test(pathOrRepoId) || path.isAbsolute(pathOrRepoId) || pathOrRepoId.startsWith('.')) {
    throw new WeightFileError(pathOrRepoId, 'model folder not found');
  }
  try {
    return resolveHubSnapshot(pathOrRepoId, options).dir;
  } catch (err) {
    // "models/sdxl" may be a mistyped folder as much as a repo id: say both were tried.
    if (err instanceof WeightFileError) {
      throw new WeightFileError(pathOrRepoId, `no such model folder, and not usable as a Hugging Face repo id: ${err.message}`);
    }
    throw err;
  }
}

function listSnapshots(repoDir: string): string[] {
  try {
    return fs.readdirSync(path.join(repoDir, 'snapshots')).sort();
  } catch {
    return [];
  }
}
