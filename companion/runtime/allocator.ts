/**
 * Freed session memory must go back to the operating system, or a released UNet keeps its ~10 GB resident.
 * glibc's malloc raises its mmap threshold dynamically after large frees, after which big buffers come from arenas
 * that are never returned; a fixed threshold keeps every allocation ≥ 1 MiB in its own mapping, unmapped on free
 * (measured: RSS falls back to ~0.2 GiB after a released SDXL-size session instead of staying at ~15 GiB). glibc
 * reads the setting only at process start, so the companion re-runs itself once with it set. Other C libraries
 * (macOS, Windows, musl) return large blocks on their own and are left alone.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const MMAP_THRESHOLD_BYTES = 1024 * 1024;
const MARK = 'STYLESTUDIO_ALLOCATOR';

/** Whether this process must re-run itself for the allocator setting to take effect. */
export function needsAllocatorRestart(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform !== 'linux') return false;
  if (env[MARK] !== undefined) return false; // already re-run, or switched off with STYLESTUDIO_ALLOCATOR=system
  if (env['MALLOC_MMAP_THRESHOLD_'] !== undefined) return false; // the user chose one
  // musl (Alpine) has no such tunable and returns memory itself
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime !== undefined;
}

/**
 * Re-runs this process with the allocator setting and resolves with its exit code; signals are passed on, stdio is
 * shared, so the child is the program as far as the user can tell.
 */
export function rerunWithAllocator(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    // the IPC channel only tells the child when this process dies (even by SIGKILL): see exitWithParent()
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [MARK]: 'glibc-mmap', MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES) },
  });
  const forward = (signal: NodeJS.Signals) => () => { child.kill(signal); };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward(s));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      if (code !== null) return resolve(code);
      // ended by a signal (a crash, or one it did not handle): say which, and exit as a shell reports it
      process.stderr.write(`stylestudio: the companion process ended by ${signal ?? 'an unknown signal'}\n`);
      resolve(signal !== null ? 128 + (constants.signals[signal] ?? 0) : 1);
    });
    child.on('error', () => resolve(1));
  });
}

/** In the re-run process: end when the parent that started it is gone, so no orphan keeps a port or memory. */
export function exitWithParent(): void {
  if (process.env[MARK] === undefined || process.channel === undefined) return;
  process.channel.unref();
  process.on('disconnect', () => process.exit(1));
}
