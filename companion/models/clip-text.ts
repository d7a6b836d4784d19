/**
 * transformers' CLIPTextModel / CLIPTextModelWithProjection (modeling_clip.py, transformers 5) as ONNX graphs,
 * from the folder's config.json and safetensors. SDXL uses hidden_states[-2] of both encoders and the projected
 * pooled embedding (text_embeds) of the second.
 *
 *   ClipTextConfig                             zod schema of config.json (keys keep transformers' spelling)
 *   openClipText(component, { variant })       { config, store } from a diffusers component folder
 *   clipTextModel(root, config, inputIds, o)   emits the network into inputIds' graph; returns the values asked for
 *   buildClipTextGraph(folder, o)              a complete Graph with inputs/outputs, ready to serialise
 */
import { z } from 'zod';
import { Graph, GraphBuildError, type Value } from '../onnx/graph';
import type { Lowering } from '../onnx/lowering';
import { add, argMax, cast, equal, gather, matmul, squeeze, unsqueeze } from '../onnx/ops/basic';
import { type Activation, activation, attention, finfoMin, layerNorm, linear } from '../onnx/ops/nn';
import type { WeightScope } from '../weights/tensor';
import { type DiffusersComponent, parseConfig, type WeightOptions } from '../weights/diffusers';
import { type IgnoredKeys, WeightStore } from '../weights/weight-store';

const HIDDEN_ACT = {
  quick_gelu: 'quick_gelu',
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
} as const satisfies Record<string, Activation>;

export const ClipTextConfig = z
  .object({
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
    vocab_size: z.number().int().positive(),
    hidden_act: z.enum(['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh']),
    layer_norm_eps: z.number().positive(),
    // transformers: eos_token_id == 2 is the legacy config → pool at argmax(input_ids) (CLIPTextModel.forward).
    eos_token_id: z.number().int(),
    projection_dim: z.number().int().positive().optional(),
    architectures: z.array(z.string()).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.hidden_size % c.num_attention_heads !== 0) {
      ctx.addIssue({ code: 'custom', message: `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}` });
    }
  });
export type ClipTextConfig = z.infer<typeof ClipTextConfig>;

export interface ClipTextFolder {
  /** Component name, e.g. "text_encoder_2" (names the graph). */
  readonly name: string;
  readonly config: ClipTextConfig;
  readonly store: WeightStore;
  /** Set when the weight choice differs from what was asked (fp16 variant missing). */
  readonly note: string | null;
}

/** config.json (zod-checked, errors name the file) + the weight file diffusers would pick for `options`. */
export function openClipText(component: DiffusersComponent, options: WeightOptions = {}): ClipTextFolder {
  const config = parseConfig(ClipTextConfig, component.config(), component.configFile);
  const choice = component.weights(options);
  return { name: component.name, config, store: choice.open(), note: choice.note };
}

export interface ClipTextOptions {
  /** hidden_states indices to return, Python style (-2 = penultimate). Default [-2]. */
  readonly hiddenStates?: readonly number[];
  /** Also compute final_layer_norm(last layer) (last_hidden_state) and the pooled output. Default false. */
  readonly final?: boolean;
  /** Apply text_projection to the pooled output (CLIPTextModelWithProjection's text_embeds). Default false. */
  readonly projection?: boolean;
}

export interface ClipTextValues {
  /** hidden_states[i] for each requested index, keyed by the normalised (non-negative) index. */
  readonly hiddenStates: ReadonlyMap<number, Value>;
  readonly lastHiddenState?: Value;
  readonly pooled?: Value;
  readonly textEmbeds?: Value;
}

/** hidden_states has num_hidden_layers + 1 entries: the embeddings, then each layer's output (before final LN). */
export function normaliseHiddenIndex(index: number, layers: number): number {
  const n = index < 0 ? index + layers + 1 : index;
  if (!Number.isInteger(n) || n < 0 || n > layers) {
    throw new GraphBuildError(`hidden_states index ${index} out of range for ${layers} layers (${layers + 1} states)`);
  }
  return n;
}

/**
 * The text transformer's scope: real checkpoints (and CLIPTextModelWithProjection) nest it under
 * `text_model.`; transformers 5 saves a bare CLIPTextModel without that prefix. Both load in transformers.
 */
