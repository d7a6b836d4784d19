/**
 * Style-adapter checkpoints as users have them, matched to the UNet's attention layers:
 *   h94 ip-adapter_sdxl            image_proj.{proj,norm} (Linear + LayerNorm)      + ip_adapter.{id}.to_{k,v}_ip.weight
 *   h94 ip-adapter-plus_sdxl_vit-h image_proj.{latents,proj_in,layers..,norm_out}  + ip_adapter.…
 *   CSGO csgo_4_32                 style_image_proj (Resampler), ip_adapter.… (content weights in down_blocks,
 *                                  style weights in up_blocks), content_image_proj (unused), conv_in_unet_sd (optional)
 * `{id}` is the layer's position in diffusers' attn_processors order (attention-plan.ts). Every style layer of the
 * plan must find both of its weights with shape [layer channels, cross_attention_dim]; anything else is an error
 * naming the file, the key and the layer. Keys that the plan does not use are listed as ignored on purpose.
 */
import type { IgnoredKeys } from '../weights/weight-store';
import { WeightStore } from '../weights/weight-store';
import { WeightError } from '../weights/errors';
import type { WeightScope } from '../weights/tensor';
import { type AttentionPlan, ipAdapterKeys } from './unet/attention-plan';
import type { StyleLayerWeights } from './unet/attention';
import { codedErrorClass } from '../../protocol';

export type ImageProjectionSpec =
  /** IP-Adapter ImageProjModel over CLIP image_embeds: Linear(clip → tokens·cross) + LayerNorm(cross). */
  | { readonly kind: 'linear'; readonly scope: WeightScope; readonly tokens: number; readonly inputDim: number; readonly crossDim: number }
  /** IP-Adapter Plus / CSGO Resampler over the penultimate hidden states. */
  | { readonly kind: 'resampler'; readonly scope: WeightScope; readonly tokens: number; readonly inputDim: number; readonly crossDim: number; readonly dim: number; readonly depth: number; readonly heads: number; readonly dimHead: number };

export type AdapterKind = 'ip-adapter' | 'ip-adapter-plus' | 'csgo';

export interface StyleAdapter {
  readonly kind: AdapterKind;
  readonly file: string;
  readonly store: WeightStore;
  readonly imageProjection: ImageProjectionSpec;
  /** Number of style tokens the projection produces. */
  readonly tokens: number;
  /** Which CLIP output the projection reads. */
  readonly features: 'image_embeds' | 'penultimate_hidden_states';
  /** CSGO's replacement for unet.conv_in, when the checkpoint carries one. */
  readonly convIn?: WeightScope;
  /**
   * The K/V weights of every style layer of `plan`, checked now (missing or mis-shaped → WeightError naming the
   * key, the file and the layer); returns the lookup the UNet builder uses.
   */
  styleWeights(plan: AttentionPlan, crossDim: number): (path: string) => StyleLayerWeights;
  /** Keys deliberately left unread for this plan (other layers' K/V, CSGO's content branch). */
  ignoredKeys(plan: AttentionPlan): IgnoredKeys;
  /** Keys outside every layout this adapter kind is known to carry (a different or corrupted checkpoint). */
  readonly unknownKeys: readonly string[];
  /** What a user should know about the file (known-harmless extras that are ignored). */
  readonly notes: readonly string[];
}

/**
 * Known-harmless extras: the published CSGO checkpoint also holds `controlnet_adapter_modules` (the official code
 * builds CSGO with a ControlNet adapter and loads them unconditionally); StyleStudio never uses them.
 */
const HARMLESS_EXTRAS = ['controlnet_adapter_modules'] as const;

export class AdapterError extends codedErrorClass('AdapterError', 'BAD_ADAPTER') {}

/** dim_head of every known Resampler checkpoint (h94 Plus, CSGO, diffusers' converter assumes it too). */
const RESAMPLER_DIM_HEAD = 64;

