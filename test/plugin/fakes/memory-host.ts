import type { DocumentInfo, DocumentState, Host, ImageUrls, InsertRequest, InsertedResults, LayerPixels, ReadLayerRequest, SelectionMask, TokenStore } from '../../../plugin/host/host';
import { HostError } from '../../../plugin/host/host';

/** A Host over plain data for session tests: records reads and inserts, and can be told to fail. */
export class MemoryHost implements Host {
  state: DocumentState;
  readonly reads: ReadLayerRequest[] = [];
  readonly inserts: InsertRequest[] = [];
  readonly urls = new Set<string>();
  private nextUrl = 1;
  token: string | null = null;
  readError: string | null = null;
  insertError: string | null = null;
  /** Colour of every layer's pixels. */
  layerColour: [number, number, number, number] = [30, 60, 90, 255];
  /** Per-layer colours overriding layerColour. */
  layerColours: Record<number, [number, number, number, number]> = {};
  events: string[] = [];

  constructor(doc: DocumentInfo | null) {
    this.state = doc ? { kind: 'ready', doc } : { kind: 'none' };
  }

  readonly tokens: TokenStore = {
    load: async () => this.token,
    save: async (t) => {
      this.token = t;
    },
    clear: async () => {
      this.token = null;
    },
  };

  readonly imageUrls: ImageUrls = {
    create: () => {
      const url = `blob:test/${this.nextUrl++}`;
      this.urls.add(url);
      return url;
    },
    release: (url) => {
      this.urls.delete(url);
    },
  };

  async documentState(): Promise<DocumentState> {
    return this.state;
  }

  async readLayer(request: ReadLayerRequest): Promise<LayerPixels> {
    this.reads.push(request);
    this.events.push(`read ${request.layerId}`);
    if (this.readError) throw new HostError(this.readError);
    // a region read (img2img's init) has the region's shape, at most maxSide on the longest side
    const r = request.region;
    const scale = r ? Math.min(1, request.maxSide / Math.max(r.right - r.left, r.bottom - r.top)) : 1;
    const width = r ? Math.round((r.right - r.left) * scale) : 40;
    const height = r ? Math.round((r.bottom - r.top) * scale) : 30;
    const data = new Uint8Array(width * height * 4);
    const colour = this.layerColours[request.layerId] ?? this.layerColour;
    for (let i = 0; i < data.length; i += 4) data.set(colour, i);
    return { image: { width, height, data }, bounds: r ?? { left: 0, top: 0, right: 40, bottom: 30 } };
  }

  /** The selection's shape; when null a selection in `state` is rectangular (fully selected inside its bounds). */
  selectionAlpha: Uint8Array | null = null;

  async readSelection(documentId: number): Promise<SelectionMask | null> {
    this.events.push('read selection');
    const sel = this.state.kind === 'ready' && this.state.doc.id === documentId ? this.state.doc.selection : null;
    if (!sel) return null;
    return { bounds: sel, alpha: this.selectionAlpha ?? new Uint8Array((sel.right - sel.left) * (sel.bottom - sel.top)).fill(255) };
  }

  async insertResults(request: InsertRequest): Promise<InsertedResults> {
    this.inserts.push(request);
    this.events.push(`insert ${request.results.length}`);
    if (this.insertError) throw new HostError(this.insertError);
    return { groupId: 1000 + this.inserts.length, layerIds: request.results.map((_, i) => 2000 + i) };
  }
}

export const SAMPLE_DOC: DocumentInfo = {
  id: 7,
  title: 'poster.psd',
  width: 1600,
  height: 900,
  layers: [
    { id: 3, name: 'Ink texture', depth: 0, readable: true },
    { id: 2, name: 'Photo', depth: 0, readable: true },
    { id: 1, name: 'Background', depth: 0, readable: true },
  ],
  activeLayerId: 3,
  selection: null,
};