function textModelScope(root: WeightScope): WeightScope {
  return root.has('text_model.embeddings.token_embedding.weight') ? root.child('text_model') : root;
}

/** Additive causal mask [1, 1, S, S]: 0 on and below the diagonal, finfo(dtype).min above (create_causal_mask). */
function causalMask(g: Graph, seq: number): Value {
  const min = finfoMin(g.computeType);
  const data = new Array<number>(seq * seq);
  for (let i = 0; i < seq; i++) for (let j = 0; j < seq; j++) data[i * seq + j] = j > i ? min : 0;
  return g.constant(g.computeType, [1, 1, seq, seq], data);
}

function encoderLayer(w: WeightScope, c: ClipTextConfig, x: Value, mask: Value): Value {
  const g = x.graph;
  const d = c.hidden_size;
  const attnScope = w.child('self_attn');
  const h = layerNorm(w.child('layer_norm1'), x, c.layer_norm_eps);
  const q = linear(attnScope.child('q_proj'), h, d);
  const k = linear(attnScope.child('k_proj'), h, d);
  const v = linear(attnScope.child('v_proj'), h, d);
  const attn = g.at(attnScope.path, () => attention(q, k, v, { heads: c.num_attention_heads, bias: mask }));
  const x1 = g.at(w.path, () => add(x, linear(attnScope.child('out_proj'), attn, d)));
  const mlp = w.child('mlp');
  const h2 = layerNorm(w.child('layer_norm2'), x1, c.layer_norm_eps);
  const f1 = linear(mlp.child('fc1'), h2, c.intermediate_size);
  const act = g.at(mlp.path, () => activation(f1, HIDDEN_ACT[c.hidden_act]));
  return g.at(w.path, () => add(x1, linear(mlp.child('fc2'), act, d)));
}

/**
 * Pooled output exactly as transformers 5 CLIPTextModel.forward: legacy eos_token_id 2 → position of
 * argmax(input_ids) (EOS has the highest id); otherwise the first position equal to eos_token_id.
 * The row is picked with a one-hot MatMul (exact: one 1, zeros elsewhere), which keeps the batch symbolic.
 */
function pool(c: ClipTextConfig, ids: Value, last: Value): Value {
  const g = ids.graph;
  const seq = last.dim(1) as number;
  if (g.lowering.int64Ops === false) return poolWithoutInt64(c, ids, last, seq);
  const ids32 = cast(ids, 'int32');
  const key = c.eos_token_id === 2 ? ids32 : cast(equal(ids32, g.scalar(c.eos_token_id, 'int32')), 'int32');
  const position = argMax(key, -1, true); // [B, 1], first maximum like torch.argmax
  const positions = g.constant('int64', [1, seq], Array.from({ length: seq }, (_, i) => i));
  const oneHot = unsqueeze(cast(equal(positions, position), last.dtype), [1]); // [B, 1, S]
  return squeeze(matmul(oneHot, last), [1]);
}

/**
 * pool() for providers without int64 Cast/Equal (Lowering.int64Ops false): ids and the argmax position become
 * floats by Gather from arange tables (exact below 2^24), and the comparisons run on floats. Same result.
 */
function poolWithoutInt64(c: ClipTextConfig, ids: Value, last: Value, seq: number): Value {
  const g = ids.graph;
  const arange = (n: number) => Array.from({ length: n }, (_, i) => i);
  const idsF = gather(g.constant('float32', [c.vocab_size], arange(c.vocab_size)), ids);
  const key = c.eos_token_id === 2 ? idsF : cast(equal(idsF, g.scalar(c.eos_token_id, 'float32')), 'float32');
  const position = gather(g.constant('float32', [seq], arange(seq)), argMax(key, -1, true)); // [B, 1]
  const oneHot = unsqueeze(cast(equal(g.constant('float32', [1, seq], arange(seq)), position), last.dtype), [1]);
  return squeeze(matmul(oneHot, last), [1]);
}

