/** `stylestudio doctor`: what this machine needs for the companion, one ok/warn/fail line each. */
import type { Command } from 'commander';
import { DEFAULT_PORT } from '../../protocol';
import { modelsCacheDir } from '../weights/hub-layout';
import {
  checkCuda, checkGpuMemory, checkMemory, checkModels, checkNode, checkOnnxRuntime, checkPort, checkProviders, checkToken,
  formatResult, type CheckResult, type ProviderProbe,
} from './checks';

/** Tries each execution provider with a real session (supplied by companion/onnx). */
export type ProviderProber = () => Promise<ProviderProbe[]>;

export async function runDoctor(options: { port: number; models?: string | undefined }, probeProviders?: ProviderProber): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkNode(), checkOnnxRuntime()];
  results.push(...checkProviders(probeProviders ? await probeProviders() : undefined));
  results.push(...checkCuda());
  results.push(checkMemory());
  const gpu = checkGpuMemory();
  if (gpu) results.push(gpu);
  results.push(...checkModels(modelsCacheDir(options.models)));
  results.push(await checkPort(options.port));
  results.push(checkToken());
  return results;
}

export function registerDoctorCommand(program: Command, probeProviders?: ProviderProber): void {
  program
    .command('doctor')
    .description('check Node, onnxruntime, GPU libraries, memory, models, port and pairing token')
    .option('--port <n>', 'port serve would use', String(DEFAULT_PORT))
    .option('--models <dir>', 'hub cache folder')
    .action(async (opts: { port: string; models?: string }) => {
      const results = await runDoctor({ port: Number(opts.port), models: opts.models }, probeProviders);
      for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
      const fails = results.filter((r) => r.status === 'fail').length;
      const warns = results.filter((r) => r.status === 'warn').length;
      process.stdout.write(`${fails} failed, ${warns} warnings, ${results.length - fails - warns} ok\n`);
      if (fails > 0) process.exitCode = 1;
    });
}
