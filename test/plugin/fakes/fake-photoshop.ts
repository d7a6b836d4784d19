/**
 * A typed, in-memory stand-in for the `photoshop` module (the PhotoshopApi subset PhotoshopHost uses).
 * It records modal scopes, history suspensions and layer operations, and throws on any document change
 * made outside `core.executeAsModal`, as Photoshop does. Documents have a selection with a shape (coverage
 * per pixel, not only bounds) and layers can have a user mask, made by batchPlay and written by putLayerMask.
 */
import type {
  AnchorPosition,
  ElementPlacement,
  PhotoshopApi,
  PsBounds,
  PsDocument,
  PsExecutionContext,
  PsImageData,
  PsLayer,
  PsDescriptor,
  PsList,
  SecureStorageApi,
} from '../../../plugin/host/photoshop-api';

/** A layer's user mask over the whole document: one byte per document pixel, 0 hides … 255 shows. */
export interface UserMask {
  width: number;
  height: number;
  alpha: Uint8Array;
}

export interface PixelContent {
  /** Where the pixels sit in the document. */
  left: number;
  top: number;
  width: number;
  height: number;
  /** RGBA, width × height × 4. */
  rgba: Uint8Array;
}

export class FakeLayer implements PsLayer {
  parent: FakeLayer | null = null;
  children: FakeLayer[] | null;
  content: PixelContent | null = null;
  /** Layers whose content has no transparency come back from getPixels with 3 components. */
  opaque = false;
  scaled: { w: number; h: number; anchor: string | undefined } | null = null;
  userMask: UserMask | null = null;
  private _name: string;

  constructor(
    private readonly ps: FakePhotoshop,
    readonly id: number,
    name: string,
    readonly kind: string,
  ) {
    this._name = name;
    this.children = kind === 'group' ? [] : null;
  }

  get name(): string {
    return this._name;
  }
  set name(value: string) {
    this.ps.requireModal(`rename layer ${this.id}`);
    this._name = value;
  }

  get boundsNoEffects(): PsBounds {
    const c = this.content;
    if (!c) return { left: 0, top: 0, right: 0, bottom: 0 };
    return { left: c.left, top: c.top, right: c.left + c.width, bottom: c.top + c.height };
  }

  get layers(): PsList<PsLayer> | null {
    return this.children;
  }

  move(relativeTo: PsLayer, placement: ElementPlacement): void {
    this.ps.requireModal(`move layer ${this.id}`);
    const target = relativeTo as FakeLayer;
    this.ps.detach(this);
    if (placement === 'placeInside') {
      if (!target.children) throw new Error(`layer ${target.id} is not a group`);
      target.children.unshift(this);
      this.parent = target;
    } else if (placement === 'placeBefore') {
      const siblings = this.ps.siblingsOf(target);
      siblings.splice(siblings.indexOf(target), 0, this);
      this.parent = target.parent;
    } else {
      throw new Error(`fake does not implement placement ${placement}`);
    }
    this.ps.log.push(`move ${this.id} ${placement} ${target.id}`);
  }

  async scale(widthPercent: number, heightPercent: number, anchor?: AnchorPosition): Promise<void> {
    this.ps.requireModal(`scale layer ${this.id}`);
    this.scaled = { w: widthPercent, h: heightPercent, anchor };
    this.ps.log.push(`scale ${this.id} ${widthPercent.toFixed(3)}% ${anchor}`);
  }
}

/** How selected a document pixel is, 0 … 255 (feathered and antialiased edges lie between). */
export type SelectionShape = (x: number, y: number) => number;

export class FakeDocument implements PsDocument {
  readonly top: FakeLayer[] = [];
  /** The selection's bounding box as Photoshop reports it (may be fractional or reach past the canvas). */
  selectionBounds: PsBounds | null = null;
  /** The selection's coverage inside its bounds; null: a plain rectangle, fully selected inside the bounds. */
  selectionShape: SelectionShape | null = null;
  activeLayerIds: number[] = [];

