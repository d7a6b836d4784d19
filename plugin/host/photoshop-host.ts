import { boundsHeight, boundsWidth, intersect, isEmpty, roundOut } from './geometry';
import { documentRefusal } from './document-modes';
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
  SelectionMask,
  TokenStore,
} from './host';
import { HostError } from './host';
import type { PhotoshopApi, PsDocument, PsLayer, PsList, SecureStorageApi } from './photoshop-api';
import { PLACE_BEFORE, PLACE_INSIDE } from './photoshop-api';
import { placeCovering, placeFitted } from './placement';
import { to16BitRange, toMask8, toRgba8 } from './pixels';
import { SecureTokenStore } from './token-store';

/** Every pixel crosses the wire as sRGB 8-bit; Photoshop converts from and to the document's profile. */
export const SRGB_PROFILE = 'sRGB IEC61966-2.1';
/** Masks are one grayscale component; the profile the imaging API's examples give them. */
const MASK_PROFILE = 'Gray Gamma 2.2';

/** Layer kinds whose pixels imaging.getPixels can read (groups and adjustments have none of their own). */
const READABLE_KINDS = new Set(['pixel', 'smartObject', 'text', 'solidColor', 'gradientFill', 'pattern']);

function* walk(layers: PsList<PsLayer> | null, depth = 0): Generator<{ layer: PsLayer; depth: number }> {
  if (!layers) return;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    yield { layer, depth };
    yield* walk(layer.layers, depth + 1);
  }
}

function findLayer(doc: PsDocument, id: number): PsLayer | null {
  for (const { layer } of walk(doc.layers)) if (layer.id === id) return layer;
  return null;
}

function canvasOf(doc: PsDocument): Bounds {
  return { left: 0, top: 0, right: doc.width, bottom: doc.height };
}

/** Photoshop's errors to messages a designer can act on. */
function asHostError(err: unknown, doing: string): HostError {
  if (err instanceof HostError) return err;
  const e = err as { number?: number; message?: string };
  if (e?.number === 9) {
    return new HostError(`Photoshop is busy (another plugin or a dialog is open), so StyleStudio could not ${doing}. Try again when it is done.`);
  }
  return new HostError(`Photoshop could not ${doing}: ${e?.message ?? String(err)}`);
}

/** Photoshop action events (eventcodes) after which the document list, layers or selection may differ. */
export const DOCUMENT_EVENTS = [
  'open', 'close', 'select', 'make', 'delete', 'set', 'move', 'duplicate', 'paste', 'placeEvent', 'newPlacedLayer',
  'convertMode', 'mergeLayersNew', 'flattenImage', 'rasterizeLayer', 'ungroupLayersEvent', 'groupLayersEvent',
] as const;
const DOCUMENT_EVENT_QUIET_MS = 150;

/** For hosts without image display (tests): every image shows as an empty picture. */
const NO_IMAGE_URLS: ImageUrls = { create: () => '', release: () => undefined };

export class PhotoshopHost implements Host {
  readonly tokens: TokenStore;

  constructor(
    private readonly ps: PhotoshopApi,
    storage: SecureStorageApi,
    readonly imageUrls: ImageUrls = NO_IMAGE_URLS,
  ) {
    this.tokens = new SecureTokenStore(storage);
  }

