/**
 * Runs queued jobs one at a time through the GenerationEngine and reports to the owning
 * connection. Cancelling a waiting job removes it; cancelling the running one aborts its signal,
 * and the engine stops at the next step. Every accepted job ends with one `done` or one `error`.
 */
import { CodedError, FrameKind, type ErrorCode, type ServerMessage } from '../../protocol';
import { GenerationAborted, type GenerationEngine, type GenerationRequest, type RgbaImage, type StepEvent } from '../engine/engine';
import { JobQueue } from './queue';

/** Where a job's messages go: its connection, which may have gone away. */
export interface JobSink {
  readonly connected: boolean;
  send(message: ServerMessage): void;
  /** Sends `announce(transferId)` as JSON, then the image as binary frames under that fresh transfer id. */
  sendImage(kind: FrameKind, image: RgbaImage, announce: (transferId: number) => ServerMessage): void;
}

export interface Job {
  readonly id: string;
  readonly clientId: number;
  readonly requestId: string;
  /** Replaced by its reduced form (engine.reduceImages) while the job waits. */
  request: GenerationRequest;
  /** Settles when the reduction has run (or was not needed); its failure, if any, in `reduceError`. */
  reduced?: Promise<void>;
  reduceError?: unknown;
  readonly sink: JobSink;
  readonly abort: AbortController;
  step: number;
  readonly total: number;
}

export class JobRunner {
  private active: Promise<void> | null = null;
  private stopping = false;
  /** Reductions run one at a time, so at most one upload-sized image is being worked on. */
  private reductions: Promise<void> = Promise.resolve();

  constructor(
    readonly queue: JobQueue<Job>,
    private readonly engine: () => GenerationEngine,
    private readonly previewSide: number,
  ) {}

  /**
   * Queues a job (the caller checked `queue.admit`); `accepted` runs with its position before the
   * job can start, so `accepted` always precedes the job's progress.
   */
  submit(job: Job, accepted: (position: number) => void): void {
    accepted(this.queue.add(job));
    this.reduce(job);
    this.pump();
  }

  /** Queues the job's reference images for reduction to what the encoders read (engine.reduceImages). */
  private reduce(job: Job): void {
    const engine = this.engine();
    if (engine.reduceImages === undefined || (job.request.style === undefined && job.request.init === undefined)) return; // a mask comes with an init
    const reduceImages = engine.reduceImages.bind(engine);
    job.reduced = this.reductions = this.reductions.then(async () => {
      if (job.abort.signal.aborted) return;
      try {
        job.request = await reduceImages(job.request);
      } catch (e) {
        job.reduceError = e;
      }
    });
  }

  /** Cancels one of this client's jobs; false when it has no such job. */
  cancel(clientId: number, jobId: string): boolean {
    const job = this.queue.find(jobId);
    if (!job || job.clientId !== clientId) return false;
    if (this.queue.removeWaiting(jobId)) {
      job.abort.abort();
      job.sink.send({ type: 'done', jobId, outcome: 'cancelled' });
    } else {
      job.abort.abort(); // running: `run` sends `done cancelled` once the engine has stopped
    }
    return true;
  }

  /** A connection closed: its jobs go silently. */
  dropClient(clientId: number): void {
    for (const job of this.queue.jobsOf(clientId)) {
      this.queue.removeWaiting(job.id);
      job.abort.abort();
    }
  }

  /** Resolves when the job running now (if any) has ended. */
  async idle(): Promise<void> {
    await this.active;
  }

