/**
 * `stylestudio token`: shows the pairing token and manages paired panels. Works whether or not `serve` runs:
 * the daemon re-reads the files, so a rotated token or a revoked panel takes effect at the next hello
 * (and a revoked panel's open connection closes within one heartbeat, 30 s).
 */
import type { Command } from 'commander';
import { Credentials } from '../server/credentials';
import { configDir, loadOrCreateToken } from '../server/token';

interface TokenFlags {
  rotate?: boolean;
  list?: boolean;
  revoke?: string;
}

export function runTokenCommand(flags: TokenFlags, dir: string = configDir(), out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  const chosen = [flags.rotate, flags.list, flags.revoke !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new Error('token: give at most one of --rotate, --list, --revoke ID');
  const pairing = loadOrCreateToken(dir);
  const credentials = new Credentials(pairing.token, dir);
  if (flags.rotate) {
    const token = credentials.rotate();
    out(`new token  ${token}`);
    out(`           every paired panel was unpaired; paste the new token into each (kept in ${pairing.file})`);
    return;
  }
  if (flags.revoke !== undefined) {
    if (!credentials.revoke(flags.revoke)) throw new Error(`token: no paired panel has the id ${JSON.stringify(flags.revoke)} (see stylestudio token --list)`);
    out(`unpaired ${flags.revoke}; it must be paired again with the token`);
    return;
  }
  if (flags.list) {
    const panels = credentials.list();
    if (panels.length === 0) out('no paired panels');
    for (const p of panels) out(`${p.id}  ${p.name} ${p.version}  paired ${p.pairedAt}  last seen ${p.lastSeen}`);
    return;
  }
  out(`token  ${pairing.token}`);
  out(`       kept in ${pairing.file}; --list shows paired panels, --revoke ID unpairs one, --rotate makes a new token`);
}

export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('show the pairing token; list, revoke or (with --rotate) unpair all paired panels')
    .option('--rotate', 'make a new token; every paired panel must be paired again')
    .option('--list', 'list the paired panels')
    .option('--revoke <id>', 'unpair one panel (ids from --list)')
    .action((flags: TokenFlags) => runTokenCommand(flags));
}
