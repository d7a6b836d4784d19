/** Output size rules and SDXL's micro-conditioning (time ids). */
import { offStrideMessage } from '../../protocol';

/** The VAE downsamples by 8 and the UNet by 2 per down block that downsamples: SDXL needs multiples of 32, SD 1.5-type
 * configs 8 × 2^(downsamples); `multiple` is the model's. */
export function checkImageSize(width: number, height: number, multiple: number, maxSide: number): void {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    const offStride = offStrideMessage(name, v, multiple);
    if (offStride !== null) throw new RangeError(offStride);
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
