/**
 * Aspect arithmetic both programs need the same way: the panel sizes and places results, the companion sizes and crops
 * an init image or mask. Pure numbers, no images.
 */

/** An output size with `width`:`height`'s aspect: the long side `longSide`, the other rounded to a multiple (≥ one). */
export function sizeForAspect(width: number, height: number, longSide: number, multiple: number): { width: number; height: number } {
  const snap = (v: number) => Math.max(multiple, Math.round(v / multiple) * multiple);
  return width >= height
    ? { width: snap(longSide), height: snap((longSide * height) / width) }
    : { width: snap((longSide * width) / height), height: snap(longSide) };
}

/**
 * The centred part of a w × h image that, scaled, covers a tw × th target exactly: the whole image when the aspects
 * match, otherwise the middle, trimmed along the relatively longer axis (whole pixels).
 */
export function centredCoverCrop(w: number, h: number, tw: number, th: number): { left: number; top: number; width: number; height: number } {
  const scale = Math.max(tw / w, th / h);
  const width = Math.min(w, Math.max(1, Math.round(tw / scale)));
  const height = Math.min(h, Math.max(1, Math.round(th / scale)));
  return { left: Math.floor((w - width) / 2), top: Math.floor((h - height) / 2), width, height };
}
