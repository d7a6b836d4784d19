/**
 * The companion's style presets (`presets.list`, `preset.save`, `preset.load`, `preset.delete`): the last list it sent,
 * requests awaiting their answer, and the reference images of a loaded preset (FrameKind.reference frames). A request
 * resolves with its answer or rejects with the companion's code (PRESET_EXISTS, UNKNOWN_PRESET, BAD_PRESET, …).
 */
import {
  CodedError, decodeFrame, FrameKind, Reassembler, type ErrorCode, type PresetContent, type PresetEntry, type PresetLoaded,
  type RgbaImage, type ServerMessage, type StylePreset, type Welcome,
} from '../../protocol';

export class PresetRequestError extends CodedError<ErrorCode | 'NOT_CONNECTED' | 'DISCONNECTED'> {
  override readonly name = 'PresetRequestError';
}

/** A loaded preset with its images as pixels. */
export interface LoadedPreset {
  readonly preset: StylePreset;
  readonly references: readonly RgbaImage[];
  readonly negative?: RgbaImage;
}

interface Pending {
  readonly resolve: (value: PresetEntry[] | LoadedPreset) => void;
  readonly reject: (e: PresetRequestError) => void;
  /** For a load: its announcement, then its images as they complete. */
  loaded?: PresetLoaded;
  readonly images: Map<number, RgbaImage>;
}

export class PresetBook {
  private last: readonly PresetEntry[] | null = null;
  private readonly listeners = new Set<(presets: readonly PresetEntry[]) => void>();
  private readonly pending = new Map<string, Pending>();
  private reassembler: Reassembler | null = null;
  private nextId = 1;

  constructor(private readonly send: (message: object) => boolean) {}

  get current(): readonly PresetEntry[] | null {
    return this.last;
  }

  subscribe(listener: (presets: readonly PresetEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A new connection: images up to its limits. */
  begin(welcome: Welcome): void {
    this.reassembler = new Reassembler({ maxImageSide: welcome.limits.maxImageSide, maxOpenTransfers: 17, acceptKinds: [FrameKind.reference] });
  }

  save(name: string, preset: PresetContent, overwrite: boolean): Promise<PresetEntry[]> {
    return this.request({ type: 'preset.save', name, overwrite, preset }) as Promise<PresetEntry[]>;
  }

  load(name: string): Promise<LoadedPreset> {
    return this.request({ type: 'preset.load', name }) as Promise<LoadedPreset>;
  }

  /** Resolves with the list without it; UNKNOWN_PRESET when it is not there. */
  delete(name: string): Promise<PresetEntry[]> {
    return this.request({ type: 'preset.delete', name }) as Promise<PresetEntry[]>;
  }

  private request(message: object): Promise<PresetEntry[] | LoadedPreset> {
    const requestId = `preset-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, requestId })) {
        reject(new PresetRequestError('NOT_CONNECTED', 'Not connected to the companion.'));
        return;
      }
      this.pending.set(requestId, { resolve, reject, images: new Map() });
    });
  }

  /** Takes the messages that concern presets; false for everything else. */
  receive(msg: ServerMessage): boolean {
    if (msg.type === 'presets') {
      this.last = msg.presets;
      for (const listener of [...this.listeners]) listener(msg.presets);
      const waiting = msg.requestId === undefined ? undefined : this.pending.get(msg.requestId);
      if (waiting) {
        this.pending.delete(msg.requestId!);
        waiting.resolve(msg.presets);
      }
      return true;
    }
    if (msg.type === 'preset') {
      const waiting = this.pending.get(msg.requestId);
      if (waiting) {
        waiting.loaded = msg;
        this.complete(msg.requestId, waiting);
      }
      return true;
    }
    if (msg.type === 'error' && msg.requestId !== undefined && this.pending.has(msg.requestId)) {
      const waiting = this.pending.get(msg.requestId)!;
      this.pending.delete(msg.requestId);
      waiting.reject(new PresetRequestError(msg.code, msg.message));
      return true;
    }
    return false;
  }

  /** Takes a binary frame of a preset's image; false for any other frame. */
  push(data: Uint8Array): boolean {
    let kind: number;
    try {
      kind = decodeFrame(data).header.kind;
    } catch {
      return false;
    }
    if (kind !== FrameKind.reference || this.reassembler === null) return false;
    let image;
    try {
      image = this.reassembler.push(data);
    } catch {
      return true; // a broken transfer: its load never completes and fails when the connection ends
    }
    if (image) {
      for (const [requestId, waiting] of this.pending) {
        const ids = waiting.loaded === undefined ? [] : [...waiting.loaded.references, ...(waiting.loaded.negativeStyle ? [waiting.loaded.negativeStyle] : [])];
        if (ids.some((r) => r.transferId === image.transferId)) {
          waiting.images.set(image.transferId, { width: image.width, height: image.height, data: image.rgba });
          this.complete(requestId, waiting);
        }
      }
    }
    return true;
  }

  private complete(requestId: string, waiting: Pending): void {
    const loaded = waiting.loaded;
    if (loaded === undefined) return;
    const references = loaded.references.map((r) => waiting.images.get(r.transferId));
    const negative = loaded.negativeStyle === undefined ? undefined : waiting.images.get(loaded.negativeStyle.transferId);
    if (references.some((r) => r === undefined) || (loaded.negativeStyle !== undefined && negative === undefined)) return;
    this.pending.delete(requestId);
    waiting.resolve({ preset: loaded.preset, references: references as RgbaImage[], ...(negative !== undefined ? { negative } : {}) });
  }

  /** The connection ended: requests in flight fail, the list is forgotten until the next one arrives. */
  reset(): void {
    this.last = null;
    this.reassembler?.clear();
    for (const waiting of this.pending.values()) waiting.reject(new PresetRequestError('DISCONNECTED', 'The connection to the companion was lost.'));
    this.pending.clear();
  }
}
