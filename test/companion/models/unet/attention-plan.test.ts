import * as fs from 'node:fs';
import { fixture } from '../../../helpers/paths';
import { parseUNetConfig } from '../../../../companion/models/unet/config';
import {
  attentionLayers, planAttention, ipAdapterKeys, isWithin, AttentionPlanError,
} from '../../../../companion/models/unet/attention-plan';

const readJson = (...p: string[]): unknown => JSON.parse(fs.readFileSync(fixture(...p), 'utf8'));
const sdxl = parseUNetConfig(readJson('sdxl-base-config', 'unet', 'config.json'));
const tiny = parseUNetConfig(readJson('sdxl-tiny', 'unet', 'config.json'));
const sd15 = parseUNetConfig(readJson('sd15-tiny', 'unet', 'config.json'));

interface DiffusersLayer { id: number; path: string; heads: number; inner_dim: number; cross_dim: number }
const diffusersOrder = (readJson('golden', 'unet.sdxl_base_attention_layers.json') as { layers: DiffusersLayer[] }).layers;

describe('attention layers of the real SDXL base config', () => {
  const layers = attentionLayers(sdxl);

  test('are the 140 layers of diffusers attn_processors, in its order, with its heads and widths', () => {
    expect(diffusersOrder).toHaveLength(140);
    expect(layers.map((l) => [l.processorId, l.path, l.heads, l.channels]))
      .toEqual(diffusersOrder.map((d) => [d.id, d.path, d.heads, d.inner_dim]));
    expect(layers.filter((l) => l.role === 'self').map((l) => l.path))
      .toEqual(diffusersOrder.filter((d) => d.cross_dim !== 2048).map((d) => d.path));
  });

  test('mid_block is numbered last and attn2 layers have odd ids', () => {
    expect(layers.slice(-20).every((l) => l.path.startsWith('mid_block.'))).toBe(true);
    for (const l of layers) expect(l.processorId % 2).toBe(l.role === 'cross' ? 1 : 0);
  });

  test('CSGO preset = the 36 attn2 layers of up_blocks.0 and up_blocks.1', () => {
    const plan = planAttention(sdxl, { style: { preset: 'csgo' }, styleTokens: 32, teacherShare: true });
    expect(plan.styleLayers).toHaveLength(36);
    expect(plan.styleLayers.filter((l) => l.path.startsWith('up_blocks.0.'))).toHaveLength(30);
    expect(plan.styleLayers.filter((l) => l.path.startsWith('up_blocks.1.'))).toHaveLength(6);
    expect(plan.styleLayers.every((l) => l.role === 'cross')).toBe(true);
    expect(plan.kindOf('up_blocks.1.attentions.2.transformer_blocks.1.attn2')).toEqual({ kind: 'style', tokens: 32 });
    expect(plan.kindOf('down_blocks.2.attentions.1.transformer_blocks.9.attn2')).toEqual({ kind: 'text' });
    expect(plan.kindOf('mid_block.attentions.0.transformer_blocks.0.attn1')).toEqual({ kind: 'self', teacherShare: true });
  });

  test('InstantStyle preset = the 10 attn2 layers of up_blocks.0.attentions.1', () => {
    const plan = planAttention(sdxl, { style: { preset: 'instantstyle' }, styleTokens: 4, teacherShare: false });
    expect(plan.styleLayers.map((l) => l.path))
      .toEqual(Array.from({ length: 10 }, (_, t) => `up_blocks.0.attentions.1.transformer_blocks.${t}.attn2`));
    expect(plan.kindOf('up_blocks.0.attentions.0.transformer_blocks.0.attn2')).toEqual({ kind: 'text' });
    expect(plan.kindOf('up_blocks.0.attentions.1.transformer_blocks.0.attn1')).toEqual({ kind: 'self', teacherShare: false });
  });

  test("'all' = all 70 attn2 layers; 'none' = no style layer; custom lists are matched on path segments", () => {
    expect(planAttention(sdxl, { style: { preset: 'all' }, styleTokens: 4, teacherShare: false }).styleLayers).toHaveLength(70);
    expect(planAttention(sdxl, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false }).styleLayers).toHaveLength(0);
    const custom = planAttention(sdxl, {
      style: { preset: 'custom', blocks: ['up_blocks.0.attentions.1', 'down_blocks.2.attentions.1'] }, styleTokens: 4, teacherShare: false,
    });
    expect(custom.styleLayers).toHaveLength(20);
    const one = planAttention(sdxl, {
      style: { preset: 'custom', blocks: ['up_blocks.0.attentions.1.transformer_blocks.1.attn2'] }, styleTokens: 4, teacherShare: false,
    });
    expect(one.styleLayers.map((l) => l.path)).toEqual(['up_blocks.0.attentions.1.transformer_blocks.1.attn2']);
    expect(isWithin('up_blocks.0.attentions.10.x', 'up_blocks.0.attentions.1')).toBe(false);
  });

  test('adapter keys follow the processor numbering (h94 ip-adapter_sdxl: 1, 3, ..., 139)', () => {
    const cross = attentionLayers(sdxl).filter((l) => l.role === 'cross');
    expect(cross.map((l) => ipAdapterKeys(l).toK)).toEqual(Array.from({ length: 70 }, (_, i) => `${2 * i + 1}.to_k_ip.weight`));
    const firstUp = cross.find((l) => l.path.startsWith('up_blocks.'))!;
    expect(ipAdapterKeys(firstUp)).toEqual({ toK: '49.to_k_ip.weight', toV: '49.to_v_ip.weight' });
    expect(() => ipAdapterKeys(attentionLayers(sdxl)[0]!)).toThrow(/self-attention/);
  });
});

