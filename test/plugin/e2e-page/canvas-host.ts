/**
 * A Host over a document made of canvases, for the end-to-end page: layers are full-size canvases,
 * groups hold layers, and the composite is drawn onto a visible canvas. It applies the same rules a
 * Photoshop document would (trimmed reads, selection crop, empty-layer refusal, one history step per
 * insert) so the panel can be driven for real in a browser.
 */
import { fitInside, intersect, isEmpty } from '../../../plugin/host/geometry';
import type {
  Bounds,
  DocumentState,
  Host,
  ImageUrls,
  InsertedResults,
  InsertRequest,
  LayerInfo,
  LayerPixels,
  ReadLayerRequest,
  RgbaImage,
  TokenStore,
} from '../../../plugin/host/host';
import { HostError } from '../../../plugin/host/host';

export interface CanvasLayer {
  readonly id: number;
  name: string;
  readonly kind: 'pixel' | 'group';
  readonly canvas: HTMLCanvasElement | null;
  readonly children: CanvasLayer[];
}

export interface LayerSnapshot {
  readonly id: number;
  readonly name: string;
  readonly kind: 'pixel' | 'group';
  readonly depth: number;
  /** Content bounds (pixel layers), or null when empty. */
  readonly bounds: Bounds | null;
  /** Colour at the centre of the content. */
  readonly centre: readonly number[] | null;
}

function imageToCanvas(image: RgbaImage): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = image.width;
  c.height = image.height;
  const ctx = c.getContext('2d')!;
  const data = ctx.createImageData(image.width, image.height);
  data.data.set(image.data);
  ctx.putImageData(data, 0, 0);
  return c;
}

export class CanvasHost implements Host {
  readonly top: CanvasLayer[] = [];
  activeLayerId: number | null = null;
  selection: Bounds | null = null;
  historySteps: string[] = [];
  /** Regions read as style references, in order. */
  readonly reads: Bounds[] = [];
  private nextId = 1;

  constructor(
    readonly id: number,
    readonly title: string,
    readonly width: number,
    readonly height: number,
    private readonly view: HTMLCanvasElement,
  ) {
    view.width = width;
    view.height = height;
  }

  /** Adds a pixel layer on top and lets `paint` draw into it (page setup). */
  addLayer(name: string, paint?: (ctx: CanvasRenderingContext2D) => void): CanvasLayer {
    const canvas = document.createElement('canvas');
    canvas.width = this.width;
    canvas.height = this.height;
    if (paint) paint(canvas.getContext('2d')!);
    const layer: CanvasLayer = { id: this.nextId++, name, kind: 'pixel', canvas, children: [] };
    this.top.unshift(layer);
    this.render();
    return layer;
  }

  private *walk(layers: CanvasLayer[] = this.top, depth = 0): Generator<{ layer: CanvasLayer; depth: number }> {
    for (const layer of layers) {
      yield { layer, depth };
      yield* this.walk(layer.children, depth + 1);
    }
  }

  private find(id: number): CanvasLayer | null {
    for (const { layer } of this.walk()) if (layer.id === id) return layer;
    return null;
  }

