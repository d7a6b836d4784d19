/**
 * The panel's side of the protocol, assembled from three parts as krita-ai-diffusion splits its client:
 * `connection.ts` (socket, pairing, reconnect, ping), `jobs.ts` (requests → job events, the model download) and
 * `transfers.ts` (paced uploads, reassembled results and previews). `CompanionClient` wires them together and is
 * what the panel session uses.
 */
import { DEFAULT_PORT, type GenerateInput, type ModelSets, type PresetContentOf, type PresetEntry, type RgbaImage, type Welcome } from '../../protocol';
import type { BackoffOptions } from './backoff';
import { CompanionConnection, type ConnectionState, type Timers } from './connection';
import { JobBook, type DownloadEvents, type Job, type JobEvents, type JobHandle, type SubmitRequest } from './jobs';
import type { SocketFactory } from './socket';
import { ModelSetBook } from './model-sets';
import { PresetBook, PresetRequestError, type LoadedPreset } from './presets';
import { bytesOf, IncomingImages, Uploader, UPLOAD_HIGH_WATER_BYTES } from './transfers';

export type { ConnectionState, RefusalCode, Timers } from './connection';
export type {
  DownloadEvents, DownloadProgress, GenerateSettings, JobEvents, JobFailureCode, JobHandle, JobOutcome, JobProgress, JobResult,
  NegativeStyleInput, SubmitRequest,
} from './jobs';
export { UPLOAD_CHUNK_BYTES, UPLOAD_HIGH_WATER_BYTES } from './transfers';
export { ModelSetSelectionError } from './model-sets';
export { PresetRequestError, type LoadedPreset } from './presets';

/** A preset to save: its content with its images as pixels (uploaded before `preset.save`). */
export type PresetSaveRequest = PresetContentOf<RgbaImage>;

export interface CompanionClientOptions {
  readonly url?: string;
  readonly socketFactory?: SocketFactory;
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  /** Pause sending binary chunks while more than this many bytes wait in the socket (UXP closes on overflow). */
  readonly sendHighWaterBytes?: number;
  /** App-level ping while connected; a connection silent for two intervals is dropped and re-opened. */
  readonly pingIntervalMs?: number;
  readonly clientInfo?: { name: string; version: string };
}

export const DEFAULT_URL = `ws://127.0.0.1:${DEFAULT_PORT}`;

export class CompanionClient {
  private readonly connection: CompanionConnection;
  private readonly images = new IncomingImages<Job>();
  private readonly jobs: JobBook;
  private readonly uploader: Uploader;
  private readonly sets: ModelSetBook;
  private readonly presetBook: PresetBook;

