/**
 * The panel's jobs and model download as the companion reports them: `accepted` gives a request its job id,
 * `progress`/`result` announce images (handed to `IncomingImages`), and `done` or a job's `error` ends it, exactly
 * once. A lost connection ends everything in flight as failed.
 */
import type { DropSpec, ErrorCode, GenerateInput, ServerMessage } from '../../protocol';
import type { RgbaImage } from '../host/host';
import type { IncomingImages } from './transfers';

export type JobFailureCode = ErrorCode | 'DISCONNECTED' | 'NOT_CONNECTED';

export type JobOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly code: JobFailureCode; readonly message: string };

export interface JobProgress {
  readonly step: number;
  readonly total: number;
  readonly variation: number;
  readonly preview: RgbaImage | null;
  /** Set while the job waits for a network to load ("loading the UNet"); null during the steps. */
  readonly stage: string | null;
}

export interface JobResult {
  readonly index: number;
  readonly seed: number;
  readonly image: RgbaImage;
}

export interface JobEvents {
  accepted?(jobId: string, position: number): void;
  progress?(progress: JobProgress): void;
  /** The image is handed over and forgotten by the client; the receiver owns it. */
  result(result: JobResult): void;
  /** Called exactly once per submitted job. */
  end(outcome: JobOutcome): void;
}

export interface DownloadProgress {
  readonly model: string;
  readonly file: string;
  readonly receivedBytes: number;
  readonly totalBytes: number;
}

export interface DownloadEvents {
  progress(progress: DownloadProgress): void;
  /** Called exactly once: the download finished (the client then reconnects for a fresh `welcome`) or failed. */
  end(outcome: { kind: 'completed' } | { kind: 'failed'; code: JobFailureCode; message: string }): void;
}

export type NegativeStyleInput =
  | { readonly kind: 'none' }
  /** `more`: further negative images (the spec's extraNegativeStyles), one per reference slot in order. */
  | { readonly kind: 'image'; readonly image: RgbaImage; readonly more?: readonly RgbaImage[] }
  | { readonly kind: 'drop'; readonly preset: DropSpec };

export type GenerateSettings = Omit<GenerateInput['params'], 'style' | 'negativeStyle' | 'init' | 'mask' | 'extraStyles' | 'extraNegativeStyles'>;

export interface SubmitRequest {
  readonly params: GenerateSettings;
  readonly style: RgbaImage | null;
  /** More style references with their weights (params.styleWeight is the first one's). */
  readonly extraStyles?: readonly { readonly image: RgbaImage; readonly weight: number }[];
  readonly negativeStyle: NegativeStyleInput;
  /** img2img: the layer to restyle, over the region the results go to (params.denoise says how much changes). */
  readonly init?: RgbaImage;
  /** Inpainting with init: white where the image is redrawn. */
  readonly mask?: RgbaImage;
}

export interface JobHandle {
  readonly requestId: string;
  /** Asks the companion to stop; the job then ends with `cancelled` (or whatever came first). */
  cancel(): void;
}

export interface Job {
  readonly requestId: string;
  readonly events: JobEvents;
  jobId: string | null;
  cancelRequested: boolean;
  ended: boolean;
}

export class JobBook {
  private nextRequest = 1;
  private readonly byRequest = new Map<string, Job>();
  private readonly byId = new Map<string, Job>();
  private download: { requestId: string; events: DownloadEvents } | null = null;

  constructor(
    private readonly images: IncomingImages<Job>,
    /** Sends a control message on the current connection (dropped when there is none). */
    private readonly send: (message: object) => void,
    /** Called after a download completed: the engine was rebuilt, a fresh welcome says whether it is ready. */
    private readonly afterDownload: () => void,
  ) {}

  /** Jobs submitted and not yet ended. */
  get open(): number {
    return this.byRequest.size;
  }

  get downloading(): boolean {
    return this.download !== null;
  }

  newRequestId(): string {
    return `r${this.nextRequest++}`;
  }

  /** A job about to be sent (its uploads may still be on the way). */
  add(events: JobEvents): Job {
    const job: Job = { requestId: this.newRequestId(), events, jobId: null, cancelRequested: false, ended: false };
    this.byRequest.set(job.requestId, job);
    return job;
  }

