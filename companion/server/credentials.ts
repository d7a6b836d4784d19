/**
 * Who may pair: the install token (pasted once into a panel) and the panels paired with it. A hello with
 * the install token registers the panel and hands it its own panel token; the panel keeps that one, so a
 * panel can be listed and revoked on its own (`stylestudio token --list | --revoke ID`), and rotating the
 * install token (`--rotate`) revokes every panel. Only SHA-256 hashes of panel tokens are stored.
 *
 * With a config directory the state lives in files (`token`, `panels.json`, mode 0600) that the CLI may
 * change while the daemon runs: the daemon re-reads them when their mtime changes. Without one (tests)
 * it lives in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tokensEqual } from './auth';
import { readTokenFile, tokenPath, writeSecretFile } from './token';

export interface PanelRecord {
  /** Short public id, e.g. "p-3f9a1c2b"; what `--revoke` takes. */
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly pairedAt: string;
  lastSeen: string;
  /** sha256(panel token), hex. */
  readonly tokenHash: string;
}

export type PairingVerdict =
  | { readonly ok: true; readonly panelId: string; /** Set when this hello used the install token: the panel's new token. */ readonly panelToken?: string }
  | { readonly ok: false };

/** Panels paired at most; pairing one more drops the one seen longest ago. */
export const MAX_PANELS = 32;
const PANEL_TOKEN_PREFIX = 'p.';
const PANEL_TOKEN_PATTERN = /^p\.[A-Za-z0-9_-]{43}$/;

function hashOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function panelsPath(dir: string): string {
  return path.join(dir, 'panels.json');
}

export class Credentials {
  private installToken: string;
  private panels: PanelRecord[] = [];
  private tokenMtime = 0;
  private panelsMtime = -1;

  /** `dir` undefined: in memory only, with `token` as the install token. */
  constructor(token: string, private readonly dir?: string) {
    this.installToken = token;
    if (dir) this.reload();
  }

  /** Checks a hello's token: the install token (registers a panel) or a panel token. */
  pair(token: string, client: { name: string; version: string } | undefined, now: Date = new Date()): PairingVerdict {
    this.reload();
    if (PANEL_TOKEN_PATTERN.test(token)) {
      const hash = hashOf(token);
      const panel = this.panels.find((p) => tokensEqual(p.tokenHash, hash));
      if (!panel) return { ok: false };
      panel.lastSeen = now.toISOString();
      this.save();
      return { ok: true, panelId: panel.id };
    }
    if (!tokensEqual(token, this.installToken)) return { ok: false };
    const panelToken = PANEL_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record: PanelRecord = {
      id: `p-${randomBytes(4).toString('hex')}`,
      name: (client?.name ?? 'unnamed panel').slice(0, 64),
      version: (client?.version ?? '').slice(0, 64),
      pairedAt: now.toISOString(),
      lastSeen: now.toISOString(),
      tokenHash: hashOf(panelToken),
    };
    this.panels.push(record);
    while (this.panels.length > MAX_PANELS) {
      const oldest = this.panels.reduce((a, b) => (a.lastSeen <= b.lastSeen ? a : b));
      this.panels = this.panels.filter((p) => p !== oldest);
    }
    this.save();
    return { ok: true, panelId: record.id, panelToken };
  }

  /** Whether a panel id is still registered (a revoked panel's connection is closed at the next heartbeat). */
  isPaired(panelId: string): boolean {
    this.reload();
    return this.panels.some((p) => p.id === panelId);
  }

  list(): ReadonlyArray<Omit<PanelRecord, 'tokenHash'>> {
    this.reload();
    return this.panels.map(({ tokenHash: _hash, ...rest }) => rest);
  }

  /** Removes one panel; false when no panel has that id. */
  revoke(panelId: string): boolean {
    this.reload();
    const before = this.panels.length;
    this.panels = this.panels.filter((p) => p.id !== panelId);
    if (this.panels.length === before) return false;
    this.save();
    return true;
  }

  /** A new install token; every paired panel is revoked. Returns the new token. */
  rotate(): string {
    this.installToken = randomBytes(32).toString('base64url');
    this.panels = [];
    if (this.dir) {
      writeSecretFile(tokenPath(this.dir), `${this.installToken}\n`);
      this.tokenMtime = mtimeOf(tokenPath(this.dir));
    }
    this.save();
    return this.installToken;
  }

  get token(): string {
    this.reload();
    return this.installToken;
  }

  private reload(): void {
    if (!this.dir) return;
    const tokenFile = tokenPath(this.dir);
    const tm = mtimeOf(tokenFile);
    if (tm !== this.tokenMtime && tm > 0) {
      const token = readTokenFile(tokenFile);
      if (token !== undefined) this.installToken = token;
      this.tokenMtime = tm;
    }
    const file = panelsPath(this.dir);
    const pm = mtimeOf(file);
    if (pm === this.panelsMtime) return;
    this.panelsMtime = pm;
    this.panels = pm === 0 ? [] : parsePanels(file);
  }

  private save(): void {
    if (!this.dir) return;
    const file = panelsPath(this.dir);
    writeSecretFile(file, `${JSON.stringify({ panels: this.panels }, null, 1)}\n`);
    this.panelsMtime = mtimeOf(file);
  }
}

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs || 1;
  } catch {
    return 0;
  }
}

/** A damaged panels.json pairs nobody (panels re-pair with the install token) rather than failing the daemon. */
function parsePanels(file: string): PanelRecord[] {
  try {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { panels?: unknown };
    if (!Array.isArray(raw.panels)) return [];
    return raw.panels.filter((p): p is PanelRecord =>
      typeof p === 'object' && p !== null &&
      typeof (p as PanelRecord).id === 'string' && typeof (p as PanelRecord).tokenHash === 'string' &&
      /^[0-9a-f]{64}$/.test((p as PanelRecord).tokenHash) && typeof (p as PanelRecord).lastSeen === 'string' &&
      typeof (p as PanelRecord).name === 'string' && typeof (p as PanelRecord).version === 'string' &&
      typeof (p as PanelRecord).pairedAt === 'string').slice(0, MAX_PANELS);
  } catch {
    return [];
  }
}
