/** `stylestudio doctor`: what this machine needs for the companion, one ok/warn/fail line each. */
import type { Command } from 'commander';
import { DEFAULT_PORT } from '../../protocol';
import { modelsCacheDir } from '../weights/hub-layout';
import {
  checkCuda, checkGpuMemory, checkGpuSelfTests, type GpuSelfCheck, checkMemory, checkModels, checkNode, checkOnnxRuntime, checkPort, checkProviders, checkToken,
  formatResult, type CheckResult, type ProviderProbe,
} from '../doctor/checks';

/** Tries each execution provider with a real session (supplied by companion/onnx). */
export type ProviderProber = () => Promise<ProviderProbe[]>;

/**
 * `doctor --gpu`: the provider self-check (onnx/self-check.ts) of every GPU provider onnxruntime-node offers here,
 * default lowering in fp16 and fp32, run afresh (the cache is refreshed).
 */
export async function gpuSelfChecks(): Promise<GpuSelfCheck[]> {
  const { verifyProvider } = await import('../onnx/self-check');
  const { listedProviders } = await import('../onnx/providers');
  const { loweringFor, EXECUTION_PROVIDERS } = await import('../onnx/lowering');
  const listed = listedProviders();
  const out: GpuSelfCheck[] = [];
  for (const provider of EXECUTION_PROVIDERS) {
    if (provider === 'cpu' || !listed.includes(provider)) continue;
    for (const precision of ['fp16', 'fp32'] as const) {
      out.push(await verifyProvider(provider, loweringFor(provider, precision), { force: true }));
    }
  }
  return out;
}

export async function runDoctor(options: { port: number; models?: string | undefined; gpu?: boolean }, probeProviders?: ProviderProber): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkNode(), checkOnnxRuntime()];
  results.push(...checkProviders(probeProviders ? await probeProviders() : undefined));
  if (options.gpu === true) results.push(...checkGpuSelfTests(await gpuSelfChecks()));
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
    .option('--gpu', 'run the GPU self-check: a tiny network on each GPU provider against the CPU')
    .action(async (opts: { port: string; models?: string; gpu?: boolean }) => {
      const results = await runDoctor({ port: Number(opts.port), models: opts.models, gpu: opts.gpu === true }, probeProviders);
      for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
      const fails = results.filter((r) => r.status === 'fail').length;
      const warns = results.filter((r) => r.status === 'warn').length;
      process.stdout.write(`${fails} failed, ${warns} warnings, ${results.length - fails - warns} ok\n`);
      if (fails > 0) process.exitCode = 1;
    });
}
