/** The pairing token: made once per install, kept in the user's config directory with mode 0600. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Environment variable that overrides the config directory (tests, portable installs). */
export const CONFIG_DIR_ENV = 'STYLESTUDIO_CONFIG_DIR';

/** Where the companion keeps its own state, following each OS's convention. */
export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const override = env[CONFIG_DIR_ENV];
  if (override) return path.resolve(override);
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'StyleStudio');
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'StyleStudio');
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'stylestudio');
}

export function tokenPath(dir: string = configDir()): string {
  return path.join(dir, 'token');
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface PairingToken {
  readonly token: string;
  readonly file: string;
  /** True when this call made the token (first run). */
  readonly created: boolean;
}

/**
 * Reads the token, or makes one (32 random bytes, base64url). The file is created with mode 0600
 * under a 0700 directory, written to a temporary name and linked into place, so a concurrent first
 * start never sees a half-written token and two starts agree on one token.
 */
export function loadOrCreateToken(dir: string = configDir()): PairingToken {
  const file = tokenPath(dir);
  const existing = readTokenFile(file);
  if (existing !== undefined) return { token: existing, file, created: false };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'w' });
  fs.chmodSync(tmp, 0o600); // the umask cannot widen it, but an existing stale tmp file could have other bits
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const theirs = readTokenFile(file);
    if (theirs === undefined) throw new Error(`${file}: exists but holds no valid token; delete it to make a new one`);
    return { token: theirs, file, created: false };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { token, file, created: true };
}

/** The token in `file`, undefined when there is none; throws when the file holds something else. */
export function readTokenFile(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read the pairing token (${(err as Error).message})`);
  }
  const token = text.trim();
  if (!TOKEN_PATTERN.test(token)) {
    throw new Error(`${file}: not a StyleStudio pairing token (expected 43 base64url characters); delete it to make a new one`);
  }
  if (process.platform !== 'win32') {
    const mode = fs.statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) fs.chmodSync(file, 0o600); // tighten a token others could read
  }
  return token;
}

/**
 * Replaces a secret file atomically: a 0600 temporary file in the same (0700) folder, renamed over the old one,
 * so readers see the old or the new content, never a mix, and never a file others could read.
 */
export function writeSecretFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
