/** `stylestudio serve` (npm start): the daemon the Photoshop panel connects to. */
import * as path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PORT, PROTOCOL_VERSION, type ModelInfo } from '../../protocol';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../onnx/lowering';
import { createEngine, type EngineFactory } from '../engine/engine-factory';
import { parseBudget } from '../runtime/memory';
import { hubEndpoint, modelsCacheDir } from '../weights/hub-layout';
import { modelStatuses, pullModels, type ModelStatus } from '../weights/model-catalog';
import { formatGB } from '../weights/model-catalog';
import { resolveModelSource } from '../weights/model-source';
import { neededDefaultModels } from '../runtime/model-paths';
import { modelRoots, scanModelRoot } from '../weights/model-roots';
import { ServeModelSets } from './serve-model-sets';
import { servePresets } from './serve-presets';
import { ProgressLine } from '../weights/progress-line';
import { companionVersion } from '../server/companion-version';
import { resolveServerOptions } from '../server/options';
import { StyleStudioServer, type ModelService } from '../server/server';
import { configDir, loadOrCreateToken } from '../server/token';

interface ServeFlags {
  port: string;
  host: string;
  models?: string;
  allowOrigin: string[];
  maxQueue?: string;
  provider: string;
  memoryBudget?: string;
  checkpoint?: string;
  modelConfig?: string;
  modelRoot: string[];
}

const PROVIDER_CHOICES = ['auto', ...EXECUTION_PROVIDERS] as const;

