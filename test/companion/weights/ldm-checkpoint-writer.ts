/**
 * Test helper: single-file SDXL checkpoints made from a diffusers folder by renaming keys the other way, diffusers →
 * original (sgm/ldm) layout. Written independently of companion/weights/ldm-layout.ts, as regular expressions over
 * diffusers keys, from the published layouts: sgm's SDXL UNet (input_blocks / middle_block / output_blocks numbered
 * through, ldm ResBlock in_layers/emb_layers/out_layers/skip_connection, Downsample `op`, Upsample `conv`), ldm's
 * AutoencoderKL (down/up with `block`, `downsample`/`upsample`, `nin_shortcut`, mid `block_1`/`attn_1`/`block_2`
 * with 1×1-conv q/k/v/proj_out, `norm_out`; decoder `up` numbered from the lowest resolution), FrozenCLIPEmbedder
 * (the transformers model under `transformer.`) and open_clip's text tower (resblocks with packed `in_proj`,
 * `ln_1/ln_2`, `mlp.c_fc/c_proj`, `positional_embedding`, `ln_final`, `text_projection` applied as x @ P).
 * The bytes really move here (q/k/v concatenated, the projection transposed), so a reader that only pretends to
 * split or transpose cannot pass.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { buildSafetensors, bytesAt, type RawTensor } from './safetensors-writer';

export type Part = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2';

const PREFIX: Record<Part, string> = {
  unet: 'model.diffusion_model.',
  vae: 'first_stage_model.',
  text_encoder: 'conditioner.embedders.0.transformer.',
  text_encoder_2: 'conditioner.embedders.1.model.',
};

interface UNetShape { layersPerBlock: number; attentionUp: boolean[] }

const RESNET: [RegExp, string][] = [
  [/^norm1\./, 'in_layers.0.'], [/^conv1\./, 'in_layers.2.'], [/^time_emb_proj\./, 'emb_layers.1.'],
  [/^norm2\./, 'out_layers.0.'], [/^conv2\./, 'out_layers.3.'], [/^conv_shortcut\./, 'skip_connection.'],
];

function renameStart(rest: string, table: [RegExp, string][]): string {
  for (const [re, to] of table) if (re.test(rest)) return rest.replace(re, to);
  throw new Error(`no original name for "${rest}"`);
}

/** The original UNet key of a diffusers UNet key. */
export function unetOriginalKey(key: string, s: UNetShape): string {
  const per = s.layersPerBlock + 1; // input/output block numbers per level
  let m: RegExpMatchArray | null;
  if ((m = key.match(/^down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/))) return `input_blocks.${1 + +m[1]! * per + +m[2]!}.0.${renameStart(m[3]!, RESNET)}`;
  if ((m = key.match(/^down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/))) return `input_blocks.${1 + +m[1]! * per + +m[2]!}.1.${m[3]}`;
  if ((m = key.match(/^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/))) return `input_blocks.${(+m[1]! + 1) * per}.0.op.${m[2]}`;
  if ((m = key.match(/^up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/))) return `output_blocks.${+m[1]! * per + +m[2]!}.0.${renameStart(m[3]!, RESNET)}`;
  if ((m = key.match(/^up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/))) return `output_blocks.${+m[1]! * per + +m[2]!}.1.${m[3]}`;
  if ((m = key.match(/^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/))) {
    return `output_blocks.${+m[1]! * per + s.layersPerBlock}.${s.attentionUp[+m[1]!] ? 2 : 1}.conv.${m[2]}`;
  }
  if ((m = key.match(/^mid_block\.resnets\.(\d)\.(.+)$/))) return `middle_block.${m[1] === '0' ? 0 : 2}.${renameStart(m[2]!, RESNET)}`;
  if ((m = key.match(/^mid_block\.attentions\.0\.(.+)$/))) return `middle_block.1.${m[1]}`;
  const fixed: [RegExp, string][] = [
    [/^conv_in\./, 'input_blocks.0.0.'], [/^time_embedding\.linear_1\./, 'time_embed.0.'], [/^time_embedding\.linear_2\./, 'time_embed.2.'],
    [/^add_embedding\.linear_1\./, 'label_emb.0.0.'], [/^add_embedding\.linear_2\./, 'label_emb.0.2.'],
    [/^conv_norm_out\./, 'out.0.'], [/^conv_out\./, 'out.2.'],
  ];
  return renameStart(key, fixed);
}

