/**
 * The real daemon (StyleStudioServer, as `serve` runs it) in its own process, with the
 * SyntheticTestEngine instead of a model. Options come as JSON in argv[2]; prints
 * "LISTENING <port>" once bound. SIGTERM closes it cleanly.
 */
import { PROTOCOL_VERSION, type Limits, type ModelInfo } from '../../protocol';
import { resolveServerOptions } from '../../companion/server/options';
import { StyleStudioServer, type ModelService } from '../../companion/server/server';
import { SyntheticTestEngine } from './synthetic-engine';

export interface TestDaemonConfig {
  readonly token: string;
  readonly stepMs?: number;
  readonly limits?: Partial<Limits>;
  readonly helloTimeoutMs?: number;
  readonly pairing?: { baseMs: number; maxMs: number; windowMs: number };
  readonly maxConnections?: number;
  readonly maxUnpaired?: number;
  readonly preAuthMaxBytes?: number;
  /** Keep the token and paired panels in files here (as `serve` does) instead of in memory. */
  readonly configDir?: string;
  /** Exact web Origins to accept (e.g. the page of a browser end-to-end test). */
  readonly allowedOrigins?: string[];
  readonly maxBufferedBytes?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as TestDaemonConfig;
const engine = new SyntheticTestEngine({ stepMs: config.stepMs ?? 5 });
const models: ModelService = {
  list: (): ModelInfo[] => [{ id: 'synthetic', description: 'no model: SyntheticTestEngine', repo: 'none', present: true, missingBytes: 0 }],
  pull: async () => models.list(),
};
const server = new StyleStudioServer(
  resolveServerOptions({
    token: config.token, companionVersion: `test-${PROTOCOL_VERSION}`, port: 0, limits: config.limits,
    helloTimeoutMs: config.helloTimeoutMs, pairing: config.pairing, maxConnections: config.maxConnections,
    maxUnpaired: config.maxUnpaired, preAuthMaxBytes: config.preAuthMaxBytes, configDir: config.configDir,
    allowedOrigins: config.allowedOrigins, maxBufferedBytes: config.maxBufferedBytes,
  }),
  engine,
  models,
);
server.listen().then(
  () => process.stdout.write(`LISTENING ${server.port}\n`),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0)); // close() also closes the engine
});