  handle(job: Job): JobHandle {
    return { requestId: job.requestId, cancel: () => this.cancel(job) };
  }

  startDownload(events: DownloadEvents): string {
    const requestId = this.newRequestId();
    this.download = { requestId, events };
    return requestId;
  }

  /** Handles a message that concerns jobs or the download; false when it is not one of theirs. */
  receive(msg: ServerMessage): boolean {
    switch (msg.type) {
      case 'accepted': {
        const job = this.byRequest.get(msg.requestId);
        if (!job) return true;
        job.jobId = msg.jobId;
        this.byId.set(msg.jobId, job);
        job.events.accepted?.(msg.jobId, msg.position);
        // Before `accepted` there was no job id to cancel; the cancel goes out now.
        if (job.cancelRequested) this.send({ type: 'cancel', jobId: msg.jobId });
        return true;
      }
      case 'progress': {
        const job = this.byId.get(msg.jobId);
        if (!job) return true;
        if (msg.preview) {
          this.images.announce(msg.preview.transferId, { owner: job, kind: 'preview', index: 0, seed: 0, step: msg.step, total: msg.total, variation: msg.variation });
        } else {
          job.events.progress?.({ step: msg.step, total: msg.total, variation: msg.variation, preview: null, stage: msg.stage ?? null });
        }
        return true;
      }
      case 'result': {
        const job = this.byId.get(msg.jobId);
        if (job) this.images.announce(msg.transferId, { owner: job, kind: 'result', index: msg.index, seed: msg.seed, step: 0, total: 0, variation: msg.index });
        return true;
      }
      case 'done': {
        const job = this.byId.get(msg.jobId);
        if (job) this.finish(job, { kind: msg.outcome });
        return true;
      }
      case 'models.progress':
        if (this.download?.requestId === msg.requestId) {
          this.download.events.progress({ model: msg.model, file: msg.file, receivedBytes: msg.receivedBytes, totalBytes: msg.totalBytes });
        }
        return true;
      case 'models.done':
        if (this.download?.requestId === msg.requestId) {
          this.endDownload({ kind: 'completed' });
          this.afterDownload();
        }
        return true;
      case 'error': {
        if (msg.requestId !== undefined && this.download?.requestId === msg.requestId) {
          this.endDownload({ kind: 'failed', code: msg.code, message: msg.message });
          return true;
        }
        const job = (msg.jobId && this.byId.get(msg.jobId)) || (msg.requestId && this.byRequest.get(msg.requestId)) || null;
        if (!job) return false;
        this.finish(job, { kind: 'failed', code: msg.code, message: msg.message });
        return true;
      }
      default:
        return false; // status, pong, panels: not a job's
    }
  }

  /** An image finished arriving for its announcement. */
  delivered(note: { owner: Job; kind: 'result' | 'preview'; index: number; seed: number; step: number; total: number; variation: number }, image: RgbaImage): void {
    const job = note.owner;
    if (job.ended) return;
    if (note.kind === 'result') job.events.result({ index: note.index, seed: note.seed, image });
    else job.events.progress?.({ step: note.step, total: note.total, variation: note.variation, preview: image, stage: null });
  }

  finish(job: Job, outcome: JobOutcome): void {
    if (job.ended) return;
    job.ended = true;
    this.byRequest.delete(job.requestId);
    if (job.jobId !== null) this.byId.delete(job.jobId);
    this.images.dropFor(job);
    job.events.end(outcome);
  }

  /** The connection is gone: every job and the download end as failed. */
  failAll(code: JobFailureCode, message: string): void {
    if (this.download) this.endDownload({ kind: 'failed', code, message });
    for (const job of [...this.byRequest.values()]) this.finish(job, { kind: 'failed', code, message });
    this.images.clear();
  }

  private cancel(job: Job): void {
    if (job.ended || job.cancelRequested) return;
    job.cancelRequested = true;
    if (job.jobId !== null) this.send({ type: 'cancel', jobId: job.jobId });
  }

  private endDownload(outcome: Parameters<DownloadEvents['end']>[0]): void {
    const d = this.download;
    this.download = null;
    d?.events.end(outcome);
  }
}
