/**
 * CSD, the Contrastive Style Descriptor (Somepalli et al., "Measuring Style Similarity in Diffusion Models", 2024;
 * code github.com/learn2phoenix/CSD, CSD/model.py CSD_CLIP): OpenAI CLIP's ViT-L/14 VisionTransformer with its `proj`
 * removed, fine-tuned, plus two projection matrices; the style embedding is `feature @ last_layer_style`, where
 * `feature` = ln_post(class token). Our graph reads the authors' checkpoint.pth as it is (torch.save zip, read in
 * place by weights/torch-bin.ts): tensors under `model_state_dict`, keys with DataParallel's `module.` prefix or
 * without it (a safetensors file with the bare keys works too).
 *
 * OpenAI CLIP's block (clip/model.py ResidualAttentionBlock): x + out_proj(MHA(ln_1(x))) with nn.MultiheadAttention's
 * packed in_proj_weight [3w, w] / in_proj_bias, then x + c_proj(QuickGELU(c_fc(ln_2(x)))). The head count is not
 * stored: CLIP's build_model derives it as width / 64 (16 for ViT-L/14).
 *
 * Preprocessing is CSD's own torchvision pipeline (torchvision-preprocess.ts).
 */
import { Graph, type Value } from '../onnx/graph';
import type { Lowering } from '../onnx/lowering';
import { add, cast, concat, matmul, reshape, slice, split, squeeze, transpose } from '../onnx/ops/basic';
import { attention, layerNorm, linear, linearRef, quickGelu } from '../onnx/ops/nn';
import { Session, type SessionOptions } from '../onnx/session';
import { toFloat32 } from '../pipeline/tensors';
import type { RgbaImage } from '../image/rgba';
import type { WeightScope } from '../weights/tensor';
import { WeightStore } from '../weights/weight-store';
import { EvalError } from './errors';
import type { StyleEmbedder } from './scorer';
import { torchvisionClipPixels } from './torchvision-preprocess';

/** What the checkpoint's shapes say about the network. */
export interface CsdArchitecture {
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly patch: number;
  readonly imageSize: number;
  readonly styleDim: number;
}

/** Where the CSD tensors may sit in a checkpoint: the trainer's dict, DataParallel's prefix, or bare. */
const ROOTS: readonly (readonly string[])[] = [['model_state_dict', 'module'], ['model_state_dict'], ['module'], []];

/** OpenAI CLIP's build_model: vision_heads = vision_width // 64. */
const CLIP_HEAD_WIDTH = 64;

/** The scope holding `backbone.*` and `last_layer_style`, and the architecture its shapes describe. */
export function locateCsd(store: WeightStore, file: string, heads?: number): { root: WeightScope; arch: CsdArchitecture } {
  const found = ROOTS.map((parts) => parts.reduce<WeightScope>((s, p) => s.child(p), store))
    .find((s) => s.has('backbone.conv1.weight') && s.has('last_layer_style'));
  if (found === undefined) {
    throw new EvalError('CSD_WEIGHTS', `${file}: no CSD tensors (expected backbone.conv1.weight and last_layer_style, bare, under ` +
      `module. or under model_state_dict.); found e.g. ${store.keys().slice(0, 4).join(', ') || 'no tensors'}`);
  }
  const prefix = found.path === '' ? '' : `${found.path}.`;
  const shapeOf = (key: string): readonly number[] => store.get(prefix + key)!.shape;
  const conv = shapeOf('backbone.conv1.weight');
  const positions = store.has(`${prefix}backbone.positional_embedding`) ? shapeOf('backbone.positional_embedding') : [];
  const styleShape = shapeOf('last_layer_style');
  const layerIndex = new RegExp(`^${prefix.replace(/\./g, '\\.')}backbone\\.transformer\\.resblocks\\.(\\d+)\\.`);
  const layers = new Set(store.keys().map((k) => layerIndex.exec(k)?.[1]).filter((i) => i !== undefined)).size;
  const [width, channels, patch] = conv as [number, number, number, number];
  const grid = Math.sqrt((positions[0] ?? 0) - 1);
  if (conv.length !== 4 || channels !== 3 || positions.length !== 2 || !Number.isInteger(grid) || styleShape.length !== 2 ||
      styleShape[0] !== width || layers === 0) {
    throw new EvalError('CSD_WEIGHTS', `${file}: not the CSD architecture (conv1 ${JSON.stringify(conv)}, positional_embedding ` +
      `${JSON.stringify(positions)}, last_layer_style ${JSON.stringify(styleShape)}, ${layers} blocks)`);
  }
  const headCount = heads ?? width / CLIP_HEAD_WIDTH;
  if (!Number.isInteger(headCount) || headCount < 1 || width % headCount !== 0) {
    throw new EvalError('CSD_WEIGHTS', `${file}: width ${width} does not split into ${headCount} heads`);
  }
  return { root: found, arch: { width, layers, heads: headCount, patch, imageSize: grid * patch, styleDim: styleShape[1]! } };
}