/** The original VAE key of a diffusers VAE key, and whether the tensor becomes a 1×1 convolution. */
export function vaeOriginalKey(key: string, levels: number): { key: string; conv1x1: boolean } {
  let m: RegExpMatchArray | null;
  const resnet = (rest: string) => rest.replace(/^conv_shortcut\./, 'nin_shortcut.');
  if ((m = key.match(/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/))) return { key: `encoder.down.${m[1]}.block.${m[2]}.${resnet(m[3]!)}`, conv1x1: false };
  if ((m = key.match(/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/))) return { key: `encoder.down.${m[1]}.downsample.conv.${m[2]}`, conv1x1: false };
  if ((m = key.match(/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/))) return { key: `decoder.up.${levels - 1 - +m[1]!}.block.${m[2]}.${resnet(m[3]!)}`, conv1x1: false };
  if ((m = key.match(/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/))) return { key: `decoder.up.${levels - 1 - +m[1]!}.upsample.conv.${m[2]}`, conv1x1: false };
  if ((m = key.match(/^(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)$/))) return { key: `${m[1]}.mid.block_${+m[2]! + 1}.${resnet(m[3]!)}`, conv1x1: false };
  if ((m = key.match(/^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/))) {
    const name = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' }[m[2]!]!;
    return { key: `${m[1]}.mid.attn_1.${name}.${m[3]}`, conv1x1: m[2] !== 'group_norm' && m[3] === 'weight' };
  }
  if ((m = key.match(/^(encoder|decoder)\.conv_norm_out\.(.+)$/))) return { key: `${m[1]}.norm_out.${m[2]}`, conv1x1: false };
  return { key, conv1x1: false }; // conv_in, conv_out, quant_conv, post_quant_conv keep their names
}

/** open_clip name of a transformers CLIP text key (q/k/v and the projection are handled by the caller). */
export function openClipKey(key: string): string {
  let m: RegExpMatchArray | null;
  if ((m = key.match(/^text_model\.encoder\.layers\.(\d+)\.(.+)$/))) {
    const inner: Record<string, string> = {
      'layer_norm1.': 'ln_1.', 'layer_norm2.': 'ln_2.', 'mlp.fc1.': 'mlp.c_fc.', 'mlp.fc2.': 'mlp.c_proj.', 'self_attn.out_proj.': 'attn.out_proj.',
    };
    const hit = Object.keys(inner).find((k) => m![2]!.startsWith(k));
    if (hit === undefined) throw new Error(`no open_clip name for "${key}"`);
    return `transformer.resblocks.${m[1]}.${inner[hit]}${m[2]!.slice(hit.length)}`;
  }
  const fixed: Record<string, string> = {
    'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
    'text_model.embeddings.position_embedding.weight': 'positional_embedding',
    'text_model.final_layer_norm.weight': 'ln_final.weight',
    'text_model.final_layer_norm.bias': 'ln_final.bias',
  };
  const to = fixed[key];
  if (to === undefined) throw new Error(`no open_clip name for "${key}"`);
  return to;
}

function transpose2d(data: Buffer, rows: number, cols: number, bytes: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data.copy(out, (c * rows + r) * bytes, (r * cols + c) * bytes, (r * cols + c + 1) * bytes);
  }
  return out;
}

function readFolderPart(dir: string, part: Part, fp16: boolean): Map<string, RawTensor> {
  const base = part === 'unet' || part === 'vae' ? 'diffusion_pytorch_model' : 'model';
  const st = readSafetensors(path.join(dir, part, `${base}${fp16 ? '.fp16' : ''}.safetensors`));
  const out = new Map<string, RawTensor>();
  for (const [key, ref] of st.tensors) out.set(key, { dtype: ref.dtype, shape: [...ref.shape], data: bytesAt(ref) });
  return out;
}