  /** Bounding box of non-transparent pixels, like Photoshop's layer bounds. */
  private contentBounds(layer: CanvasLayer): Bounds | null {
    if (!layer.canvas) return null;
    const { data } = layer.canvas.getContext('2d')!.getImageData(0, 0, this.width, this.height);
    let left = this.width, top = this.height, right = 0, bottom = 0;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        if (data[(y * this.width + x) * 4 + 3]! > 0) {
          if (x < left) left = x;
          if (x >= right) right = x + 1;
          if (y < top) top = y;
          if (y >= bottom) bottom = y + 1;
        }
      }
    }
    return right > left ? { left, top, right, bottom } : null;
  }

  render(): void {
    const ctx = this.view.getContext('2d')!;
    ctx.clearRect(0, 0, this.width, this.height);
    const draw = (layers: CanvasLayer[]) => {
      for (let i = layers.length - 1; i >= 0; i--) {
        const l = layers[i]!;
        if (l.canvas) ctx.drawImage(l.canvas, 0, 0);
        draw(l.children);
      }
    };
    draw(this.top);
    if (this.selection) {
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = '#000';
      const s = this.selection;
      ctx.strokeRect(s.left + 0.5, s.top + 0.5, s.right - s.left - 1, s.bottom - s.top - 1);
      ctx.restore();
    }
  }

  /** FNV-1a hash of a layer's pixels: equal hashes, equal layers (for comparing results). */
  checksum(layerId: number): string {
    const layer = this.find(layerId);
    if (!layer?.canvas) return 'no pixels';
    let h = 0x811c9dc5;
    for (const b of layer.canvas.getContext('2d')!.getImageData(0, 0, this.width, this.height).data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h.toString(16);
  }

  snapshot(): LayerSnapshot[] {
    return [...this.walk()].map(({ layer, depth }) => {
      const bounds = this.contentBounds(layer);
      let centre: number[] | null = null;
      if (bounds && layer.canvas) {
        const cx = Math.floor((bounds.left + bounds.right) / 2);
        const cy = Math.floor((bounds.top + bounds.bottom) / 2);
        centre = Array.from(layer.canvas.getContext('2d')!.getImageData(cx, cy, 1, 1).data);
      }
      return { id: layer.id, name: layer.name, kind: layer.kind, depth, bounds, centre };
    });
  }

  async documentState(): Promise<DocumentState> {
    const layers: LayerInfo[] = [...this.walk()].map(({ layer, depth }) => ({ id: layer.id, name: layer.name, depth, readable: layer.kind === 'pixel' }));
    return {
      kind: 'ready',
      doc: { id: this.id, title: this.title, width: this.width, height: this.height, layers, activeLayerId: this.activeLayerId, selection: this.selection },
    };
  }

  async readLayer(request: ReadLayerRequest): Promise<LayerPixels> {
    if (request.documentId !== this.id) throw new HostError('The document this job belongs to has been closed.');
    const layer = this.find(request.layerId);
    if (!layer) throw new HostError('The style layer no longer exists. Choose another layer.');
    if (!layer.canvas) throw new HostError(`“${layer.name}” is a group layer without pixels of its own. Choose a pixel layer.`);
    const content = this.contentBounds(layer);
    if (!content) throw new HostError(`Layer “${layer.name}” is empty. Paint or paste into it, or choose another layer.`);
    let region: Bounds | null = content;
    if (request.selectionOnly) {
      if (!this.selection) throw new HostError('“Selection only” is on, but nothing is selected.');
      region = intersect(content, this.selection);
      if (!region) throw new HostError(`The selection does not overlap layer “${layer.name}”.`);
    }
    const w = region.right - region.left;
    const h = region.bottom - region.top;
    const scale = Math.min(1, request.maxSide / Math.max(w, h));
    const ow = Math.max(1, Math.round(w * scale));
    const oh = Math.max(1, Math.round(h * scale));
    const tmp = document.createElement('canvas');
    tmp.width = ow;
    tmp.height = oh;
    const ctx = tmp.getContext('2d')!;
    ctx.drawImage(layer.canvas, region.left, region.top, w, h, 0, 0, ow, oh);
    const data = new Uint8Array(ctx.getImageData(0, 0, ow, oh).data.buffer.slice(0));
    this.reads.push(region);
    return { image: { width: ow, height: oh, data }, bounds: region };
  }

  async insertResults(request: InsertRequest): Promise<InsertedResults> {
    if (request.documentId !== this.id) throw new HostError('The document this job belongs to has been closed.');
    if (isEmpty(request.target)) throw new HostError('Nowhere to place the results.');
    const group: CanvasLayer = { id: this.nextId++, name: request.groupName, kind: 'group', canvas: null, children: [] };
    const layerIds: number[] = [];
    for (const result of request.results) {
      const canvas = document.createElement('canvas');
      canvas.width = this.width;
      canvas.height = this.height;
      const place = fitInside(result.image.width, result.image.height, request.target);
      canvas.getContext('2d')!.drawImage(imageToCanvas(result.image), place.left, place.top, place.width, place.height);
      const layer: CanvasLayer = { id: this.nextId++, name: `${request.layerPrefix} · seed ${result.seed}`, kind: 'pixel', canvas, children: [] };
      group.children.push(layer);
      layerIds.push(layer.id);
    }
    const siblings = this.top;
    const above = request.aboveLayerId === null ? -1 : siblings.findIndex((l) => l.id === request.aboveLayerId);
    siblings.splice(above < 0 ? 0 : above, 0, group);
    this.historySteps.push(`StyleStudio: ${request.groupName}`);
    this.render();
    return { groupId: group.id, layerIds };
  }

  readonly tokens: TokenStore = {
    load: async () => localStorage.getItem('stylestudio.token'),
    save: async (t) => localStorage.setItem('stylestudio.token', t),
    clear: async () => localStorage.removeItem('stylestudio.token'),
  };

  readonly imageUrls: ImageUrls = {
    create: (image) => imageToCanvas(image).toDataURL('image/png'),
    release: () => undefined, // data URLs hold no resources
  };
}
