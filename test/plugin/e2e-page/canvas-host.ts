/**
 * A Host over a document made of canvases, for the end-to-end page: layers are full-size canvases,
 * groups hold layers, and the composite is drawn onto a visible canvas. It applies the same rules a
 * Photoshop document would (trimmed reads, selection crop, empty-layer refusal, one history step per
 * insert, the same placement, layer masks from a captured selection) so the panel can be driven for real
 * in a browser.
 */
import { intersect, isEmpty } from '../../../plugin/host/geometry';
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
  SelectionMask,
  TokenStore,
} from '../../../plugin/host/host';
import { HostError } from '../../../plugin/host/host';
import { placeCovering, placeFitted } from '../../../plugin/host/placement';

export interface CanvasLayer {
  readonly id: number;
  name: string;
  readonly kind: 'pixel' | 'group';
  readonly canvas: HTMLCanvasElement | null;
  /** A layer mask: a full-size canvas whose alpha is the mask (0 hides, 255 shows), or null. */
  readonly mask: HTMLCanvasElement | null;
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
  readonly masked: boolean;
}

export type SelectionShape = 'rectangle' | 'ellipse';

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
  /** Coverage of every document pixel (width × height) for a non-rectangular selection; null: the box is all selected. */
  private selectionAlpha: Uint8Array | null = null;
  private selectionShape: SelectionShape = 'rectangle';
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
    const layer: CanvasLayer = { id: this.nextId++, name, kind: 'pixel', canvas, mask: null, children: [] };
    this.top.unshift(layer);
    this.render();
    return layer;
  }

  /** Selects a rectangle, or the antialiased ellipse inscribed in it (the elliptical marquee); null deselects. */
  select(bounds: Bounds | null, shape: SelectionShape = 'rectangle'): void {
    this.selection = bounds;
    this.selectionShape = shape;
    this.selectionAlpha = null;
    if (bounds && shape === 'ellipse') {
      const ctx = this.blank().getContext('2d')!;
      ctx.beginPath();
      ctx.ellipse((bounds.left + bounds.right) / 2, (bounds.top + bounds.bottom) / 2, (bounds.right - bounds.left) / 2, (bounds.bottom - bounds.top) / 2, 0, 0, 2 * Math.PI);
      ctx.fill();
      const rgba = ctx.getImageData(0, 0, this.width, this.height).data;
      this.selectionAlpha = new Uint8Array(this.width * this.height);
      for (let i = 0; i < this.selectionAlpha.length; i++) this.selectionAlpha[i] = rgba[i * 4 + 3]!;
    }
    this.render();
  }

  private blank(): HTMLCanvasElement {
    const c = document.createElement('canvas');
    c.width = this.width;
    c.height = this.height;
    return c;
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
        if (l.canvas && l.mask) {
          const masked = this.blank();
          const m = masked.getContext('2d')!;
          m.drawImage(l.canvas, 0, 0);
          m.globalCompositeOperation = 'destination-in';
          m.drawImage(l.mask, 0, 0);
          ctx.drawImage(masked, 0, 0);
        } else if (l.canvas) {
          ctx.drawImage(l.canvas, 0, 0);
        }
        draw(l.children);
      }
    };
    draw(this.top);
    if (this.selection) {
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = '#000';
      const s = this.selection;
      if (this.selectionShape === 'ellipse') {
        ctx.beginPath();
        ctx.ellipse((s.left + s.right) / 2, (s.top + s.bottom) / 2, (s.right - s.left) / 2 - 0.5, (s.bottom - s.top) / 2 - 0.5, 0, 0, 2 * Math.PI);
        ctx.stroke();
      } else {
        ctx.strokeRect(s.left + 0.5, s.top + 0.5, s.right - s.left - 1, s.bottom - s.top - 1);
      }
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
      return { id: layer.id, name: layer.name, kind: layer.kind, depth, bounds, centre, masked: layer.mask !== null };
    });
  }

  /** A layer's own pixel at (x, y) and its mask's value there (null without a mask), as Photoshop would report them. */
  sample(layerId: number, x: number, y: number): { rgba: number[]; mask: number | null } {
    const layer = this.find(layerId);
    if (!layer?.canvas) throw new Error(`no pixel layer ${layerId}`);
    const rgba = Array.from(layer.canvas.getContext('2d')!.getImageData(x, y, 1, 1).data);
    const mask = layer.mask ? layer.mask.getContext('2d')!.getImageData(x, y, 1, 1).data[3]! : null;
    return { rgba, mask };
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
    if (request.region !== undefined) {
      // the layer to restyle over exactly the results' region (the layer's canvas is transparent where it has no pixels)
      if (!intersect(content, request.region)) throw new HostError(`Layer “${layer.name}” has no pixels where the results go. Choose another layer to restyle.`);
      region = request.region;
    } else if (request.selectionOnly) {
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

  async readSelection(documentId: number): Promise<SelectionMask | null> {
    if (documentId !== this.id) throw new HostError('The document this job belongs to has been closed.');
    const sel = this.selection;
    if (!sel) return null;
    const w = sel.right - sel.left;
    const alpha = new Uint8Array(w * (sel.bottom - sel.top)).fill(255);
    if (this.selectionAlpha) {
      for (let y = sel.top; y < sel.bottom; y++) alpha.set(this.selectionAlpha.subarray(y * this.width + sel.left, y * this.width + sel.right), (y - sel.top) * w);
    }
    return { bounds: sel, alpha };
  }

  /** A hide-all layer mask with the selection's coverage written into its box. */
  private maskFrom(selection: SelectionMask): HTMLCanvasElement {
    const b = selection.bounds;
    const w = b.right - b.left;
    const h = b.bottom - b.top;
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba[i * 4 + 3] = selection.alpha[i]!;
    const mask = this.blank();
    mask.getContext('2d')!.drawImage(imageToCanvas({ width: w, height: h, data: rgba }), b.left, b.top);
    return mask;
  }

  async insertResults(request: InsertRequest): Promise<InsertedResults> {
    if (request.documentId !== this.id) throw new HostError('The document this job belongs to has been closed.');
    if (isEmpty(request.target)) throw new HostError('Nowhere to place the results.');
    const group: CanvasLayer = { id: this.nextId++, name: request.groupName, kind: 'group', canvas: null, mask: null, children: [] };
    const layerIds: number[] = [];
    for (const result of request.results) {
      const canvas = this.blank();
      const { left, top, image } = request.mask ? placeCovering(result.image, request.mask.bounds) : placeFitted(result.image, request.target);
      canvas.getContext('2d')!.drawImage(imageToCanvas(image), left, top);
      const mask = request.mask ? this.maskFrom(request.mask) : null;
      const layer: CanvasLayer = { id: this.nextId++, name: `${request.layerPrefix} · seed ${result.seed}`, kind: 'pixel', canvas, mask, children: [] };
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