  constructor(options: CompanionClientOptions = {}) {
    this.connection = new CompanionConnection({ ...options, url: options.url ?? DEFAULT_URL }, {
      welcomed: (welcome: Welcome) => {
        this.images.reset(welcome);
        // every (re)connection learns the model sets and the current one (sent on the new socket: not 'ready' yet)
        this.connection.send({ type: 'modelSets.list' });
        this.presetBook.begin(welcome);
        this.connection.send({ type: 'presets.list' });
      },
      message: (msg) => {
        if (this.sets.receive(msg)) {
          if (msg.type === 'modelSets') this.connection.refreshWelcome({ models: msg.models, engine: msg.engine });
          return true;
        }
        if (this.presetBook.receive(msg)) return true;
        return this.jobs.receive(msg);
      },
      binary: (data) => {
        const bytes = bytesOf(data);
        if (bytes !== null && this.presetBook.push(bytes)) return;
        const done = this.images.push(data);
        if (done) this.jobs.delivered(done.note, done.image);
      },
      lost: (reason) => {
        this.sets.reset();
        this.presetBook.reset();
        this.jobs.failAll('DISCONNECTED', reason === 'dropped'
        ? 'The connection to the companion was lost; the job was stopped.'
        : 'The connection to the companion was closed.');
      },
    });
    this.sets = new ModelSetBook((m) => {
      if (!this.connection.readySocket) return false;
      this.connection.send(m);
      return true;
    });
    this.presetBook = new PresetBook((m) => {
      if (!this.connection.readySocket) return false;
      this.connection.send(m);
      return true;
    });
    this.jobs = new JobBook(this.images, (m) => this.connection.send(m), () => this.connection.reconnect());
    this.uploader = new Uploader(this.connection.timers, options.sendHighWaterBytes ?? UPLOAD_HIGH_WATER_BYTES, (s) => this.connection.isCurrent(s));
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Number of jobs submitted and not yet ended (for tests and the UI's busy state). */
  get openJobs(): number {
    return this.jobs.open;
  }

  /** Images announced or partly received and not yet handed over. */
  get pendingImages(): number {
    return this.images.pending;
  }

  subscribe(listener: (state: ConnectionState) => void): () => void {
    return this.connection.subscribe(listener);
  }

  /** Starts (or restarts) connecting with this token. */
  connect(token: string): void {
    this.connection.connect(token);
  }

  /** Closes the connection and stops reconnecting; open jobs end as failed. */
  disconnect(): void {
    this.connection.disconnect();
  }

  /** Uploads the style images (and the init image), then sends `generate`. Events arrive through `events`. */
  async submit(request: SubmitRequest, events: JobEvents): Promise<JobHandle> {
    const socket = this.connection.readySocket;
    const state = this.connection.state;
    const job = this.jobs.add(events);
    const handle = this.jobs.handle(job);
    if (!socket || state.kind !== 'ready') {
      this.jobs.finish(job, { kind: 'failed', code: 'NOT_CONNECTED', message: 'Not connected to the companion.' });
      return handle;
    }
    const chunkBytes = state.welcome.limits.chunkBytes;
    try {
      let style: { transferId: number } | undefined;
      if (request.style) style = { transferId: await this.uploader.upload(socket, request.style, chunkBytes) };
      // the panel's "avoid" choice as the spec's fields: a negative image (uploaded) or a drop preset
      const neg = request.negativeStyle;
      const negativeStyle = neg.kind === 'image' ? { transferId: await this.uploader.upload(socket, neg.image, chunkBytes) } : undefined;
      const extraNegativeStyles: { transferId: number }[] = [];
      for (const image of neg.kind === 'image' ? neg.more ?? [] : []) extraNegativeStyles.push({ transferId: await this.uploader.upload(socket, image, chunkBytes) });
      const init = request.init ? { transferId: await this.uploader.upload(socket, request.init, chunkBytes) } : undefined;
      const mask = request.mask ? { transferId: await this.uploader.upload(socket, request.mask, chunkBytes) } : undefined;
      const extraStyles: { image: { transferId: number }; weight: number }[] = [];
      for (const e of request.extraStyles ?? []) extraStyles.push({ image: { transferId: await this.uploader.upload(socket, e.image, chunkBytes) }, weight: e.weight });
      if (job.ended) return handle; // the connection dropped during the upload
      const params: GenerateInput['params'] = {
        ...request.params,
        ...(style ? { style } : {}),
        ...(negativeStyle ? { negativeStyle } : {}),
        ...(neg.kind === 'drop' ? { drop: neg.preset } : {}),
        ...(init ? { init } : {}),
        ...(mask ? { mask } : {}),
        ...(extraStyles.length > 0 ? { extraStyles } : {}),
        ...(extraNegativeStyles.length > 0 ? { extraNegativeStyles } : {}),
      };
      this.connection.send({ type: 'generate', requestId: job.requestId, params });
    } catch (err) {
      this.jobs.finish(job, { kind: 'failed', code: 'DISCONNECTED', message: `Sending the job failed: ${(err as Error).message}` });
    }
    return handle;
  }

  /** The companion's model sets as last listed (null until the first list after connecting). */
  get modelSets(): ModelSets | null {
    return this.sets.current;
  }

  subscribeModelSets(listener: (sets: ModelSets) => void): () => void {
    return this.sets.subscribe(listener);
  }

  /** Switches the companion to model set `id`; rejects with ModelSetSelectionError (its code) when refused. */
  selectModelSet(id: string): Promise<ModelSets> {
    return this.sets.select(id);
  }

  /** The companion's presets as last listed (null until the first list after connecting). */
  get presets(): readonly PresetEntry[] | null {
    return this.presetBook.current;
  }

  subscribePresets(listener: (presets: readonly PresetEntry[]) => void): () => void {
    return this.presetBook.subscribe(listener);
  }

  /** Uploads the preset's images, then saves it; rejects with PresetRequestError (PRESET_EXISTS unless `overwrite`, …). */
  async savePreset(name: string, request: PresetSaveRequest, overwrite: boolean): Promise<PresetEntry[]> {
    const socket = this.connection.readySocket;
    const state = this.connection.state;
    if (!socket || state.kind !== 'ready') throw new PresetRequestError('NOT_CONNECTED', 'Not connected to the companion.');
    const upload = (image: RgbaImage) => this.uploader.upload(socket, image, state.welcome.limits.chunkBytes).then((transferId) => ({ transferId }));
    const references = [];
    for (const r of request.references) references.push({ image: await upload(r.image), weight: r.weight });
    const elements = request.elements.kind === 'image' ? { kind: 'image' as const, image: await upload(request.elements.image) } : request.elements;
    return this.presetBook.save(name, { references, elements, settings: request.settings, seed: request.seed }, overwrite);
  }

  /** Loads a preset with its reference images; rejects with PresetRequestError (UNKNOWN_PRESET, BAD_PRESET, …). */
  loadPreset(name: string): Promise<LoadedPreset> {
    return this.presetBook.load(name);
  }

  /** Deletes a preset (its folder on the companion); rejects with PresetRequestError (UNKNOWN_PRESET, …). */
  deletePreset(name: string): Promise<PresetEntry[]> {
    return this.presetBook.delete(name);
  }

  /** Asks the companion to download its missing models (`models.pull`); progress arrives through `events`. */
  pullModels(events: DownloadEvents): void {
    if (this.jobs.downloading) {
      events.end({ kind: 'failed', code: 'PULL_IN_PROGRESS', message: 'A model download is already running.' });
      return;
    }
    if (!this.connection.readySocket) {
      events.end({ kind: 'failed', code: 'NOT_CONNECTED', message: 'Not connected to the companion.' });
      return;
    }
    this.connection.send({ type: 'models.pull', requestId: this.jobs.startDownload(events) });
  }
}
