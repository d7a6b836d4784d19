/**
 * The part of the `photoshop` module PhotoshopHost uses, as plain structural types. PhotoshopHost takes
 * this instead of importing `photoshop`, so tests can hand it a typed fake. The assertion at the bottom
 * fails to compile if the real module (as @types/photoshop describes it) stops fitting this shape.
 */
import type * as RealPhotoshop from 'photoshop';
import type { AnchorPosition, ElementPlacement } from 'photoshop/dom/Constants';
import type { imaging as Imaging } from 'photoshop/dom/ImagingModule';

export type { AnchorPosition, ElementPlacement };

/** Photoshop's collections (Layers, Documents) are array-like proxies; only indexing is relied on. */
export interface PsList<T> {
  readonly length: number;
  readonly [index: number]: T;
}

export interface PsBounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Pixel data handed to and from the imaging API; the real interface, since putPixels takes exactly it. */
export type PsImageData = Imaging.PhotoshopImageData;

export interface PsLayer {
  readonly id: number;
  name: string;
  /** Constants.LayerKind value, e.g. "pixel", "group", "smartObject". */
  readonly kind: string;
  readonly boundsNoEffects: PsBounds;
  readonly layers: PsList<PsLayer> | null;
  move(relativeTo: PsLayer, placement: ElementPlacement): unknown;
  scale(widthPercent: number, heightPercent: number, anchor?: AnchorPosition): Promise<void>;
}

export interface PsDocument {
  readonly id: number;
  readonly title: string;
  readonly width: number;
  readonly height: number;
  /** Constants.DocumentMode value, e.g. "RGBColorMode". */
  readonly mode: string;
  /** Constants.BitsPerChannelType value, e.g. "bitDepth8". */
  readonly bitsPerChannel: string;
  readonly layers: PsList<PsLayer>;
  readonly activeLayers: PsList<PsLayer>;
  readonly selection: { readonly bounds: PsBounds | null };
  createPixelLayer(options: { name: string }): Promise<PsLayer | null>;
  createLayerGroup(options: { name: string }): Promise<PsLayer | null>;
}

export interface PsHistorySuspension {
  historySuspensionID: number;
}

export interface PsExecutionContext {
  readonly hostControl: {
    suspendHistory(params: { documentID: number; name: string }): Promise<PsHistorySuspension>;
    resumeHistory(params: PsHistorySuspension, commit?: boolean): Promise<void>;
  };
}

/** An action descriptor for `action.batchPlay` (Photoshop's low-level commands). */
export interface PsDescriptor {
  _obj: string;
  [key: string]: unknown;
}

export interface PhotoshopApi {
  readonly app: {
    /** Settable: the document in front, which batchPlay commands without a document reference act on. */
    activeDocument: PsDocument | null;
    readonly documents: PsList<PsDocument>;
  };
  readonly core: {
    executeAsModal<T>(fn: (ctx: PsExecutionContext) => Promise<T>, options: { commandName: string }): Promise<T>;
  };
  readonly action: {
    addNotificationListener(events: string[], listener: (event: string, descriptor: object) => void): Promise<void>;
    removeNotificationListener(events: string[], listener: (event: string, descriptor: object) => void): Promise<void>;
    batchPlay(commands: PsDescriptor[], options: { synchronousExecution?: boolean }): Promise<unknown[]>;
  };
  readonly imaging: {
    getPixels(options: {
      documentID: number;
      layerID: number;
      sourceBounds: PsBounds;
      targetSize?: { width?: number; height?: number };
      colorSpace: string;
      colorProfile: string;
      componentSize: 8;
    }): Promise<{ imageData: PsImageData; sourceBounds: PsBounds }>;
    createImageDataFromBuffer(
      buffer: Uint8Array | Uint16Array,
      options: { width: number; height: number; components: number; colorSpace: string; colorProfile: string },
    ): Promise<PsImageData>;
    putPixels(options: {
      documentID: number;
      layerID: number;
      imageData: PsImageData;
      replace: boolean;
      targetBounds: { left: number; top: number; width: number; height: number };
    }): Promise<void>;
    /** The selection as one grayscale component per pixel (0 unselected … 255, or 0 … 32768 in 16-bit documents). */
    getSelection(options: { documentID: number; sourceBounds: PsBounds }): Promise<{ imageData: PsImageData; sourceBounds: PsBounds }>;
    /** Writes grayscale pixels into a layer's existing user (pixel) mask. */
    putLayerMask(options: {
      documentID: number;
      layerID: number;
      kind: 'user';
      imageData: PsImageData;
      replace: boolean;
      targetBounds: PsBounds;
    }): Promise<void>;
  };
}

/** The `uxp.storage.secureStorage` subset the token store uses. */
export interface SecureStorageApi {
  getItem(key: string): Promise<Uint8Array | null | undefined>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

/** Enum values as Photoshop defines them (the enums are declared, not emitted, by @types/photoshop). */
export const PLACE_BEFORE = 'placeBefore' as ElementPlacement;
export const PLACE_INSIDE = 'placeInside' as ElementPlacement;
export const ANCHOR_TOP_LEFT = 'top-left' as AnchorPosition;

// Compile-time check that @types/photoshop's module satisfies PhotoshopApi (never executed).
type Assignable<To, From extends To> = From;
export type RealPhotoshopFits = Assignable<PhotoshopApi, typeof RealPhotoshop>;