  /** Ends waiting jobs with SHUTTING_DOWN, stops the running one and waits for it. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const job of [...this.queue.waitingJobs()]) {
      this.queue.removeWaiting(job.id);
      job.abort.abort(); // its image reduction, if not started yet, is skipped
      job.sink.send({ type: 'error', code: 'SHUTTING_DOWN', message: 'the companion is stopping', jobId: job.id });
    }
    this.queue.running?.abort.abort();
    await this.active;
  }

  private pump(): void {
    if (this.active || this.stopping) return;
    const job = this.queue.startNext();
    if (!job) return;
    this.active = this.run(job).finally(() => {
      this.queue.finish(job.id);
      this.active = null;
      setImmediate(() => this.pump());
    });
  }

  private async run(job: Job): Promise<void> {
    const { signal } = job.abort;
    const end = (message: ServerMessage): void => {
      if (job.sink.connected) job.sink.send(message);
    };
    const fail = (code: ErrorCode, message: string): void => end({ type: 'error', code, message, jobId: job.id });
    await job.reduced;
    if (signal.aborted) return end({ type: 'done', jobId: job.id, outcome: 'cancelled' });
    if (job.reduceError !== undefined) {
      const e = job.reduceError;
      return fail(e instanceof CodedError && e.code === 'BAD_IMAGE' ? 'BAD_IMAGE' : 'ENGINE_FAILED', `${imagesOf(job.request)} cannot be used: ${e instanceof Error ? e.message : String(e)}`);
    }
    const produced = new Set<number>();
    try {
      const images = this.engine().generate(job.request, {
        signal,
        previewSide: this.previewSide,
        onStep: (event) => this.onStep(job, event),
        onStage: (stage) => {
          if (!signal.aborted && job.sink.connected) job.sink.send({ type: 'progress', jobId: job.id, step: job.step, total: job.total, variation: 0, stage });
        },
      });
      for await (const out of images) {
        if (signal.aborted) break;
        const { width, height, data: rgba } = out.image;
        const expectedSeed = job.request.seeds[out.index];
        if (expectedSeed === undefined || produced.has(out.index) || out.seed !== expectedSeed ||
          width !== job.request.width || height !== job.request.height || rgba.length !== width * height * 4) {
          return fail('ENGINE_FAILED', `the engine returned an inconsistent result (index ${out.index}, ${width}×${height})`);
        }
        produced.add(out.index);
        if (!job.sink.connected) continue;
        job.sink.sendImage(FrameKind.result, out.image, (transferId) => (
          { type: 'result', jobId: job.id, index: out.index, seed: out.seed, width, height, transferId }));
      }
      if (signal.aborted) return end({ type: 'done', jobId: job.id, outcome: 'cancelled' });
      if (produced.size !== job.request.seeds.length) {
        return fail('ENGINE_FAILED', `the engine returned ${produced.size} of ${job.request.seeds.length} images`);
      }
      end({ type: 'done', jobId: job.id, outcome: 'completed' });
    } catch (err) {
      if (signal.aborted || err instanceof GenerationAborted) return end({ type: 'done', jobId: job.id, outcome: 'cancelled' });
      // The engine's own code (BAD_IMAGE, MEMORY_BUDGET, SESSION_FAILED, ...) travels in the message for the user and logs.
      fail('ENGINE_FAILED', `generation failed${err instanceof CodedError ? ` [${err.code}]` : ''}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onStep(job: Job, event: StepEvent): void {
    job.step = event.step;
    if (job.abort.signal.aborted || !job.sink.connected) return;
    const base = { type: 'progress', jobId: job.id, step: event.step, total: job.total, variation: event.variation } as const;
    const p = event.preview;
    if (p && p.width >= 1 && p.height >= 1 && Math.max(p.width, p.height) <= this.previewSide && p.data.length === p.width * p.height * 4) {
      job.sink.sendImage(FrameKind.preview, p, (transferId) => ({ ...base, preview: { transferId, width: p.width, height: p.height } }));
    } else {
      job.sink.send(base);
    }
  }
}

/** Names a request's images for a reduction failure (the underlying message says which one failed). */
function imagesOf(r: GenerationRequest): string {
  if (r.init === undefined) return 'the style image';
  return r.style === undefined ? 'the init image' : 'the style or the init image';
}