  constructor(
    private readonly ps: FakePhotoshop,
    readonly id: number,
    readonly title: string,
    readonly width: number,
    readonly height: number,
    readonly mode = 'RGBColorMode',
    readonly bitsPerChannel = 'bitDepth8',
  ) {}

  get layers(): PsList<PsLayer> {
    return this.top;
  }
  get activeLayers(): PsList<PsLayer> {
    return this.activeLayerIds.map((id) => this.find(id)!);
  }
  get selection(): { readonly bounds: PsBounds | null } {
    return { bounds: this.selectionBounds };
  }

  /** Selects with a shape: its bounds as Photoshop would report them, and its coverage per pixel (test setup). */
  select(bounds: PsBounds, shape: SelectionShape | null = null): void {
    this.selectionBounds = bounds;
    this.selectionShape = shape;
  }

  /** Coverage of pixel (x, y) by the selection, 0 … 255. */
  selectionAt(x: number, y: number): number {
    const b = this.selectionBounds;
    if (!b || x < Math.floor(b.left) || y < Math.floor(b.top) || x >= Math.ceil(b.right) || y >= Math.ceil(b.bottom)) return 0;
    return this.selectionShape ? this.selectionShape(x, y) : 255;
  }

  /** The whole selection as one byte per document pixel (to compare selections before and after). */
  selectionPixels(): Uint8Array {
    const out = new Uint8Array(this.width * this.height);
    for (let y = 0; y < this.height; y++) for (let x = 0; x < this.width; x++) out[y * this.width + x] = this.selectionAt(x, y);
    return out;
  }

  /** Adds a layer at the top of the document (test setup, not an API call). */
  addLayer(name: string, kind = 'pixel', content: PixelContent | null = null): FakeLayer {
    const layer = new FakeLayer(this.ps, this.ps.nextId++, name, kind);
    layer.content = content;
    this.top.unshift(layer);
    return layer;
  }

  find(id: number, layers: FakeLayer[] = this.top): FakeLayer | null {
    for (const l of layers) {
      if (l.id === id) return l;
      const inner = l.children ? this.find(id, l.children) : null;
      if (inner) return inner;
    }
    return null;
  }

  async createPixelLayer(options: { name: string }): Promise<PsLayer | null> {
    this.ps.requireModal('createPixelLayer');
    const layer = this.addLayer(options.name, 'pixel');
    this.activeLayerIds = [layer.id]; // a new layer becomes the selected one, as in Photoshop
    this.ps.log.push(`createPixelLayer ${layer.id} "${options.name}"`);
    return layer;
  }

  async createLayerGroup(options: { name: string }): Promise<PsLayer | null> {
    this.ps.requireModal('createLayerGroup');
    const layer = this.addLayer(options.name, 'group');
    this.activeLayerIds = [layer.id];
    this.ps.log.push(`createLayerGroup ${layer.id} "${options.name}"`);
    return layer;
  }
}

export class FakeImageData implements PsImageData {
  readonly colorSpace = 'RGB' as const;
  readonly colorProfile = 'sRGB IEC61966-2.1';
  readonly chunky = true;
  readonly type = 'image/uncompressed' as const;
  disposed = false;

  constructor(
    private readonly ps: FakePhotoshop,
    readonly width: number,
    readonly height: number,
    readonly components: number,
    readonly data: Uint8Array | Uint16Array,
  ) {
    ps.imageDataCreated++;
  }
  get componentSize(): 8 | 16 {
    return this.data instanceof Uint16Array ? 16 : 8;
  }
  get hasAlpha(): boolean {
    return this.components === 4;
  }
  get pixelFormat(): 'RGB' | 'RGBA' {
    return this.components === 4 ? 'RGBA' : 'RGB';
  }
  async getData(): Promise<Uint8Array | Uint16Array | Float32Array> {
    if (this.disposed) throw new Error('image data used after dispose');
    return this.data;
  }
  async dispose(): Promise<void> {
    if (!this.disposed) this.ps.imageDataDisposed++;
    this.disposed = true;
  }
}

export interface Suspension {
  id: number;
  documentID: number;
  name: string;
  /** true committed, false rolled back, null still open. */
  committed: boolean | null;
}

