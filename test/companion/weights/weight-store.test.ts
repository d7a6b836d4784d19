import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightError } from '../../../companion/weights/errors';
import { readSafetensors, readShardIndex } from '../../../companion/weights/safetensors';
import { WeightStore } from '../../../companion/weights/weight-store';
import { buildSafetensors, f32, scratchFolder } from './safetensors-writer';

const scratch = scratchFolder('store');
const write = scratch.write;

describe('WeightStore', () => {
  let store: WeightStore;
  beforeAll(() => {
    const file = write('store.safetensors', buildSafetensors({
      'down_blocks.1.resnets.0.conv1.weight': { dtype: 'F32', shape: [2, 1, 1, 1], data: f32(1, 2) },
      'down_blocks.1.resnets.0.conv1.bias': { dtype: 'F32', shape: [2], data: f32(3, 4) },
      'conv_in.weight': { dtype: 'F32', shape: [1], data: f32(5) },
      'text_model.embeddings.position_ids': { dtype: 'I64', shape: [1], data: Buffer.alloc(8) },
    }));
    store = WeightStore.open(file);
  });

  test('child scopes build dotted keys and check shapes', () => {
    const conv = store.child('down_blocks').child(1).child('resnets').child(0).child('conv1');
    expect(conv.path).toBe('down_blocks.1.resnets.0.conv1');
    expect(conv.tensor('weight', [2, 1, 1, 1]).key).toBe('down_blocks.1.resnets.0.conv1.weight');
    expect(conv.has('bias')).toBe(true);
    expect(conv.has('nope')).toBe(false);
    expect(store.child('down_blocks').tensor('1.resnets.0.conv1.bias', [2]).shape).toEqual([2]);
  });

  test('a shape mismatch names the full key, the file and both shapes', () => {
    const scope = store.child('conv_in');
    expect(() => scope.tensor('weight', [1, 1])).toThrow(WeightError);
    expect(() => scope.tensor('weight', [1, 1])).toThrow(
      `weight "conv_in.weight": has shape [1], expected [1, 1] (in ${fs.realpathSync(path.join(scratch.dir(), 'store.safetensors'))})`);
  });

  test('a missing key names the key, the expected shape, the file and nearby keys', () => {
    const err = (() => {
      try {
        store.child('down_blocks').child(1).child('resnets').child(0).tensor('conv2.weight', [2, 2, 3, 3]);
      } catch (e) {
        return e as WeightError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(WeightError);
    expect(err.key).toBe('down_blocks.1.resnets.0.conv2.weight');
    expect(err.message).toContain('missing (expected shape [2, 2, 3, 3])');
    expect(err.message).toContain('keys under "down_blocks.1.resnets.0." are: down_blocks.1.resnets.0.conv1.weight');
    expect(err.message).toContain('store.safetensors');
  });

  test('lists unread keys; ignored ones can be declared; has() does not count as a read', () => {
    const fresh = WeightStore.open(path.join(scratch.dir(), 'store.safetensors'));
    fresh.has('conv_in.weight');
    fresh.tensor('conv_in.weight', [1]);
    expect(fresh.unreadKeys()).toEqual([
      'down_blocks.1.resnets.0.conv1.weight', 'down_blocks.1.resnets.0.conv1.bias', 'text_model.embeddings.position_ids']);
    expect(fresh.unreadKeys([/\.position_ids$/, 'down_blocks.1.resnets.0.conv1.bias'])).toEqual(['down_blocks.1.resnets.0.conv1.weight']);
    expect(() => fresh.assertAllRead([/\.position_ids$/])).toThrow(
      /2 stored tensor\(s\) were never used by the network: down_blocks.1.resnets.0.conv1.weight, down_blocks.1.resnets.0.conv1.bias/);
    fresh.child('down_blocks').child(1).child('resnets').child(0).child('conv1').tensor('weight', [2, 1, 1, 1]);
    fresh.child('down_blocks.1.resnets.0.conv1').tensor('bias', [2]);
    expect(() => fresh.assertAllRead([/\.position_ids$/])).not.toThrow();
  });

  test('refuses empty or dotted-edge path segments and negative indices', () => {
    expect(() => store.child('')).toThrow('invalid weight path segment ""');
    expect(() => store.child('a').child('.b')).toThrow('invalid weight path segment ".b" under "a"');
    expect(() => store.child(-1)).toThrow('invalid weight index -1');
  });

  test('the same key in two files is an error naming both', () => {
    const a = readSafetensors(write('dup-a.safetensors', buildSafetensors({ k: { dtype: 'F32', shape: [1], data: f32(1) } })));
    const b = readSafetensors(write('dup-b.safetensors', buildSafetensors({ k: { dtype: 'F32', shape: [1], data: f32(2) } })));
    expect(() => WeightStore.fromTensors([...a.tensors.values(), ...b.tensors.values()], 'two files')).toThrow(
      `weight "k": stored twice, in ${a.file} and in ${b.file}`);
  });
});

describe('sharded checkpoints', () => {
  test('an index with its shards becomes one store', () => {
    const shardDir = path.join(scratch.dir(), 'sharded');
    fs.mkdirSync(shardDir);
    fs.writeFileSync(path.join(shardDir, 'm-00001-of-00002.safetensors'), buildSafetensors({ a: { dtype: 'F32', shape: [1], data: f32(1) } }));
    fs.writeFileSync(path.join(shardDir, 'm-00002-of-00002.safetensors'), buildSafetensors({ b: { dtype: 'F32', shape: [2], data: f32(2, 3) } }));
    const index = path.join(shardDir, 'm.safetensors.index.json');
    fs.writeFileSync(index, JSON.stringify({ metadata: { total_size: 12 }, weight_map: { a: 'm-00001-of-00002.safetensors', b: 'm-00002-of-00002.safetensors' } }));
    const store = WeightStore.open(index);
    expect(store.keys().sort()).toEqual(['a', 'b']);
    expect(store.tensor('b', [2]).file).toBe(fs.realpathSync(path.join(shardDir, 'm-00002-of-00002.safetensors')));
    expect(store.files).toHaveLength(2);
    expect(readShardIndex(index)).toHaveLength(2);
  });
});
