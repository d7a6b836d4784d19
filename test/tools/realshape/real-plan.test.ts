/**
 * The plan of the REAL set from the committed manifests and configs, without writing any tensor data: every file
 * of DEFAULT_MODELS has a source, tensor counts and parameter totals are those of configs/SOURCES.md, and each
 * safetensors header, written in front of a sparse file of the planned size, is accepted by the project's reader
 * with exactly the manifest's names, shapes and dtypes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_MODELS } from '../../../companion/weights/default-models';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { PickleDict, PickleTuple, unpickle, type PickleCallable } from '../../../companion/weights/restricted-pickle';
import { defaultSources } from '../../../tools/realshape/cli';
import { safetensorsHeader } from '../../../tools/realshape/content';
import { parseManifest, parseStructure, planSet, savedVocabulary, type PlannedModel } from '../../../tools/realshape/plan';
import { torchPickle } from '../../../tools/realshape/torch-zip';
import { repoRoot } from '../../helpers/paths';

const sources = defaultSources(repoRoot);
let models: PlannedModel[];
let dir: string;
beforeAll(() => {
  models = planSet(sources, 0);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'realshape-plan-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function weightFile(id: string, file: string) {
  const f = models.find((m) => m.spec.id === id)!.files.find((x) => x.path === file);
  if (!f?.tensors) throw new Error(`${id}/${file} is not a planned weight file`);
  return { ...f, tensors: f.tensors };
}

test('every file of the default set is planned, in the hub\'s order, from the committed sources', () => {
  expect(models.map((m) => [m.spec.id, m.files.map((f) => f.path)])).toEqual(DEFAULT_MODELS.map((m) => [m.id, m.files.map((f) => f.path)]));
  for (const m of models) {
    expect(m.commit).toMatch(/^[0-9a-f]{40}$/);
    for (const f of m.files) expect(path.relative(repoRoot, f.source)).toMatch(/^(tools\/realshape\/(configs|manifests)|test\/fixtures\/clip-vocab)\//);
  }
  expect(new Set(models.map((m) => m.commit)).size).toBe(4);
  expect(planSet(sources, 1).map((m) => m.commit)).not.toEqual(models.map((m) => m.commit));
});

test('tensor counts, parameters and dtypes are those of configs/SOURCES.md', () => {
  const rows: [string, string, number, number, string][] = [
    ['sdxl-base', 'unet/diffusion_pytorch_model.fp16.safetensors', 1680, 2_567_463_684, 'F16'],
    ['sdxl-base', 'text_encoder/model.fp16.safetensors', 196, 123_060_480, 'F16'],
    ['sdxl-base', 'text_encoder_2/model.fp16.safetensors', 517, 694_659_840, 'F16'],
    ['sdxl-vae-fp16-fix', 'diffusion_pytorch_model.safetensors', 248, 83_653_863, 'F32'],
    ['image-encoder', 'sdxl_models/image_encoder/model.safetensors', 777, 1_844_907_264 + 257, 'F16'],
    ['csgo-adapter', 'csgo_4_32.bin', 270, 737_861_632, 'F32'],
  ];
  for (const [id, file, count, params, dtype] of rows) {
    const f = weightFile(id, file);
    expect([id, file, f.tensors.length, f.tensors.reduce((n, t) => n + numel(t.shape), 0)]).toEqual([id, file, count, params]);
    const dtypes = new Set(f.tensors.filter((t) => !t.key.endsWith('position_ids')).map((t) => t.dtype));
    expect([...dtypes]).toEqual([dtype]);
  }
  const pos = weightFile('image-encoder', 'sdxl_models/image_encoder/model.safetensors').tensors[0]!;
  expect(pos).toEqual({ key: 'vision_model.embeddings.position_ids', shape: [1, 257], dtype: 'I64' }); // I64 sorts first, as safetensors writes
  const total = models.reduce((n, m) => n + m.files.reduce((k, f) => k + f.content.size, 0), 0);
  expect(total).toBeGreaterThan(13.7e9);
  expect(total).toBeLessThan(13.8e9);
});

test('names follow the published files: text_model.* in both text encoders, diffusers\' attention names in the VAE', () => {
  const te1 = weightFile('sdxl-base', 'text_encoder/model.fp16.safetensors').tensors;
  expect(te1.every((t) => t.key.startsWith('text_model.'))).toBe(true);
  const te2 = weightFile('sdxl-base', 'text_encoder_2/model.fp16.safetensors').tensors;
  expect(te2.filter((t) => !t.key.startsWith('text_model.')).map((t) => t.key)).toEqual(['text_projection.weight']);
  const unet = new Map(weightFile('sdxl-base', 'unet/diffusion_pytorch_model.fp16.safetensors').tensors.map((t) => [t.key, t.shape]));
  expect(unet.get('add_embedding.linear_1.weight')).toEqual([1280, 2816]);
  expect(unet.get('mid_block.attentions.0.transformer_blocks.9.attn2.to_k.weight')).toEqual([1280, 2048]);
  expect(unet.get('down_blocks.2.attentions.1.proj_in.weight')).toEqual([1280, 1280]); // use_linear_projection
  const vae = weightFile('sdxl-vae-fp16-fix', 'diffusion_pytorch_model.safetensors').tensors.map((t) => t.key);
  expect(vae).toContain('decoder.mid_block.attentions.0.to_out.0.weight');
  const bin = weightFile('csgo-adapter', 'csgo_4_32.bin').tensors;
  expect([...new Set(bin.map((t) => t.key.split('.')[0]))]).toEqual(['content_image_proj', 'style_image_proj', 'ip_adapter', 'controlnet_adapter_modules']);
});

test('each safetensors header is accepted by the project\'s reader with exactly the manifest\'s tensors', () => {
  for (const m of models) {
    for (const f of m.files) {
      if (!f.path.endsWith('.safetensors')) continue;
      const file = path.join(dir, `${m.spec.id}-${path.basename(f.path)}`);
      const header = safetensorsHeader(f.tensors!, { format: 'pt', stylestudio_realshape: 'random weights (tools/realshape), seed 0' });
      fs.writeFileSync(file, header);
      fs.truncateSync(file, f.content.size); // sparse: the reader checks the data size, not the data
      const st = readSafetensors(file);
      expect(header.length % 8).toBe(0);
      expect([...st.tensors.values()].map((t) => [t.key, t.shape, t.dtype])).toEqual(f.tensors!.map((t) => [t.key, t.shape, t.dtype]));
      fs.rmSync(file);
    }
  }
});

test('the CSGO pickle describes the 270 tensors of the structure, storages numbered in order', () => {
  const groups = parseStructure(fs.readFileSync(path.join(sources.configsDir, 'csgo_4_32.structure.json')), 'structure');
  const rebuilt: string[] = [];
  const root = unpickle(torchPickle(groups), {
    globals: new Map<string, PickleCallable>([
      ['collections.OrderedDict', () => new PickleDict()],
      ['torch._utils._rebuild_tensor_v2', (args) => {
        const pid = args[0] as unknown[];
        rebuilt.push(`${String(pid[2])}:${(args[2] as PickleTuple).items.join('x')}`);
        return rebuilt.length;
      }],
      ['torch.FloatStorage', () => undefined],
    ]),
    persistentLoad: (pid) => (pid as PickleTuple).items,
  }) as PickleDict;
  expect([...root.keys()]).toEqual(groups.map((g) => g.name));
  expect(rebuilt).toEqual(groups.flatMap((g) => g.tensors).map((t, i) => `${i}:${t.shape.join('x')}`));
});

test('the tokenizer files are the real CLIP BPE: 49,408 tokens, 48,894 merges, vocab.json as transformers saves it', () => {
  const vocabSource = path.join(sources.vocabDir, 'vocab.json.gz');
  const vocab = JSON.parse(gunzipSync(fs.readFileSync(vocabSource)).toString('utf8')) as Record<string, number>;
  expect(Object.keys(vocab)).toHaveLength(49408);
  expect(new Set(Object.values(vocab)).size).toBe(49408);
  expect([vocab['<|startoftext|>'], vocab['<|endoftext|>'], vocab['!'], vocab['apple</w>']]).toEqual([49406, 49407, 0, 3055]);
  const merges = gunzipSync(fs.readFileSync(path.join(sources.vocabDir, 'merges.txt.gz'))).toString('utf8').split('\n');
  expect(merges[0]).toBe('#version: 0.2');
  expect(merges.slice(1).filter((l) => l !== '')).toHaveLength(48894);
  const saved = savedVocabulary(gunzipSync(fs.readFileSync(vocabSource)), vocabSource);
  expect(saved.length).toBe(1_059_962);
  expect(saved.toString('utf8', 0, 42)).toBe('{\n  "!": 0,\n  "!!": 1443,\n  "!!!": 11194,\n');
  // sha256 of Python's json.dumps(vocab, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for this vocabulary
  expect(createHash('sha256').update(saved).digest('hex')).toBe('e089ad92ba36837a0d31433e555c8f45fe601ab5c221d4f607ded32d9f7a4349');
  expect(JSON.parse(saved.toString('utf8'))).toEqual(vocab);
  const size = models[0]!.files.find((f) => f.path === 'tokenizer_2/vocab.json')!.content.size;
  expect(size).toBe(1_059_962);
});

test('malformed manifests and structures are refused with the file named', () => {
  expect(() => parseManifest(Buffer.from('{"tensors": [["a", [2, -1], "F16"]]}'), 'm.json', 'o/r', 'f')).toThrow('m.json: tensor 0 is not [key, shape, dtype]: ["a",[2,-1],"F16"]');
  expect(() => parseManifest(Buffer.from('{"repo": "o/x", "tensors": []}'), 'm.json', 'o/r', 'f')).toThrow('m.json: describes o/x, found under o/r');
  expect(() => parseManifest(Buffer.from('nope'), 'm.json', 'o/r', 'f')).toThrow(/^m\.json: not JSON/);
  const structure = (g: object) => Buffer.from(JSON.stringify({ top_level_keys: ['g'], groups: { g } }));
  expect(() => parseStructure(structure({ tensors: 2, shapes: { w: [2, 3] } }), 's.json')).toThrow('s.json: group g says 2 tensors, lists 1');
  expect(() => parseStructure(structure({ parameters: 7, shapes: { w: [2, 3] } }), 's.json')).toThrow('s.json: group g says 7 parameters, its shapes make 6');
  expect(() => parseStructure(structure({ shapes: { w: [2, 3] }, dtype: 'F8' }), 's.json')).toThrow('s.json: group g has unknown dtype "F8"');
  expect(() => planSet({ ...sources, manifestsDir: path.join(dir, 'none') }, 0)).toThrow(/stabilityai\/stable-diffusion-xl-base-1\.0\/text_encoder\/model\.fp16\.safetensors: no source/);
});