function residualBlock(w: WeightScope, x: Value, a: CsdArchitecture): Value {
  const g = x.graph;
  const attn = w.child('attn');
  const h = layerNorm(w.child('ln_1'), x, 1e-5);
  const packed = g.at(attn.path, () => linearRef(h, attn.tensor('in_proj_weight', [3 * a.width, a.width]), attn.tensor('in_proj_bias', [3 * a.width])));
  const [q, k, v] = g.at(attn.path, () => split(packed, [a.width, a.width, a.width], -1));
  const attended = g.at(attn.path, () => attention(q!, k!, v!, { heads: a.heads }));
  const r = add(x, linear(attn.child('out_proj'), attended, a.width));
  const mlp = w.child('mlp');
  const up = linear(mlp.child('c_fc'), layerNorm(w.child('ln_2'), r, 1e-5), 4 * a.width);
  return add(r, linear(mlp.child('c_proj'), g.at(mlp.path, () => quickGelu(up)), a.width));
}

/** Input pixel_values float32 [1, 3, S, S]; output style_embeds float32 [1, styleDim] (before CSD's L2 norm). */
export function buildCsdGraph(root: WeightScope, a: CsdArchitecture, lowering: Lowering): Graph {
  const g = new Graph({ lowering, name: 'csd' });
  const b = root.child('backbone');
  const grid = a.imageSize / a.patch;
  const tokens = grid * grid + 1;
  const pixels = cast(g.input('pixel_values', 'float32', [1, 3, a.imageSize, a.imageSize]), g.computeType);
  const convW = g.param(b.tensor('conv1.weight', [a.width, 3, a.patch, a.patch]));
  const classRef = b.tensor('class_embedding', [a.width]);
  const posRef = b.tensor('positional_embedding', [tokens, a.width]);
  let x = g.at(b.path, () => {
    const patches = g.op('Conv', [pixels, convW], { kernel_shape: [a.patch, a.patch], strides: [a.patch, a.patch] });
    const seq = transpose(reshape(patches, [1, a.width, grid * grid]), [0, 2, 1]);
    return add(concat([reshape(g.param(classRef), [1, 1, a.width]), seq], 1), reshape(g.param(posRef), [1, tokens, a.width]));
  });
  x = layerNorm(b.child('ln_pre'), x, 1e-5);
  const blocks = b.child('transformer').child('resblocks');
  for (let i = 0; i < a.layers; i++) x = residualBlock(blocks.child(i), x, a);
  const feature = layerNorm(b.child('ln_post'), g.at(b.path, () => squeeze(slice(x, [0], [1], [1]), [1])), 1e-5);
  const style = g.at('last_layer_style', () => matmul(feature, g.param(root.tensor('last_layer_style', [a.width, a.styleDim]))));
  g.output('style_embeds', cast(style, 'float32'));
  return g;
}

export interface CsdOptions {
  readonly lowering: Lowering;
  readonly session: SessionOptions;
  /** Attention heads; default the CLIP rule width / 64. */
  readonly heads?: number;
}

export class CsdModel implements StyleEmbedder {
  private constructor(private readonly session: Session, readonly architecture: CsdArchitecture) {}

  static async open(file: string, options: CsdOptions): Promise<CsdModel> {
    const store = WeightStore.open(file);
    const { root, arch } = locateCsd(store, file, options.heads);
    const graph = buildCsdGraph(root, arch, options.lowering);
    const rootPath = root.path === '' ? '' : `${root.path}.`;
    // the content head and the trainer's extras are not needed for style
    store.assertAllRead([`${rootPath}last_layer_content`, /(^|\.)(epoch|optimizer|scheduler|args)(\.|$)/]);
    return new CsdModel(await Session.create(graph.serialize(), options.session), arch);
  }

  async embed(image: RgbaImage): Promise<Float32Array> {
    const s = this.architecture.imageSize;
    const out = await this.session.run({ pixel_values: { dtype: 'float32', dims: [1, 3, s, s], data: torchvisionClipPixels(image, s) } });
    return toFloat32(out['style_embeds'], 'style_embeds');
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
