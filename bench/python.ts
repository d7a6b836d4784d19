/**
 * The Python reference side of the benchmarks: which interpreter has torch + diffusers, and running the scripts
 * in tools/bench/. Never needed at run time; when no such Python exists the benchmark says so and goes on.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TOOLS_DIR = path.resolve(__dirname, '..', '..', 'tools', 'bench');

export interface PythonInfo {
  readonly exe: string;
  readonly torch: string;
  readonly diffusers: string;
}

const PROBE = 'import json, torch, diffusers, safetensors, numpy; print(json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__}))';

/** STYLESTUDIO_PYTHON, then the project's reference venvs, then python3 on PATH: the first with torch + diffusers. */
export function findPython(): PythonInfo | { readonly missing: string } {
  const fromEnv = process.env['STYLESTUDIO_PYTHON'];
  const candidates = fromEnv ? [fromEnv] : [path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python'), '/work/venv/bin/python', 'python3'];
  const tried: string[] = [];
  for (const exe of candidates) {
    if (exe.includes('/') && !fs.existsSync(exe)) {
      tried.push(`${exe}: not found`);
      continue;
    }
    const r = spawnSync(exe, ['-c', PROBE], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      const v = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; diffusers: string };
      return { exe, ...v };
    }
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${exe}: ${why}`);
  }
  return { missing: `no Python with torch + diffusers (${tried.join('; ')}); set STYLESTUDIO_PYTHON` };
}

/** Runs tools/bench/<script> and returns its last stdout line parsed as JSON; throws with stderr's tail. */
export function runPythonScript<T>(python: string, script: string, args: readonly string[], timeoutMs = 3_600_000): T {
  const file = path.join(TOOLS_DIR, script);
  const r = spawnSync(python, [file, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const tail = (r.stderr || '').trim().split('\n').slice(-6).join('\n');
    throw new Error(`${script} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}
