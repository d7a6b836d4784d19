/**
 * Checks that decide before any session exists whether a styled job can run at this size with these style
 * layers, each failing with one message that names the fix.
 */
import type { AttentionLayer, AttentionPlan } from '../models/unet/attention-plan';
import type { StyleAdapter } from '../models/adapter';
import { EngineError } from '../runtime/errors';
import type { ModelSet } from '../runtime/model-set';

/** How many times the UNet has halved the latent at a layer: down_blocks.i → i, mid_block → n−1, up_blocks.i → n−1−i. */
export function layerLevel(layer: AttentionLayer, blocks: number): number {
  const m = /^(down_blocks|up_blocks)\.(\d+)\./.exec(layer.path);
  if (m) return m[1] === 'down_blocks' ? Number(m[2]) : blocks - 1 - Number(m[2]);
  if (layer.path.startsWith('mid_block.')) return blocks - 1;
  throw new EngineError('STYLE_LAYERS', `${layer.path}: not inside a down, mid or up block`);
}

/** The block a layer belongs to, for messages ("up_blocks.0.attentions.1"). */
function blockOf(layer: AttentionLayer): string {
  return layer.path.split('.transformer_blocks')[0]!;
}

/**
 * Every style layer sees at least 2 tokens (AdaIN's statistics are over the tokens of a layer; the smallest
 * resolution a layer runs at is latent / 2^level). `stride` is the engine's size multiple, for the suggestion.
 */
export function checkStyleLayerTokens(plan: AttentionPlan, blocks: number, latentHeight: number, latentWidth: number, vaeFactor: number): void {
  for (const layer of plan.styleLayers) {
    const f = 2 ** layerLevel(layer, blocks);
    const tokens = (latentHeight / f) * (latentWidth / f);
    if (tokens < 2) {
      const side = 2 * f * vaeFactor;
      throw new EngineError('BAD_SIZE',
        `at ${latentWidth * vaeFactor}×${latentHeight * vaeFactor} the style layer ${blockOf(layer)} sees ${tokens} token; AdaIN needs at least 2 ` +
        `(use at least ${side}×${side / 2} or ${side / 2}×${side}, or style layers at a higher resolution)`);
    }
  }
}

/**
 * The adapter has weights of the right role for every style layer: CSGO's down_blocks weights are its content
 * branch (never used as style) and it has none for the mid block. h94 IP-Adapters have one role everywhere.
 */
export function checkAdapterRoles(adapter: StyleAdapter, plan: AttentionPlan): void {
  const missing = plan.styleLayers.filter((l) => adapter.store.get(`ip_adapter.${l.processorId}.to_k_ip.weight`) === undefined);
  if (adapter.kind === 'csgo') {
    const content = plan.styleLayers.filter((l) => l.path.startsWith('down_blocks.'));
    if (content.length > 0) {
      throw new EngineError('STYLE_LAYERS',
        `CSGO's weights in ${[...new Set(content.map(blockOf))].join(', ')} are its content branch, not style weights; ` +
        'choose style layers in up_blocks (the default) or a block under it');
    }
  }
  if (missing.length > 0) {
    throw new EngineError('STYLE_LAYERS',
      `${adapter.file} has no weights for the style layers of ${[...new Set(missing.map(blockOf))].join(', ')}; ` +
      `choose ${adapter.kind === 'csgo' ? 'up_blocks (the default)' : 'the default style layers or "all"'}`);
  }
}

/** Every check of a styled request at this latent size: adapter keys, adapter roles, tokens per style layer. */
export function checkStyleLayers(m: ModelSet, attention: AttentionPlan, latentHeight: number, latentWidth: number): void {
  const adapter = m.adapter;
  if (adapter === null) throw new EngineError('BAD_REQUEST', 'a style image needs a style adapter and an image encoder');
  if (adapter.unknownKeys.length > 0) {
    const shown = adapter.unknownKeys.slice(0, 5).join(', ');
    throw new EngineError('ADAPTER_KEYS', `${adapter.file}: ${adapter.unknownKeys.length} weights outside the ${adapter.kind} layout (${shown}${adapter.unknownKeys.length > 5 ? ', …' : ''}); is this the right adapter file?`);
  }
  checkAdapterRoles(adapter, attention);
  checkStyleLayerTokens(attention, m.unetConfig.block_out_channels.length, latentHeight, latentWidth, m.vaeScaleFactor);
}