function parseProvider(text: string): ExecutionProvider | 'auto' {
  if (!(PROVIDER_CHOICES as readonly string[]).includes(text)) {
    throw new Error(`--provider must be one of ${PROVIDER_CHOICES.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as ExecutionProvider | 'auto';
}

function toModelInfo(s: ModelStatus): ModelInfo {
  return { id: s.spec.id, description: s.spec.description, repo: s.spec.repo, present: s.present, missingBytes: s.missingBytes };
}

/**
 * `--model-root` folders must exist (a typo is an error); a STYLESTUDIO_MODEL_ROOTS entry that does not is skipped with
 * a warning, so a stale environment variable never keeps the daemon from starting.
 */
function serveModelRoots(flags: readonly string[]): string[] {
  const roots = modelRoots(flags, '');
  for (const root of roots) scanModelRoot(root); // neither a ComfyUI nor an A1111 folder: MODEL_ROOT_INVALID
  for (const dir of (process.env.STYLESTUDIO_MODEL_ROOTS ?? '').split(path.delimiter).filter((d) => d !== '')) {
    try {
      for (const root of modelRoots([], dir)) {
        scanModelRoot(root);
        if (!roots.includes(root)) roots.push(root);
      }
    } catch (e) {
      process.stderr.write(`stylestudio: ignoring STYLESTUDIO_MODEL_ROOTS entry: ${(e as Error).message}\n`);
    }
  }
  return roots;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new Error(`--port must be an integer 0…65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

export async function serve(flags: ServeFlags, engineFactory: EngineFactory = createEngine): Promise<StyleStudioServer> {
  const cacheDir = modelsCacheDir(flags.models);
  const provider = parseProvider(flags.provider);
  const dir = configDir();
  const pairing = loadOrCreateToken(dir);
  const maxQueue = flags.maxQueue === undefined ? undefined : Number(flags.maxQueue);
  const options = resolveServerOptions({
    token: pairing.token, configDir: dir, companionVersion: companionVersion(), host: flags.host as '127.0.0.1', port: parsePort(flags.port),
    allowedOrigins: flags.allowOrigin, limits: { maxQueue, maxJobsPerClient: maxQueue === undefined ? undefined : Math.min(maxQueue, 16) },
  });
  const memoryBudget = flags.memoryBudget === undefined ? undefined : parseBudget(flags.memoryBudget);
  // --model-config also serves the checkpoints the panel picks, so it is valid without --checkpoint here
  const initial = flags.checkpoint === undefined ? undefined : resolveModelSource(flags, { cacheDir });
  const sets = new ServeModelSets(cacheDir, serveModelRoots(flags.modelRoot), flags.modelConfig, initial);
  const context = { cacheDir, provider, ...(memoryBudget !== undefined ? { memoryBudget } : {}) };
  // every engine is built for the current model set (the default set, or a checkpoint chosen with --checkpoint or the panel)
  const engineForCurrentSet = () => engineFactory({ models: modelStatuses(cacheDir), ...context, ...(sets.source !== undefined ? { model: sets.source } : {}) });
  const engine = engineForCurrentSet();
  const terminal = new ProgressLine();
  // with a checkpoint the panel is offered only what this serve needs (not sdxl-base, nor a VAE the checkpoint has)
  const needed = (): ModelStatus[] => neededDefaultModels(modelStatuses(cacheDir), sets.source);
  const models: ModelService = {
    list: () => needed().map(toModelInfo),
    sets: () => sets.list(),
    select: (id) => {
      sets.select(id);
      return engineForCurrentSet();
    },
    pull: async (onProgress, signal) => {
      const statuses = await pullModels({
        cacheDir, endpoint: hubEndpoint(), token: process.env.HF_TOKEN, signal,
        onProgress: (model, file, receivedBytes, totalBytes) => {
          terminal.update(model, file, receivedBytes, totalBytes);
          onProgress({ model, file, receivedBytes, totalBytes });
        },
      }, needed().map((m) => m.spec));
      terminal.end();
      return statuses.map(toModelInfo);
    },
  };
  const server = new StyleStudioServer(options, engine, models, (s) => {
    s.setEngine(engineForCurrentSet());
    process.stdout.write(`models downloaded; engine: ${describeEngine(s)}\n`);
  }, servePresets(dir));
  await server.listen();

  const status = engine.status();
  const statuses = needed();
  const missing = statuses.filter((m) => !m.present);
  const out = [
    `StyleStudio companion ${options.companionVersion} (protocol ${PROTOCOL_VERSION})`,
    `  listening  ${server.url}`,
    `  token      ${pairing.token}`,
    `             paste it once in the panel; kept in ${pairing.file}${pairing.created ? ' (new)' : ''}`,
    '             `stylestudio token --list | --revoke ID | --rotate` manages paired panels',
    `  provider   ${status.provider} (available: ${status.providers.join(', ')})`,
    ...(sets.source !== undefined ? [`  checkpoint ${sets.source.model} (in place of sdxl-base)`] : []),
    `  models     ${cacheDir}`,
    ...statuses.map((m) => `             ${m.present ? 'present' : 'missing'}  ${m.spec.id}${m.present ? '' : ` (about ${formatGB(m.missingBytes)})`}`),
    ...(missing.length > 0 ? ['             get the missing ones with `stylestudio models pull` or the panel\'s Download button'] : []),
    `  engine     ${describeEngine(server)}`,
    '  stop with Ctrl+C',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return server;
}

function describeEngine(server: StyleStudioServer): string {
  const status = server.engineStatus();
  return status.ready ? `ready on ${status.provider}` : `not ready: ${status.reason ?? 'unknown reason'}`;
}

export function registerServeCommand(program: Command, engineFactory: EngineFactory = createEngine): void {
  program
    .command('serve')
    .description('run the companion daemon for the Photoshop panel (127.0.0.1 only)')
    .option('--port <n>', 'TCP port on 127.0.0.1', String(DEFAULT_PORT))
    .option('--host <addr>', 'loopback address to bind: 127.0.0.1 or ::1', '127.0.0.1')
    .option('--models <dir>', 'hub cache folder to use instead of HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub')
    .option('--allow-origin <origin>', 'also accept this exact web Origin (repeatable; e.g. a test page)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-queue <n>', 'most jobs waiting or running')
    .option('--provider <name>', `execution provider: ${PROVIDER_CHOICES.join(', ')} (auto = the first GPU provider that runs here, else cpu)`, 'auto')
    .option('--memory-budget <size>', 'memory the engine may keep resident, e.g. 12GiB (default: 60% of RAM on the CPU, 8 GiB on a GPU)')
    .option('--checkpoint <file|name>', 'single-file SDXL checkpoint (.safetensors, or its name under --model-root) in place of sdxl-base')
    .option('--model-config <dir|sdxl-base>', 'configs for --checkpoint and the checkpoints picked in the panel: a diffusers folder, or the built-in sdxl-base (default)')
    .option('--model-root <dir>', 'ComfyUI or AUTOMATIC1111 folder to find --checkpoint NAME in (repeatable; adds to STYLESTUDIO_MODEL_ROOTS)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (flags: ServeFlags) => {
      const server = await serve(flags, engineFactory);
      const stop = (): void => {
        process.stdout.write('stopping…\n');
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