describe('attention plans fail loudly', () => {
  test('a style block that matches no cross-attention layer names the block and the real ones', () => {
    expect(() => planAttention(sdxl, { style: { preset: 'custom', blocks: ['up_blocks.2'] }, styleTokens: 4, teacherShare: false }))
      .toThrow(/style block "up_blocks.2" contains no cross-attention layer.*up_blocks\.0\.attentions\.1/);
    expect(() => planAttention(sdxl, { style: { preset: 'custom', blocks: ['up_block.0'] }, styleTokens: 4, teacherShare: false }))
      .toThrow(AttentionPlanError);
  });
  test('style layers without style tokens', () => {
    expect(() => planAttention(sdxl, { style: { preset: 'csgo' }, styleTokens: 0, teacherShare: false })).toThrow(/36 style layers planned but styleTokens = 0/);
  });
  test('kindOf an unknown path', () => {
    const plan = planAttention(sdxl, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false });
    expect(() => plan.kindOf('up_blocks.2.attentions.0.transformer_blocks.0.attn2')).toThrow(/not an attention layer/);
  });
});

describe('tiny configs', () => {
  test('tiny SDXL: 34 layers; up_blocks (CSGO) = 9 style layers; InstantStyle block = 2', () => {
    expect(attentionLayers(tiny)).toHaveLength(34);
    expect(planAttention(tiny, { style: { preset: 'csgo' }, styleTokens: 4, teacherShare: false }).styleLayers).toHaveLength(9);
    expect(planAttention(tiny, { style: { preset: 'instantstyle' }, styleTokens: 4, teacherShare: false }).styleLayers).toHaveLength(2);
  });
  test('SD 1.5-type: int attention_head_dim is the head count of every block', () => {
    const layers = attentionLayers(sd15);
    expect(layers.map((l) => l.path.split('.attentions')[0])).toEqual([
      ...Array(2).fill('down_blocks.0'), ...Array(2).fill('down_blocks.1'),
      ...Array(4).fill('up_blocks.1'), ...Array(4).fill('up_blocks.2'), 'mid_block', 'mid_block',
    ]);
    expect(new Set(layers.map((l) => l.heads))).toEqual(new Set([4]));
    expect(layers.find((l) => l.path.startsWith('up_blocks.1'))!.channels).toBe(32);
    expect(layers.find((l) => l.path.startsWith('mid_block'))!.channels).toBe(48);
  });
});