export class FakePhotoshop implements PhotoshopApi {
  nextId = 1;
  modalDepth = 0;
  readonly log: string[] = [];
  readonly modalScopes: string[] = [];
  readonly suspensions: Suspension[] = [];
  /** Calls that changed a document outside a modal scope (each also threw). */
  readonly violations: string[] = [];
  readonly docs: FakeDocument[] = [];
  active: FakeDocument | null = null;
  imageDataCreated = 0;
  imageDataDisposed = 0;
  /** Makes the next putPixels throw, to test rollback. */
  failNextPut: Error | null = null;
  readonly pixelReads: Array<{ layerID: number; sourceBounds: PsBounds; targetSize?: { width?: number; height?: number }; inModal: boolean }> = [];

  requireModal(what: string): void {
    if (this.modalDepth === 0) {
      this.violations.push(what);
      throw new Error(`${what}: the document can only be changed inside executeAsModal`);
    }
  }

  addDocument(title: string, width: number, height: number, mode?: string, bits?: string): FakeDocument {
    const doc = new FakeDocument(this, this.nextId++, title, width, height, mode, bits);
    this.docs.push(doc);
    this.active = doc;
    return doc;
  }

  siblingsOf(layer: FakeLayer): FakeLayer[] {
    if (layer.parent) return layer.parent.children!;
    const doc = this.docs.find((d) => d.top.includes(layer));
    if (!doc) throw new Error(`layer ${layer.id} is not in any document`);
    return doc.top;
  }

  detach(layer: FakeLayer): void {
    const siblings = this.siblingsOf(layer);
    siblings.splice(siblings.indexOf(layer), 1);
    layer.parent = null;
  }

  /** Listeners registered through action.addNotificationListener, with their events. */
  readonly notificationListeners = new Map<(event: string, descriptor: object) => void, readonly string[]>();

  /** What Photoshop does after a user action: tells every listener registered for `event`. */
  notify(event: string, descriptor: object = {}): void {
    for (const [listener, events] of this.notificationListeners) if (events.includes(event)) listener(event, descriptor);
  }

  readonly action: PhotoshopApi['action'] = {
    addNotificationListener: async (events, listener) => {
      this.notificationListeners.set(listener, [...events]);
    },
    removeNotificationListener: async (_events, listener) => {
      this.notificationListeners.delete(listener);
    },
    batchPlay: async (commands) => {
      const results: unknown[] = [];
      for (const c of commands) results.push(this.play(c));
      return results;
    },
  };

  /**
   * The batchPlay commands the host uses, as Photoshop runs them: `select` a layer by id (in the active document
   * unless a document reference names another), and `make` a user mask on the active document's selected layer
   * (hideAll, revealAll, or revealSelection from the current selection). Anything else is refused.
   */
  private play(c: PsDescriptor): unknown {
    const refs = (Array.isArray(c['_target']) ? c['_target'] : [c['_target']]) as Array<Record<string, unknown> | undefined>;
    if (c._obj === 'select' && refs[0]?.['_ref'] === 'layer' && typeof refs[0]['_id'] === 'number') {
      const docRef = refs.find((r) => r?.['_ref'] === 'document');
      const doc = docRef ? this.docs.find((d) => d.id === docRef['_id']) : this.active;
      const layer = doc?.find(refs[0]['_id'] as number);
      if (!doc || !layer) throw new Error(`select: no layer ${String(refs[0]['_id'])}`);
      doc.activeLayerIds = [layer.id];
      this.log.push(`select ${layer.id}`);
      return {};
    }
    const at = c['at'] as Record<string, unknown> | undefined;
    const using = c['using'] as Record<string, unknown> | undefined;
    if (c._obj === 'make' && at?.['_ref'] === 'channel' && at['_value'] === 'mask' && using?.['_enum'] === 'userMaskEnabled') {
      this.requireModal('make mask');
      const doc = this.active;
      const layer = doc && doc.activeLayerIds.length === 1 ? doc.find(doc.activeLayerIds[0]!) : null;
      if (!doc || !layer) throw new Error('make mask: no single selected layer');
      if (layer.userMask) throw new Error(`make mask: layer ${layer.id} already has a mask`);
      const mode = using['_value'];
      const alpha = new Uint8Array(doc.width * doc.height);
      if (mode === 'revealAll') alpha.fill(255);
      else if (mode === 'revealSelection') alpha.set(doc.selectionPixels());
      else if (mode !== 'hideAll') throw new Error(`make mask: fake does not implement ${String(mode)}`);
      layer.userMask = { width: doc.width, height: doc.height, alpha };
      this.log.push(`make mask ${layer.id} ${String(mode)}`);
      return {};
    }
    throw new Error(`fake batchPlay does not implement ${JSON.stringify(c)}`);
  }