  /**
   * Follows Photoshop's notifications for what can change the panel's view of the document: switching documents,
   * opening and closing them, layers made, deleted, moved, renamed or selected, selections. Bursts (a paste fires
   * several) are folded into one call after a short quiet time.
   */
  watchDocument(onChange: () => void): () => void {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const listener = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        onChange();
      }, DOCUMENT_EVENT_QUIET_MS);
    };
    // A failure to subscribe (an older Photoshop) leaves the panel refreshing on focus and hover only.
    this.ps.action.addNotificationListener([...DOCUMENT_EVENTS], listener).catch(() => undefined);
    return () => {
      if (timer !== null) clearTimeout(timer);
      this.ps.action.removeNotificationListener([...DOCUMENT_EVENTS], listener).catch(() => undefined);
    };
  }

  async documentState(): Promise<DocumentState> {
    const doc = this.ps.app.activeDocument;
    if (!doc) return { kind: 'none' };
    const refusal = documentRefusal(doc.mode, doc.bitsPerChannel);
    if (refusal) return { kind: 'unsupported', title: doc.title, reason: refusal };
    const layers: LayerInfo[] = [];
    for (const { layer, depth } of walk(doc.layers)) {
      layers.push({ id: layer.id, name: layer.name, depth, readable: READABLE_KINDS.has(layer.kind) });
    }
    const sel = doc.selection.bounds;
    return {
      kind: 'ready',
      doc: {
        id: doc.id,
        title: doc.title,
        width: doc.width,
        height: doc.height,
        layers,
        activeLayerId: doc.activeLayers.length > 0 ? doc.activeLayers[0]!.id : null,
        selection: sel ? intersect(roundOut(sel), canvasOf(doc)) : null,
      },
    };
  }

  private document(id: number): PsDocument {
    const docs = this.ps.app.documents;
    for (let i = 0; i < docs.length; i++) if (docs[i]!.id === id) return docs[i]!;
    throw new HostError('The document this job belongs to has been closed.');
  }

  private usableDocument(id: number): PsDocument {
    const doc = this.document(id);
    const refusal = documentRefusal(doc.mode, doc.bitsPerChannel);
    if (refusal) throw new HostError(refusal);
    return doc;
  }

  async readLayer(request: ReadLayerRequest): Promise<LayerPixels> {
    const doc = this.usableDocument(request.documentId);
    const layer = findLayer(doc, request.layerId);
    if (!layer) throw new HostError('The style layer no longer exists. Choose another layer.');
    if (!READABLE_KINDS.has(layer.kind)) {
      throw new HostError(`“${layer.name}” is a ${layer.kind} layer without pixels of its own. Choose a pixel layer.`);
    }
    const layerBounds = roundOut(layer.boundsNoEffects);
    if (isEmpty(layerBounds)) {
      throw new HostError(`Layer “${layer.name}” is empty. Paint or paste into it, or choose another layer.`);
    }
    if (request.region !== undefined) return this.readRegion(doc, layer, layerBounds, request.region, request.maxSide);
    let region = intersect(layerBounds, canvasOf(doc));
    if (!region) throw new HostError(`Layer “${layer.name}” lies entirely outside the canvas.`);
    if (request.selectionOnly) {
      const sel = doc.selection.bounds;
      if (!sel) throw new HostError('“Selection only” is on, but nothing is selected. Make a selection or turn the option off.');
      region = intersect(region, roundOut(sel));
      if (!region) throw new HostError(`The selection does not overlap layer “${layer.name}”.`);
    }
    const w = boundsWidth(region);
    const h = boundsHeight(region);
    const targetSize =
      Math.max(w, h) <= request.maxSide ? undefined : w >= h ? { width: request.maxSide } : { height: request.maxSide };
    const read = await this.readPixels(doc, layer, region, targetSize);
    // The returned bounds are trimmed to content; with targetSize they are in the read's pyramid level, and only the
    // unscaled region is meaningful in document pixels.
    return { image: read.image, bounds: targetSize ? region : read.bounds };
  }

  /**
   * The layer's pixels over exactly `region`, transparent where it has none (img2img's init image), at most `maxSide`
   * on the longest side: Photoshop downsamples the overlapping part while reading, which lands at its scaled offset.
   */
  private async readRegion(doc: PsDocument, layer: PsLayer, layerBounds: Bounds, region: Bounds, maxSide: number): Promise<LayerPixels> {
    const overlap = intersect(layerBounds, region);
    if (!overlap) throw new HostError(`Layer “${layer.name}” has no pixels where the results go. Choose another layer to restyle.`);
    const scale = Math.min(1, maxSide / Math.max(boundsWidth(region), boundsHeight(region)));
    const width = Math.max(1, Math.round(boundsWidth(region) * scale));
    const height = Math.max(1, Math.round(boundsHeight(region) * scale));
    const read = await this.readPixels(doc, layer, overlap, scale < 1 ? { width: Math.max(1, Math.round(boundsWidth(overlap) * scale)) } : undefined);
    // unscaled, the returned bounds (trimmed to content) say where the pixels are; scaled, the overlap's corner does
    const at = scale < 1 ? overlap : read.bounds;
    const left = Math.round((at.left - region.left) * scale);
    const top = Math.round((at.top - region.top) * scale);
    const part = read.image;
    return { image: { width, height, data: pasteInto(part.data, part.width, part.height, 4, left, top, width, height) }, bounds: region };
  }

  /** imaging.getPixels of one layer as sRGB 8-bit RGBA, in a short modal scope of its own. */
  private async readPixels(doc: PsDocument, layer: PsLayer, sourceBounds: Bounds, targetSize: { width: number } | { height: number } | undefined): Promise<LayerPixels> {
    try {
      // A short modal scope for the read only; it closes before anything is sent to the companion.
      return await this.ps.core.executeAsModal(
        async () => {
          const got = await this.ps.imaging.getPixels({
            documentID: doc.id,
            layerID: layer.id,
            sourceBounds,
            ...(targetSize ? { targetSize } : {}),
            colorSpace: 'RGB',
            colorProfile: SRGB_PROFILE,
            componentSize: 8,
          });
          const { imageData } = got;
          try {
            if (imageData.width === 0 || imageData.height === 0) {
              throw new HostError(`Layer “${layer.name}” has no visible pixels in that area.`);
            }
            const data = await imageData.getData({ chunky: true });
            if (!(data instanceof Uint8Array)) {
              throw new HostError('Photoshop returned 16/32-bit pixels although 8-bit were requested.');
            }
            return { image: toRgba8(data, imageData.width, imageData.height, imageData.components), bounds: roundOut(got.sourceBounds) };
          } finally {
            await imageData.dispose();
          }
        },
        { commandName: 'StyleStudio: read layer' },
      );
    } catch (err) {
      throw asHostError(err, `read layer “${layer.name}”`);
    }
  }

  async readSelection(documentId: number): Promise<SelectionMask | null> {
    const doc = this.usableDocument(documentId);
    const sel = doc.selection.bounds;
    const bounds = sel ? intersect(roundOut(sel), canvasOf(doc)) : null;
    if (!bounds) return null;
    try {
      return await this.ps.core.executeAsModal(
        async () => {
          const got = await this.ps.imaging.getSelection({ documentID: doc.id, sourceBounds: bounds });
          const { imageData } = got;
          try {
            if (imageData.components !== 1) throw new HostError(`Photoshop returned a ${imageData.components}-component selection; expected 1.`);
            const data = toMask8(await imageData.getData({ chunky: true }));
            const from = roundOut(got.sourceBounds);
            const alpha = pasteInto(data, imageData.width, imageData.height, 1, from.left - bounds.left, from.top - bounds.top, boundsWidth(bounds), boundsHeight(bounds));
            return { bounds, alpha };
          } finally {
            await imageData.dispose();
          }
        },
        { commandName: 'StyleStudio: read selection' },
      );
    } catch (err) {
      throw asHostError(err, 'read the selection');
    }
  }

  async insertResults(request: InsertRequest): Promise<InsertedResults> {
    if (request.results.length === 0) throw new HostError('There are no results to insert.');
    const doc = this.usableDocument(request.documentId);
    const sixteenBit = doc.bitsPerChannel === 'bitDepth16';
    try {
      return await this.ps.core.executeAsModal(
        async (ctx) => {
          const suspension = await ctx.hostControl.suspendHistory({ documentID: doc.id, name: `StyleStudio: ${request.groupName}` });
          try {
            const group = await doc.createLayerGroup({ name: request.groupName });
            if (!group) throw new HostError('Photoshop did not create the results group.');
            const above = request.aboveLayerId === null ? null : findLayer(doc, request.aboveLayerId);
            if (above && above.id !== group.id) await group.move(above, PLACE_BEFORE);
            const layerIds: number[] = [];
            // Last variation first: each layer goes to the top of the group, so variation 1 ends on top.
            for (const result of [...request.results].reverse()) {
              const layer = await doc.createPixelLayer({ name: `${request.layerPrefix} · seed ${result.seed}` });
              if (!layer) throw new HostError('Photoshop did not create a result layer.');
              await layer.move(group, PLACE_INSIDE);
              const { left, top, image } = request.mask ? placeCovering(result.image, request.mask.bounds) : placeFitted(result.image, request.target);
              const { width, height } = image;
              const imageData = await this.ps.imaging.createImageDataFromBuffer(sixteenBit ? to16BitRange(image.data) : image.data, {
                width,
                height,
                components: 4,
                colorSpace: 'RGB',
                colorProfile: SRGB_PROFILE,
              });
              try {
                await this.ps.imaging.putPixels({ documentID: doc.id, layerID: layer.id, imageData, replace: true, targetBounds: { left, top, width, height } });
              } finally {
                await imageData.dispose();
              }
              if (request.mask) await this.addLayerMask(doc, layer, request.mask, sixteenBit);
              layerIds.unshift(layer.id);
            }
            await ctx.hostControl.resumeHistory(suspension, true);
            return { groupId: group.id, layerIds };
          } catch (err) {
            // Roll the half-made group back so a failure leaves the document as it was.
            await ctx.hostControl.resumeHistory(suspension, false).catch(() => undefined);
            throw err;
          }
        },
        { commandName: 'StyleStudio: insert results' },
      );
    } catch (err) {
      throw asHostError(err, 'insert the results');
    }
  }

  /**
   * Gives `layer` a layer mask equal to the captured selection: a hide-all mask (batchPlay; the DOM has no call for it)
   * with the selection's coverage written into its box. Neither step reads or changes the document's selection. The
   * mask command acts on the document in front, so a job's document the user has left is brought back first.
   */
  private async addLayerMask(doc: PsDocument, layer: PsLayer, mask: SelectionMask, sixteenBit: boolean): Promise<void> {
    if (this.ps.app.activeDocument?.id !== doc.id) this.ps.app.activeDocument = doc;
    await this.ps.action.batchPlay(
      [
        { _obj: 'select', _target: [{ _ref: 'layer', _id: layer.id }], makeVisible: false },
        { _obj: 'make', new: { _class: 'channel' }, at: { _ref: 'channel', _enum: 'channel', _value: 'mask' }, using: { _enum: 'userMaskEnabled', _value: 'hideAll' } },
      ],
      {},
    );
    const width = boundsWidth(mask.bounds);
    const height = boundsHeight(mask.bounds);
    const imageData = await this.ps.imaging.createImageDataFromBuffer(sixteenBit ? to16BitRange(mask.alpha) : mask.alpha, {
      width,
      height,
      components: 1,
      colorSpace: 'Grayscale',
      colorProfile: MASK_PROFILE,
    });
    try {
      await this.ps.imaging.putLayerMask({ documentID: doc.id, layerID: layer.id, kind: 'user', imageData, replace: true, targetBounds: mask.bounds });
    } finally {
      await imageData.dispose();
    }
  }
}

/**
 * A sw × sh image of `channels` bytes per pixel copied into a zeroed dw × dh one with its corner at (left, top),
 * clipped to it: a read placed in the box it was asked for (Photoshop trims reads to content).
 */
function pasteInto(src: Uint8Array, sw: number, sh: number, channels: number, left: number, top: number, dw: number, dh: number): Uint8Array {
  const out = new Uint8Array(dw * dh * channels);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(sw, dw - left);
  if (x1 <= x0) return out;
  for (let sy = Math.max(0, -top); sy < sh && top + sy < dh; sy++) {
    out.set(src.subarray((sy * sw + x0) * channels, (sy * sw + x1) * channels), ((top + sy) * dw + left + x0) * channels);
  }
  return out;
}