/** Emits the CLIP text transformer on `inputIds` ([B, S] int64). `root` is the checkpoint's root scope. */
export function clipTextModel(root: WeightScope, c: ClipTextConfig, inputIds: Value, o: ClipTextOptions = {}): ClipTextValues {
  const g = inputIds.graph;
  if (inputIds.rank !== 2 || typeof inputIds.dim(1) !== 'number') {
    throw new GraphBuildError(`input_ids must be [batch, seq] with a static seq, got ${inputIds}`);
  }
  const seq = inputIds.dim(1) as number;
  if (seq > c.max_position_embeddings) {
    throw new GraphBuildError(`sequence length ${seq} exceeds max_position_embeddings ${c.max_position_embeddings}`);
  }
  const layers = c.num_hidden_layers;
  const wanted = new Set((o.hiddenStates ?? [-2]).map((i) => normaliseHiddenIndex(i, layers)));
  const depth = o.final ? layers : Math.max(...wanted);
  const tm = textModelScope(root);
  const emb = tm.child('embeddings');
  const d = c.hidden_size;

  const hidden = new Map<number, Value>();
  let x = g.at(emb.path, () => {
    const tokens = gather(g.param(emb.tensor('token_embedding.weight', [c.vocab_size, d])), inputIds);
    const positionIds = g.constant('int64', [1, seq], Array.from({ length: seq }, (_, i) => i));
    const positions = gather(g.param(emb.tensor('position_embedding.weight', [c.max_position_embeddings, d])), positionIds);
    return add(tokens, positions);
  });
  if (wanted.has(0)) hidden.set(0, x);
  const mask = causalMask(g, seq);
  const layerScope = tm.child('encoder').child('layers');
  for (let i = 0; i < depth; i++) {
    x = encoderLayer(layerScope.child(i), c, x, mask);
    if (wanted.has(i + 1)) hidden.set(i + 1, x);
  }
  if (!o.final) return { hiddenStates: hidden };

  const lastHiddenState = layerNorm(tm.child('final_layer_norm'), x, c.layer_norm_eps);
  const pooled = g.at(tm.path === '' ? 'pool' : `${tm.path}.pool`, () => pool(c, inputIds, lastHiddenState));
  if (!o.projection) return { hiddenStates: hidden, lastHiddenState, pooled };
  if (c.projection_dim === undefined) throw new GraphBuildError('config has no projection_dim but text_projection was asked for');
  const textEmbeds = linear(root.child('text_projection'), pooled, c.projection_dim, { bias: false });
  return { hiddenStates: hidden, lastHiddenState, pooled, textEmbeds };
}

export interface ClipTextGraphOptions extends ClipTextOptions {
  readonly lowering: Lowering;
  /** Token sequence length (default max_position_embeddings, 77 for SDXL). */
  readonly sequenceLength?: number;
}

export interface ClipTextGraph {
  readonly graph: Graph;
  /** Output names: `hidden_states.<i>` per requested index, plus `last_hidden_state`, `pooler_output`, `text_embeds`. */
  readonly outputs: readonly string[];
  /** The weights this graph did not use, which the caller may assert about. */
  readonly unreadKeys: readonly string[];
}

/** Keys real checkpoints carry that the graph never needs (old transformers saved the position_ids buffer). */
export const CLIP_TEXT_IGNORED: IgnoredKeys = [/(^|\.)embeddings\.position_ids$/];

/**
 * A complete graph: input `input_ids` int64 [batch, S]; float32 outputs (cast from the compute dtype), so callers
 * see one dtype whatever the lowering.
 */
export function buildClipTextGraph(folder: ClipTextFolder, o: ClipTextGraphOptions): ClipTextGraph {
  const c = folder.config;
  const g = new Graph({ lowering: o.lowering, name: folder.name });
  const ids = g.input('input_ids', 'int64', ['batch', o.sequenceLength ?? c.max_position_embeddings]);
  const v = clipTextModel(folder.store, c, ids, o);
  const outputs: string[] = [];
  const out = (name: string, value: Value | undefined) => {
    if (!value) return;
    g.output(name, cast(value, 'float32'));
    outputs.push(name);
  };
  for (const [i, value] of [...v.hiddenStates.entries()].sort((a, b) => a[0] - b[0])) out(`hidden_states.${i}`, value);
  out('last_hidden_state', v.lastHiddenState);
  out('pooler_output', v.pooled);
  out('text_embeds', v.textEmbeds);
  return { graph: g, outputs, unreadKeys: folder.store.unreadKeys(CLIP_TEXT_IGNORED) };
}
