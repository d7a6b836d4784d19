/**
 * SyntheticTestEngine: a GenerationEngine for SERVER tests only. It exercises the daemon (queue,
 * progress, previews, cancel, results, failures) without any model: a worker thread spends
 * `stepMs` of real CPU per step and draws a seed-determined image. It is not a pipeline.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  GenerationAborted, type EngineStatus, type GeneratedImage, type GenerationEngine, type GenerationHooks, type GenerationRequest,
} from '../../companion/engine/engine';
import type { RunCommand, WorkerEvent } from './synthetic-engine-worker';

export interface SyntheticEngineOptions {
  /** CPU milliseconds per step in the worker. */
  readonly stepMs: number;
  /** A preview every this many steps. */
  readonly previewEvery: number;
  /** Requests whose prompt equals this fail inside the worker after 2 steps. */
  readonly failPrompt: string;
}

export const SYNTHETIC_FAIL_PROMPT = '!synthetic-engine-fail';

export class SyntheticTestEngine implements GenerationEngine {
  private readonly worker: Worker;
  private readonly options: SyntheticEngineOptions;
  private busy = false;

  constructor(options: Partial<SyntheticEngineOptions> = {}) {
    this.options = { stepMs: 5, previewEvery: 2, failPrompt: SYNTHETIC_FAIL_PROMPT, ...options };
    this.worker = new Worker(path.join(__dirname, 'synthetic-engine-worker.js'));
    this.worker.unref();
  }

  status(): EngineStatus {
    return { ready: true, provider: 'synthetic-test', providers: ['synthetic-test'] };
  }

  async *generate(request: GenerationRequest, hooks: GenerationHooks): AsyncIterable<GeneratedImage> {
    if (this.busy) throw new Error('SyntheticTestEngine runs one request at a time');
    this.busy = true;
    const abortFlag = new SharedArrayBuffer(4);
    const onAbort = (): void => {
      Atomics.store(new Int32Array(abortFlag), 0, 1);
    };
    hooks.signal.addEventListener('abort', onAbort);
    const pending: WorkerEvent[] = [];
    let wake: (() => void) | null = null;
    let workerDone = false;
    let onWorkerDone: (() => void) | null = null;
    const onMessage = (e: WorkerEvent): void => {
      pending.push(e);
      if (e.type === 'end' || e.type === 'aborted' || e.type === 'failed') {
        workerDone = true;
        onWorkerDone?.();
      }
      wake?.();
    };
    this.worker.on('message', onMessage);
    try {
      const cmd: RunCommand = {
        type: 'run', width: request.width, height: request.height, steps: request.steps, seeds: request.seeds,
        stepMs: this.options.stepMs, previewEvery: this.options.previewEvery, previewSide: hooks.previewSide,
        failAfterStep: request.prompt === this.options.failPrompt ? 2 : -1, abortFlag,
      };
      if (hooks.signal.aborted) onAbort();
      this.worker.postMessage(cmd);
      for (;;) {
        while (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const e = pending.shift()!;
        switch (e.type) {
          case 'step':
            hooks.onStep(e.preview ? { variation: e.variation, step: e.step, total: e.total, preview: e.preview } : e);
            break;
          case 'image':
            yield { index: e.index, seed: e.seed, image: { width: request.width, height: request.height, data: e.rgba } };
            break;
          case 'aborted':
            throw new GenerationAborted();
          case 'failed':
            throw new Error(e.message);
          case 'end':
            return;
        }
      }
    } finally {
      // An iteration left early (cancel) still waits for the worker to stop before the next run.
      if (!workerDone) {
        onAbort();
        await new Promise<void>((resolve) => (onWorkerDone = resolve));
      }
      this.worker.off('message', onMessage);
      hooks.signal.removeEventListener('abort', onAbort);
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
