/**
 * The panel's only seam to Photoshop. PhotoshopHost implements it over the `photoshop`/`uxp` modules;
 * the end-to-end page implements it over a canvas. Everything else in the plugin sees only these types.
 */
import { codedErrorClass, type RgbaImage } from '../../protocol';

/** A rectangle in document pixels; right/bottom are exclusive. */
export interface Bounds {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** 8-bit sRGB pixels, 4 bytes per pixel (R, G, B, A), rows top to bottom: the protocol's one image type. */
export type { RgbaImage };

export interface LayerInfo {
  readonly id: number;
  readonly name: string;
  /** Nesting depth in the layers panel (0 = top level), for indenting a picker. */
  readonly depth: number;
  /** Whether the layer holds pixels that can be read (groups and adjustment layers do not). */
  readonly readable: boolean;
}

export interface DocumentInfo {
  readonly id: number;
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly layers: readonly LayerInfo[];
  /** The first selected layer, if any. */
  readonly activeLayerId: number | null;
  /** The selection's bounding box clipped to the canvas, or null when nothing is selected. */
  readonly selection: Bounds | null;
}

/** What the panel can work on right now. Refusals are values, so the UI can show them without try/catch. */
export type DocumentState =
  | { readonly kind: 'none' }
  | { readonly kind: 'unsupported'; readonly title: string; readonly reason: string }
  | { readonly kind: 'ready'; readonly doc: DocumentInfo };

export interface ReadLayerRequest {
  readonly documentId: number;
  readonly layerId: number;
  /** Crop the read to the selection's bounding box. */
  readonly selectionOnly: boolean;
  /** Longest side of the returned image; larger layers are downscaled by Photoshop while reading. */
  readonly maxSide: number;
  /**
   * Read exactly this document region instead (img2img's init image over the results' region): the layer's pixels
   * where it has any, transparent elsewhere; `selectionOnly` is ignored.
   */
  readonly region?: Bounds;
}

export interface LayerPixels {
  readonly image: RgbaImage;
  /** The document region the pixels came from (trimmed to the layer's content). */
  readonly bounds: Bounds;
}

/**
 * The selection as it was when captured: its bounding box (clipped to the canvas) and how selected each pixel of that
 * box is, so results can be masked to it later even if the user has selected something else meanwhile.
 */
export interface SelectionMask {
  readonly bounds: Bounds;
  /** One byte per pixel of `bounds`, rows top to bottom: 0 unselected … 255 fully selected (feathering, antialiasing). */
  readonly alpha: Uint8Array;
}

export interface ResultImage {
  readonly seed: number;
  readonly image: RgbaImage;
}

export interface InsertRequest {
  readonly documentId: number;
  /** Group name (derived from the prompt). */
  readonly groupName: string;
  /** Prefix of each layer name; the seed is appended. */
  readonly layerPrefix: string;
  /** Region the results are fitted into (selection or whole canvas), aspect kept, centred. Ignored with `mask`. */
  readonly target: Bounds;
  /**
   * Mask the results to this selection: each result covers `mask.bounds` (scaled to cover, centre-cropped) and gets a
   * layer mask made from `mask.alpha`. The document's current selection is left as it is.
   */
  readonly mask?: SelectionMask | null;
  /** The group is placed directly above this layer when it still exists. */
  readonly aboveLayerId: number | null;
  readonly results: readonly ResultImage[];
}

export interface InsertedResults {
  readonly groupId: number;
  readonly layerIds: readonly number[];
}

/** Where the pairing token is kept between sessions (UXP secure storage in Photoshop). */
export interface TokenStore {
  load(): Promise<string | null>;
  save(token: string): Promise<void>;
  clear(): Promise<void>;
}

/** Turns pixels into something an <img> can show (previews, result thumbnails). */
export interface ImageUrls {
  create(image: RgbaImage): string;
  release(url: string): void;
}

export interface Host {
  documentState(): Promise<DocumentState>;
  /**
   * Calls `onChange` (debounced) when Photoshop reports a change that can alter the document state: another document,
   * layers made, deleted, renamed, selected, a selection. Returns a function that stops watching.
   */
  watchDocument?(onChange: () => void): () => void;
  /** A short read; never waits on anything but Photoshop. Throws HostError with a user-facing message. */
  readLayer(request: ReadLayerRequest): Promise<LayerPixels>;
  /** The document's current selection, or null when nothing is selected. A short read. Throws HostError. */
  readSelection(documentId: number): Promise<SelectionMask | null>;
  /** Adds all results as one history step. Throws HostError with a user-facing message. */
  insertResults(request: InsertRequest): Promise<InsertedResults>;
  readonly tokens: TokenStore;
  readonly imageUrls: ImageUrls;
}

/** A failure the user can act on; `message` is shown in the panel as is. */
export class HostError extends codedErrorClass('HostError', 'HOST') {}
