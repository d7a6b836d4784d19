/**
 * What each attention layer of the UNet does, decided before any node is emitted.
 *
 * Layer order is diffusers' `unet.attn_processors` order (module registration order: all down_blocks, then all
 * up_blocks, then mid_block; attn1 before attn2 inside each transformer block). Adapter checkpoints
 * (h94 IP-Adapter, CSGO) number their `to_k_ip`/`to_v_ip` keys by that position, so attn2 layers get odd ids.
 */
import { type UNetConfig, unetDims } from './config';
import { codedErrorClass } from '../../../protocol';

export interface AttentionLayer {
  /** Module path, e.g. "up_blocks.0.attentions.1.transformer_blocks.3.attn2". */
  readonly path: string;
  readonly role: 'self' | 'cross';
  /** Position in diffusers' attn_processors order (the adapter checkpoints' key number). */
  readonly processorId: number;
  readonly channels: number;
  readonly heads: number;
}

/** Which cross-attention layers receive the style tokens. */
export type StyleLayerSelection =
  | { readonly preset: 'none' }
  /** CSGO / official StyleStudio `BLOCKS['style'] = ["up_blocks"]`: every attn2 of the up blocks. */
  | { readonly preset: 'csgo' }
  /** InstantStyle's style block: `up_blocks.0.attentions.1`. */
  | { readonly preset: 'instantstyle' }
  | { readonly preset: 'all' }
  /** Any list of module paths ("down_blocks.2.attentions.1", "up_blocks", a single ...attn2). */
  | { readonly preset: 'custom'; readonly blocks: readonly string[] };

export type AttentionKind =
  /** attn1; `teacherShare`: queries and keys are gathered by the per-row teacher index input. */
  | { readonly kind: 'self'; readonly teacherShare: boolean }
  /** attn2 that sees only the text tokens (the style tokens, if any, are split off and ignored). */
  | { readonly kind: 'text' }
  /** attn2 with the style branch: ip-add / AdaIN blend driven by graph inputs; teacher rows text-only. */
  | { readonly kind: 'style'; readonly tokens: number };

export interface AttentionPlanOptions {
  readonly style: StyleLayerSelection;
  /** Number of style tokens appended to the text tokens in encoder_hidden_states (0 without an adapter). */
  readonly styleTokens: number;
  /** Emit teacher self-attention sharing (gather index input) in every attn1. */
  readonly teacherShare: boolean;
  /** References whose tokens are concatenated (default 1); above 1 the graph takes a per-row token bias. */
  readonly styleSlots?: number;
}

export interface AttentionPlan {
  readonly layers: readonly AttentionLayer[];
  readonly styleLayers: readonly AttentionLayer[];
  readonly styleTokens: number;
  /** Reference slots the style tokens hold (styleTokens = slots × the adapter's tokens per image). */
  readonly styleSlots: number;
  readonly teacherShare: boolean;
  /** Throws for a path that is not an attention layer of this UNet. */
  kindOf(path: string): AttentionKind;
}

export class AttentionPlanError extends codedErrorClass('AttentionPlanError', 'BAD_ATTENTION_PLAN') {}

