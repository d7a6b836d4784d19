import type { EngineStatus, GeneratedImage, GenerationEngine } from './engine';

/**
 * The engine `serve` uses while no pipeline can run: it answers every status truthfully and refuses
 * jobs, so the daemon still starts, pairs and serves downloads (issue 6.1).
 */
export class UnavailableEngine implements GenerationEngine {
  constructor(private readonly why: Omit<EngineStatus, 'ready'>) {}

  status(): EngineStatus {
    return { ...this.why, ready: false };
  }

  // eslint-disable-next-line require-yield
  async *generate(): AsyncIterable<GeneratedImage> {
    throw new Error(this.why.reason ?? 'the engine is not available');
  }

  async close(): Promise<void> {}
}
