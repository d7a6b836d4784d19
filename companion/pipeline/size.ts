/** Output size rules and SDXL's micro-conditioning (time ids). */

/** SDXL's VAE downsamples by 8 and the UNet by another 4 (three down blocks), hence multiples of 64 for
 * SDXL-type UNets; SD 1.5-type configs need multiples of 8 times 2^(downsamples). */
export function checkImageSize(width: number, height: number, multiple: number, maxSide: number): void {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    if (v % multiple !== 0) {
      const lo = Math.max(multiple, Math.floor(v / multiple) * multiple);
      throw new RangeError(`${name} ${v} is not a multiple of ${multiple}; try ${lo} or ${lo + multiple}`);
    }
    if (v > maxSide) throw new RangeError(`${name} ${v} exceeds the maximum of ${maxSide}`);
  }
}

/**
 * SDXL `add_time_ids` = [original_h, original_w, crop_top, crop_left, target_h, target_w], the same for
 * the negative side (diffusers' defaults when no negative_original_size is given).
 */
export function sdxlTimeIds(width: number, height: number): Float32Array {
  return new Float32Array([height, width, 0, 0, height, width]);
}