export function openStyleAdapter(file: string, crossDim: number): StyleAdapter {
  const store = WeightStore.open(file);
  const keys = store.keys();
  const has = (k: string) => store.get(k) !== undefined;
  let kind: AdapterKind;
  let projRoot: string;
  if (has('style_image_proj.latents') || has('style_image_proj.proj.weight')) {
    kind = 'csgo';
    projRoot = 'style_image_proj';
  } else if (has('image_proj.latents')) {
    kind = 'ip-adapter-plus';
    projRoot = 'image_proj';
  } else if (has('image_proj.proj.weight') && has('image_proj.norm.weight')) {
    kind = 'ip-adapter';
    projRoot = 'image_proj';
  } else {
    const roots = [...new Set(keys.map((k) => k.split('.')[0]))].join(', ');
    throw new AdapterError(`${file}: not a known style adapter (expected image_proj.* or style_image_proj.* with ip_adapter.*); top-level keys: ${roots}`);
  }
  if (!keys.some((k) => k.startsWith('ip_adapter.'))) throw new AdapterError(`${file}: has no ip_adapter.* weights`);
  const imageProjection = projectionSpec(store, projRoot, file, crossDim);
  const roots = new Set(['ip_adapter', projRoot, ...(kind === 'csgo' ? ['content_image_proj', 'conv_in_unet_sd', ...HARMLESS_EXTRAS] : [])]);
  const unknownKeys = keys.filter((k) => !roots.has(k.split('.')[0]!));
  const notes = HARMLESS_EXTRAS.filter((r) => kind === 'csgo' && keys.some((k) => k.startsWith(`${r}.`)))
    .map((r) => `${file}: ${r}.* (${keys.filter((k) => k.startsWith(`${r}.`)).length} tensors) is not used by StyleStudio and is ignored`);
  const convIn = has('conv_in_unet_sd.weight') ? store.child('conv_in_unet_sd') : undefined;
  return {
    kind,
    file,
    store,
    imageProjection,
    tokens: imageProjection.tokens,
    features: imageProjection.kind === 'linear' ? 'image_embeds' : 'penultimate_hidden_states',
    ...(convIn ? { convIn } : {}),
    unknownKeys,
    notes,
    styleWeights(plan, cross) {
      const byPath = new Map<string, StyleLayerWeights>();
      for (const layer of plan.styleLayers) {
        const { toK, toV } = ipAdapterKeys(layer);
        const scope = store.child('ip_adapter');
        try {
          byPath.set(layer.path, {
            toK: scope.tensor(toK, [layer.channels, cross]),
            toV: scope.tensor(toV, [layer.channels, cross]),
          });
        } catch (e) {
          if (e instanceof WeightError) throw new WeightError(e.key, `(style layer ${layer.path}, processor ${layer.processorId}) ${e.message}`, file);
          throw e;
        }
      }
      return (path: string) => {
        const w = byPath.get(path);
        if (!w) throw new AdapterError(`${path} is not a style layer of this plan`);
        return w;
      };
    },
    ignoredKeys(plan) {
      const used = new Set(plan.styleLayers.map((l) => String(l.processorId)));
      // CSGO: content K/V (to_k_ip_content, content-only layers) and the content projection are not StyleStudio's.
      return [...keys.filter((k) => k.startsWith('ip_adapter.') && !used.has(k.split('.')[1]!)), /^ip_adapter\.\d+\.to_[kv]_ip_content\.weight$/, /^content_image_proj\./,
        ...HARMLESS_EXTRAS.map((r) => new RegExp(`^${r}\\.`))];
    },
  };
}

function projectionSpec(store: WeightStore, root: string, file: string, crossDim: number): ImageProjectionSpec {
  const scope = store.child(root);
  const shapeOf = (name: string): readonly number[] => {
    const t = store.get(`${root}.${name}`);
    if (!t) throw new AdapterError(`${file}: ${root}.${name} is missing`);
    return t.shape;
  };
  if (store.get(`${root}.latents`) === undefined) {
    const [out, inputDim] = shapeOf('proj.weight') as [number, number];
    if (out % crossDim !== 0) {
      throw new AdapterError(`${file}: ${root}.proj.weight has ${out} outputs, not a multiple of the UNet's cross_attention_dim ${crossDim}`);
    }
    return { kind: 'linear', scope, tokens: out / crossDim, inputDim, crossDim };
  }
  const [, tokens, dim] = shapeOf('latents') as [number, number, number];
  const [, inputDim] = shapeOf('proj_in.weight') as [number, number];
  const [outDim] = shapeOf('proj_out.weight') as [number];
  if (outDim !== crossDim) throw new AdapterError(`${file}: ${root}.proj_out makes ${outDim}-wide tokens, the UNet's cross_attention_dim is ${crossDim}`);
  let depth = 0;
  while (store.get(`${root}.layers.${depth}.0.to_q.weight`) !== undefined) depth++;
  if (depth === 0) throw new AdapterError(`${file}: ${root} has latents but no layers.0.0.to_q.weight (not a Resampler)`);
  const [inner] = shapeOf('layers.0.0.to_q.weight') as [number];
  if (inner % RESAMPLER_DIM_HEAD !== 0) throw new AdapterError(`${file}: ${root}.layers.0.0.to_q has ${inner} outputs, not a multiple of ${RESAMPLER_DIM_HEAD}-wide heads`);
  return { kind: 'resampler', scope, tokens, inputDim, crossDim, dim, depth, heads: inner / RESAMPLER_DIM_HEAD, dimHead: RESAMPLER_DIM_HEAD };
}