  /** Documents brought to the front by the plugin (setting app.activeDocument). */
  readonly activations: number[] = [];

  get app(): PhotoshopApi['app'] {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const ps = this;
    return {
      get activeDocument(): PsDocument | null {
        return ps.active;
      },
      set activeDocument(doc: PsDocument | null) {
        ps.active = doc as FakeDocument | null;
        if (doc) ps.activations.push(doc.id);
      },
      documents: this.docs,
    };
  }

  readonly core: PhotoshopApi['core'] = {
    executeAsModal: async <T>(fn: (ctx: PsExecutionContext) => Promise<T>, options: { commandName: string }): Promise<T> => {
      if (this.modalDepth > 0) throw Object.assign(new Error('host is in a modal state'), { number: 9 });
      this.modalDepth++;
      this.modalScopes.push(options.commandName);
      const opened: Suspension[] = [];
      const ctx: PsExecutionContext = {
        hostControl: {
          suspendHistory: async ({ documentID, name }) => {
            this.requireModal('suspendHistory');
            const s: Suspension = { id: this.suspensions.length + 1, documentID, name, committed: null };
            this.suspensions.push(s);
            opened.push(s);
            return { historySuspensionID: s.id };
          },
          resumeHistory: async ({ historySuspensionID }, commit = true) => {
            this.requireModal('resumeHistory');
            const s = this.suspensions.find((x) => x.id === historySuspensionID);
            if (!s || s.committed !== null) throw new Error(`no open history suspension ${historySuspensionID}`);
            s.committed = commit;
          },
        },
      };
      try {
        return await fn(ctx);
      } catch (err) {
        for (const s of opened) if (s.committed === null) s.committed = false; // Photoshop rolls back
        throw err;
      } finally {
        for (const s of opened) if (s.committed === null) s.committed = true; // and commits on return
        this.modalDepth--;
      }
    },
  };