function config(dir: string, part: Part): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(dir, part, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** Every tensor of one diffusers component under its original name (with the part prefix). */
export function originalTensors(dir: string, part: Part, fp16 = false): Map<string, RawTensor> {
  const src = readFolderPart(dir, part, fp16);
  const out = new Map<string, RawTensor>();
  const put = (key: string, t: RawTensor) => {
    if (out.has(PREFIX[part] + key)) throw new Error(`two tensors named ${key}`);
    out.set(PREFIX[part] + key, t);
  };
  if (part === 'text_encoder') {
    // sgm saved a transformers 4 CLIPTextModel: keys under `text_model.`, with the position_ids buffer
    for (const [key, t] of src) put(key.startsWith('text_model.') ? key : `text_model.${key}`, t);
    const positions = config(dir, 'text_encoder').max_position_embeddings as number;
    const ids = Buffer.alloc(positions * 8);
    for (let i = 0; i < positions; i++) ids.writeBigInt64LE(BigInt(i), i * 8);
    put('text_model.embeddings.position_ids', { dtype: 'I64', shape: [1, positions], data: ids });
  } else if (part === 'unet') {
    const c = config(dir, 'unet');
    const shape = { layersPerBlock: c.layers_per_block as number, attentionUp: (c.up_block_types as string[]).map((t) => t.startsWith('CrossAttn')) };
    for (const [key, t] of src) put(unetOriginalKey(key, shape), t);
  } else if (part === 'vae') {
    const levels = (config(dir, 'vae').block_out_channels as number[]).length;
    for (const [key, t] of src) {
      const o = vaeOriginalKey(key, levels);
      put(o.key, o.conv1x1 ? { ...t, shape: [...t.shape, 1, 1] } : t);
    }
  } else {
    for (const [key, t] of src) {
      if (/\.self_attn\.(q|k|v)_proj\./.test(key)) continue; // packed below
      if (key === 'text_projection.weight') {
        const [rows, cols] = t.shape as [number, number];
        put('text_projection', { dtype: t.dtype, shape: [cols, rows], data: transpose2d(t.data, rows, cols, t.data.length / (rows * cols)) });
        continue;
      }
      put(openClipKey(key), t);
    }
    const layers = config(dir, 'text_encoder_2').num_hidden_layers as number;
    for (let i = 0; i < layers; i++) {
      for (const kind of ['weight', 'bias']) {
        const qkv = ['q', 'k', 'v'].map((p) => src.get(`text_model.encoder.layers.${i}.self_attn.${p}_proj.${kind}`)!);
        const shape = [...qkv[0]!.shape];
        shape[0]! *= 3;
        put(`transformer.resblocks.${i}.attn.in_proj_${kind}`, { dtype: qkv[0]!.dtype, shape, data: Buffer.concat(qkv.map((t) => t.data)) });
      }
    }
    // open_clip saves its contrastive temperature with the text tower
    put('logit_scale', { dtype: 'F32', shape: [], data: Buffer.from(new Float32Array([4.6052]).buffer) });
  }
  return out;
}

export interface CheckpointOptions {
  readonly parts?: readonly Part[];
  readonly fp16?: boolean;
  /** Extra tensors (full keys) added after the parts. */
  readonly extra?: Readonly<Record<string, RawTensor>>;
}

/** Writes a single-file checkpoint of the diffusers folder `dir`; tensors are laid out in reverse key order. */
export function writeOriginalCheckpoint(dir: string, file: string, o: CheckpointOptions = {}): string {
  const tensors = new Map<string, RawTensor>();
  for (const part of o.parts ?? ['unet', 'vae', 'text_encoder', 'text_encoder_2'] as const) {
    for (const [k, t] of originalTensors(dir, part, o.fp16 === true)) tensors.set(k, t);
  }
  const ordered: Record<string, RawTensor> = {};
  for (const k of [...tensors.keys()].sort().reverse()) ordered[k] = tensors.get(k)!;
  fs.writeFileSync(file, buildSafetensors({ ...ordered, ...o.extra }, { format: 'pt' }));
  return file;
}