/** Every attention layer of the UNet described by `c`, in diffusers' attn_processors order. */
export function attentionLayers(c: UNetConfig): AttentionLayer[] {
  const dims = unetDims(c);
  const n = c.block_out_channels.length;
  const paths: { path: string; channels: number; heads: number }[] = [];
  const transformer = (prefix: string, attentions: number, layers: number, channels: number, heads: number) => {
    for (let a = 0; a < attentions; a++) {
      for (let t = 0; t < layers; t++) {
        for (const which of ['attn1', 'attn2']) {
          paths.push({ path: `${prefix}.attentions.${a}.transformer_blocks.${t}.${which}`, channels, heads });
        }
      }
    }
  };
  c.down_block_types.forEach((type, i) => {
    if (type === 'CrossAttnDownBlock2D') {
      transformer(`down_blocks.${i}`, c.layers_per_block, dims.transformerLayers[i]!, c.block_out_channels[i]!, dims.heads[i]!);
    }
  });
  c.up_block_types.forEach((type, i) => {
    const r = n - 1 - i; // up blocks mirror the down blocks
    if (type === 'CrossAttnUpBlock2D') {
      transformer(`up_blocks.${i}`, c.layers_per_block + 1, dims.transformerLayers[r]!, c.block_out_channels[r]!, dims.heads[r]!);
    }
  });
  transformer('mid_block', 1, dims.transformerLayers[n - 1]!, c.block_out_channels[n - 1]!, dims.heads[n - 1]!);
  return paths.map((p, processorId) => ({
    ...p,
    processorId,
    role: p.path.endsWith('attn1') ? 'self' : 'cross',
  }));
}

/** True when `path` is `prefix` itself or lies inside it (segment boundary, so "attentions.1" ≠ "attentions.10"). */
export function isWithin(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

function styleBlocks(sel: StyleLayerSelection): readonly string[] {
  switch (sel.preset) {
    case 'none': return [];
    case 'csgo': return ['up_blocks'];
    case 'instantstyle': return ['up_blocks.0.attentions.1'];
    case 'all': return ['down_blocks', 'mid_block', 'up_blocks'];
    case 'custom': return sel.blocks;
    default: {
      const never: never = sel;
      throw new AttentionPlanError(`unknown style layer selection ${JSON.stringify(never)}`);
    }
  }
}

export function planAttention(c: UNetConfig, o: AttentionPlanOptions): AttentionPlan {
  const layers = attentionLayers(c);
  const cross = layers.filter((l) => l.role === 'cross');
  const blocks = styleBlocks(o.style);
  for (const b of blocks) {
    if (!cross.some((l) => isWithin(l.path, b))) {
      throw new AttentionPlanError(
        `style block "${b}" contains no cross-attention layer of this UNet (cross-attention blocks: ${[...new Set(cross.map((l) => l.path.split('.transformer_blocks')[0]))].join(', ')})`);
    }
  }
  const styleLayers = cross.filter((l) => blocks.some((b) => isWithin(l.path, b)));
  if (styleLayers.length > 0 && !(Number.isInteger(o.styleTokens) && o.styleTokens > 0)) {
    throw new AttentionPlanError(`${styleLayers.length} style layers planned but styleTokens = ${o.styleTokens}`);
  }
  const byPath = new Map(layers.map((l) => [l.path, l]));
  const styled = new Set(styleLayers.map((l) => l.path));
  const slots = o.styleSlots ?? 1;
  if (!(Number.isInteger(slots) && slots >= 1)) throw new AttentionPlanError(`style slots must be a positive integer, got ${slots}`);
  return {
    layers,
    styleLayers,
    styleTokens: o.styleTokens * slots,
    styleSlots: slots,
    teacherShare: o.teacherShare,
    kindOf(path: string): AttentionKind {
      const l = byPath.get(path);
      if (!l) throw new AttentionPlanError(`"${path}" is not an attention layer of this UNet`);
      if (l.role === 'self') return { kind: 'self', teacherShare: o.teacherShare };
      return styled.has(path) ? { kind: 'style', tokens: o.styleTokens * slots } : { kind: 'text' };
    },
  };
}

/** Keys of a layer's style weights inside an adapter's `ip_adapter` dict ("17.to_k_ip.weight"). */
export function ipAdapterKeys(layer: AttentionLayer): { readonly toK: string; readonly toV: string } {
  if (layer.role !== 'cross') throw new AttentionPlanError(`${layer.path} is a self-attention layer: it has no adapter weights`);
  return { toK: `${layer.processorId}.to_k_ip.weight`, toV: `${layer.processorId}.to_v_ip.weight` };
}
