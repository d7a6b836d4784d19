import type { Bounds } from './host';
import { centredCoverCrop, sizeForAspect } from '../../protocol';

export function boundsWidth(b: Bounds): number {
  return b.right - b.left;
}

export function boundsHeight(b: Bounds): number {
  return b.bottom - b.top;
}

export function isEmpty(b: Bounds): boolean {
  return boundsWidth(b) <= 0 || boundsHeight(b) <= 0;
}

/** The overlap of two rectangles, or null when they do not overlap. */
export function intersect(a: Bounds, b: Bounds): Bounds | null {
  const r: Bounds = {
    left: Math.max(a.left, b.left),
    top: Math.max(a.top, b.top),
    right: Math.min(a.right, b.right),
    bottom: Math.min(a.bottom, b.bottom),
  };
  return isEmpty(r) ? null : r;
}

/** Photoshop's bounds may be fractional (vector content); widen to whole pixels. */
export function roundOut(b: Bounds): Bounds {
  return { left: Math.floor(b.left), top: Math.floor(b.top), right: Math.ceil(b.right), bottom: Math.ceil(b.bottom) };
}

export interface Placement {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Factor applied to the image to reach width × height. */
  readonly scale: number;
}

/** The target's width and height for placing a w × h image; an empty image or region is a RangeError. */
function placementTarget(w: number, h: number, target: Bounds): [number, number] {
  if (w <= 0 || h <= 0) throw new RangeError(`cannot place an image of ${w}×${h}`);
  const tw = boundsWidth(target);
  const th = boundsHeight(target);
  if (tw <= 0 || th <= 0) throw new RangeError(`cannot place into an empty region ${tw}×${th}`);
  return [tw, th];
}

/** Fits an image of w × h inside `target` keeping its aspect ratio, centred; whole-pixel result. */
export function fitInside(w: number, h: number, target: Bounds): Placement {
  const [tw, th] = placementTarget(w, h, target);
  const scale = Math.min(tw / w, th / h);
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  return {
    left: target.left + Math.floor((tw - width) / 2),
    top: target.top + Math.floor((th - height) / 2),
    width,
    height,
    scale,
  };
}

/** A rectangle of an image, in its pixels. */
export interface Crop {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The centred part of a w × h image that, scaled, covers `target` exactly: the whole image when the aspects match,
 * otherwise the middle, trimmed along the axis that is relatively longer (whole pixels).
 */
export function coverCrop(w: number, h: number, target: Bounds): Crop {
  const [tw, th] = placementTarget(w, h, target);
  return centredCoverCrop(w, h, tw, th);
}

/**
 * Output size for a generation from the aspect of the region it will fill: the longer side becomes
 * `longSide`, both sides rounded to multiples of `multiple` (the model's latent grid), at least one multiple.
 */
export function outputSizeFor(region: Bounds, longSide: number, multiple = 64): { width: number; height: number } {
  const w = boundsWidth(region);
  const h = boundsHeight(region);
  if (w <= 0 || h <= 0) return { width: longSide, height: longSide };
  return sizeForAspect(w, h, longSide, multiple);
}
