/** diffusers models/resnet.py: ResnetBlock2D (default time-scale-shift), Downsample2D, Upsample2D. */
import type { Value } from '../../onnx/graph';
import { add, reshape, staticDim } from '../../onnx/ops/basic';
import { conv2d, groupNorm, linear, silu, upsampleNearest } from '../../onnx/ops/nn';
import type { WeightScope } from '../../weights/tensor';

export interface ResnetBlock2DOptions {
  readonly outChannels: number;
  readonly groups: number;
  readonly eps: number;
}

/**
 * norm1 → SiLU → conv1 (+ time_emb_proj(SiLU(temb))) → norm2 → SiLU → conv2, plus the (1×1 conv) shortcut.
 * `temb` null: the VAE's resnets, which have no time_emb_proj.
 */
export function resnetBlock2D(w: WeightScope, x: Value, temb: Value | null, o: ResnetBlock2DOptions): Value {
  const inChannels = staticDim(x, 1);
  let h = groupNorm(w.child('norm1'), x, { groups: o.groups, eps: o.eps, silu: true });
  h = conv2d(w.child('conv1'), h, { outChannels: o.outChannels, kernel: 3, padding: 1 });
  if (temb) {
    const t = linear(w.child('time_emb_proj'), silu(temb), o.outChannels);
    h = add(h, reshape(t, [0, o.outChannels, 1, 1]));
  }
  h = groupNorm(w.child('norm2'), h, { groups: o.groups, eps: o.eps, silu: true });
  h = conv2d(w.child('conv2'), h, { outChannels: o.outChannels, kernel: 3, padding: 1 });
  const shortcut = inChannels === o.outChannels ? x : conv2d(w.child('conv_shortcut'), x, { outChannels: o.outChannels, kernel: 1 });
  return add(shortcut, h);
}

/** Downsample2D with use_conv: 3×3 conv, stride 2, padding 1 (downsample_padding). */
export function downsample2D(w: WeightScope, x: Value): Value {
  return conv2d(w.child('conv'), x, { outChannels: staticDim(x, 1), kernel: 3, stride: 2, padding: 1 });
}

/** Upsample2D with use_conv: nearest ×2 (F.interpolate scale_factor 2) then a 3×3 conv. */
export function upsample2D(w: WeightScope, x: Value): Value {
  const up = x.graph.at(w.path, () => upsampleNearest(x, 2));
  return conv2d(w.child('conv'), up, { outChannels: staticDim(x, 1), kernel: 3, padding: 1 });
}