  readonly imaging: PhotoshopApi['imaging'] = {
    getPixels: async (options) => {
      const doc = this.docs.find((d) => d.id === options.documentID);
      const layer = doc?.find(options.layerID);
      if (!doc || !layer) throw new Error(`no layer ${options.layerID}`);
      this.pixelReads.push({ layerID: options.layerID, sourceBounds: options.sourceBounds, ...(options.targetSize ? { targetSize: options.targetSize } : {}), inModal: this.modalDepth > 0 });
      const c = layer.content;
      if (!c) throw new Error('layer has no pixels');
      const sb = options.sourceBounds;
      // Trim to the region holding content, as Photoshop does.
      const left = Math.max(sb.left, c.left);
      const top = Math.max(sb.top, c.top);
      const right = Math.min(sb.right, c.left + c.width);
      const bottom = Math.min(sb.bottom, c.top + c.height);
      let w = Math.max(0, right - left);
      let h = Math.max(0, bottom - top);
      let outW = w;
      let outH = h;
      const ts = options.targetSize;
      if (ts?.width) {
        outW = ts.width;
        outH = Math.max(1, Math.round((h * ts.width) / w));
      } else if (ts?.height) {
        outH = ts.height;
        outW = Math.max(1, Math.round((w * ts.height) / h));
      }
      const comps = layer.opaque ? 3 : 4;
      const out = new Uint8Array(outW * outH * comps);
      for (let y = 0; y < outH; y++) {
        for (let x = 0; x < outW; x++) {
          const sx = left - c.left + Math.floor((x * w) / outW);
          const sy = top - c.top + Math.floor((y * h) / outH);
          const si = (sy * c.width + sx) * 4;
          for (let k = 0; k < comps; k++) out[(y * outW + x) * comps + k] = c.rgba[si + k]!;
        }
      }
      w = outW;
      h = outH;
      return { imageData: new FakeImageData(this, w, h, comps, out), sourceBounds: { left, top, right, bottom } };
    },
    createImageDataFromBuffer: async (buffer, options) => {
      if (buffer.length !== options.width * options.height * options.components) {
        throw new Error(`buffer of ${buffer.length} for ${options.width}×${options.height}×${options.components}`);
      }
      return new FakeImageData(this, options.width, options.height, options.components, buffer);
    },
    putPixels: async (options) => {
      this.requireModal('putPixels');
      if (this.failNextPut) {
        const err = this.failNextPut;
        this.failNextPut = null;
        throw err;
      }
      const doc = this.docs.find((d) => d.id === options.documentID)!;
      const layer = doc.find(options.layerID)!;
      if (layer.kind !== 'pixel') throw new Error('putPixels needs a pixel layer');
      const data = (await options.imageData.getData({})) as Uint8Array;
      layer.content = { left: options.targetBounds.left, top: options.targetBounds.top, width: options.imageData.width, height: options.imageData.height, rgba: data };
      this.log.push(`putPixels ${layer.id} at ${options.targetBounds.left},${options.targetBounds.top} ${options.imageData.width}×${options.imageData.height}`);
    },
    getSelection: async (options) => {
      const doc = this.docs.find((d) => d.id === options.documentID);
      if (!doc) throw new Error(`no document ${options.documentID}`);
      const b = options.sourceBounds;
      const w = b.right - b.left;
      const h = b.bottom - b.top;
      const sixteen = doc.bitsPerChannel === 'bitDepth16';
      const out = sixteen ? new Uint16Array(w * h) : new Uint8Array(w * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = doc.selectionAt(b.left + x, b.top + y);
          out[y * w + x] = sixteen ? Math.round((v * 32768) / 255) : v;
        }
      }
      this.log.push(`getSelection ${b.left},${b.top} ${w}×${h}`);
      return { imageData: new FakeImageData(this, w, h, 1, out), sourceBounds: { ...b } };
    },
    putLayerMask: async (options) => {
      this.requireModal('putLayerMask');
      const doc = this.docs.find((d) => d.id === options.documentID)!;
      const layer = doc.find(options.layerID)!;
      if (!layer.userMask) throw new Error(`putLayerMask: layer ${layer.id} has no user mask`);
      if (options.imageData.components !== 1) throw new Error('putLayerMask needs grayscale data');
      const raw = await options.imageData.getData({});
      const data = raw instanceof Uint16Array ? Uint8Array.from(raw, (v) => Math.round((v * 255) / 32768)) : (raw as Uint8Array);
      const t = options.targetBounds;
      const w = t.right - t.left;
      if (w !== options.imageData.width || t.bottom - t.top !== options.imageData.height) throw new Error('putLayerMask: targetBounds do not match the data');
      for (let y = t.top; y < t.bottom; y++) {
        for (let x = t.left; x < t.right; x++) layer.userMask.alpha[y * doc.width + x] = data[(y - t.top) * w + (x - t.left)]!;
      }
      this.log.push(`putLayerMask ${layer.id} at ${t.left},${t.top} ${w}×${options.imageData.height}`);
    },
  };
}

/** In-memory `secureStorage`; values come back as bytes as in UXP. */
export class FakeSecureStorage implements SecureStorageApi {
  readonly items = new Map<string, Uint8Array>();
  async getItem(key: string): Promise<Uint8Array | null | undefined> {
    return this.items.get(key);
  }
  async setItem(key: string, value: string): Promise<void> {
    this.items.set(key, Uint8Array.from(value, (ch) => ch.charCodeAt(0)));
  }
  async removeItem(key: string): Promise<void> {
    this.items.delete(key);
  }
}
