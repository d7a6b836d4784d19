import * as fs from 'node:fs';
import { fixture } from '../../../helpers/paths';
import { parseUNetConfig, unetDims, UNetConfigError } from '../../../../companion/models/unet/config';

const sdxl = JSON.parse(fs.readFileSync(fixture('sdxl-base-config', 'unet', 'config.json'), 'utf8')) as Record<string, unknown>;

describe('UNet config.json', () => {
  test('the real SDXL base config: heads from attention_head_dim (diffusers quirk), layers, time embedding width', () => {
    const c = parseUNetConfig(sdxl);
    expect(unetDims(c)).toEqual({ heads: [5, 10, 20], transformerLayers: [1, 2, 10], timeEmbedDim: 1280 });
    expect(c.addition_embed_type).toBe('text_time');
  });

  test('num_attention_heads wins over attention_head_dim when given', () => {
    const c = parseUNetConfig({ ...sdxl, num_attention_heads: [10, 20, 40] });
    expect(unetDims(c).heads).toEqual([10, 20, 40]);
  });

  test.each([
    [{ down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'SimpleCrossAttnDownBlock2D'] }, /down_block_types\.2/],
    [{ transformer_layers_per_block: [1, 2] }, /transformer_layers_per_block has 2 entries but block_out_channels has 3/],
    [{ class_embed_type: 'timestep' }, /class_embed_type/],
    [{ addition_embed_type: 'text' }, /addition_embed_type/],
    [{ encoder_hid_dim_type: 'image_proj' }, /encoder_hid_dim_type/],
    [{ block_out_channels: [320, 640, 1290] }, /block_out_channels\[2\] = 1290 is not a multiple of norm_num_groups = 32/],
    [{ addition_time_embed_dim: null }, /"text_time" needs addition_time_embed_dim/],
    [{ cross_attention_dim: [2048, 2048, 2048] }, /cross_attention_dim/],
    [{ resnet_time_scale_shift: 'scale_shift' }, /resnet_time_scale_shift/],
  ])('refuses %j naming the key', (patch, message) => {
    expect(() => parseUNetConfig({ ...sdxl, ...patch }, 'x/unet/config.json')).toThrow(UNetConfigError);
    expect(() => parseUNetConfig({ ...sdxl, ...patch }, 'x/unet/config.json')).toThrow(message);
    expect(() => parseUNetConfig({ ...sdxl, ...patch }, 'x/unet/config.json')).toThrow(/^x\/unet\/config\.json: /);
  });

  test('heads that do not divide a block are refused when the dims are derived', () => {
    expect(() => unetDims(parseUNetConfig({ ...sdxl, attention_head_dim: [5, 10, 24] }))).toThrow(/block 2: 1280 channels do not split into 24 attention heads/);
  });
});
