/**
 * The eval scores against transformers (text and image towers, CLIPImageProcessor), open_clip (the same weights, its
 * own eval preprocessing) and a torch CSD on tiny random weights (tools/golden/eval.py → test/fixtures/eval):
 * embeddings, the torchvision preprocessing bit for bit, and every score within 1e-5.
 */
import * as fs from 'node:fs';
import { readImageFile, type RgbaImage } from '../../../companion/image/rgba';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { ClipTowers } from '../../../companion/eval/clip-towers';
import { CsdModel } from '../../../companion/eval/csd';
import { torchvisionClipPixels } from '../../../companion/eval/torchvision-preprocess';
import { scoreImages, type ScoreInput } from '../../../companion/eval/scorer';
import { Golden, relError } from '../models/golden';
import { fixture } from '../../helpers/paths';

const TOL = 1e-5;
// tools/golden/eval.py writes its goldens beside its fixtures in test/fixtures/eval/
const golden = new Golden('../eval/eval');
type Scores = Record<string, {
  clipT: Record<string, number>;
  style: Record<string, { clip: number; csd?: number }>;
  layoutPairs: Record<string, number>;
}>;
interface Sidecar {
  inputs: { prompts: string[]; generated: string[]; references: string[] };
  scores: Scores;
  scoresOpenClip: Scores;
}
const sidecar = JSON.parse(fs.readFileSync(fixture('eval', 'eval.json'), 'utf8')) as Sidecar;
const paths = { model: fixture('sdxl-tiny'), imageEncoder: fixture('eval', 'image_encoder') };
const options = { lowering: PORTABLE_FP32, session: {} };
const image = (name: string): Promise<RgbaImage> => readImageFile(fixture('eval', 'images', name));

let towers: ClipTowers;
let csd: CsdModel;
beforeAll(async () => {
  towers = await ClipTowers.open(paths, options);
  csd = await CsdModel.open(fixture('eval', 'csd', 'checkpoint.pth'), { ...options, heads: 2 });
});
afterAll(async () => {
  await towers?.release();
  await csd?.release();
});

test('text tower: text_encoder_2 text_embeds of each prompt = CLIPTextModelWithProjection', async () => {
  for (const [i, prompt] of sidecar.inputs.prompts.entries()) {
    const e = relError(await towers.embedText(prompt), golden.get(`text.${i}.text_embeds`).data);
    expect(e.rel).toBeLessThan(TOL);
  }
});

test('image tower on CLIPImageProcessor pixels: image_embeds and penultimate patch tokens = CLIPVisionModelWithProjection', async () => {
  for (const name of [...sidecar.inputs.generated, ...sidecar.inputs.references]) {
    const f = await towers.embedImage(await image(name));
    const embeds = relError(f.embeds, golden.get(`image.${name}.image_embeds`).data);
    const tokens = relError(f.patchTokens.data, golden.get(`image.${name}.penultimate`).data.subarray(f.patchTokens.width));
    expect(embeds.rel).toBeLessThan(TOL);
    expect(tokens.rel).toBeLessThan(TOL);
  }
});

test("CSD: torchvision's preprocessing (rounded crop offset) bit for bit, and the style embedding", async () => {
  const warm = await image('ref_warm.png');
  expect(Array.from(torchvisionClipPixels(warm, 224))).toEqual(Array.from(golden.get('csd.ref_warm.png.pixel_values').data));
  expect(csd.architecture).toEqual({ width: 32, layers: 2, heads: 2, patch: 32, imageSize: 224, styleDim: 24 });
  for (const name of [...sidecar.inputs.generated, ...sidecar.inputs.references]) {
    // CSD's output is L2-normalised; ours is the projection before it (the scores are cosines either way)
    const raw = await csd.embed(await image(name));
    const norm = Math.hypot(...raw);
    expect(relError(raw.map((v) => v / norm), golden.get(`csd.${name}.style`).data).rel).toBeLessThan(TOL);
  }
});

test('CSD from a safetensors file with bare keys (the conversion EVALUATION.md gives) = from checkpoint.pth', async () => {
  const bare = await CsdModel.open(fixture('eval', 'csd', 'csd.safetensors'), { ...options, heads: 2 });
  try {
    const img = await image('gen_a.png');
    expect(Array.from(await bare.embed(img))).toEqual(Array.from(await csd.embed(img)));
  } finally {
    await bare.release();
  }
});

/** Runs the scorer over the generated images for each prompt and returns the largest difference per score. */
async function worstDifferences(t: ClipTowers, withCsd: CsdModel | null, want: Scores): Promise<Record<string, number>> {
  const { prompts, generated, references } = sidecar.inputs;
  const refs = new Map(await Promise.all(references.map(async (r) => [r, await image(r)] as const)));
  const worst: Record<string, number> = { clipT: 0, style: 0, layout: 0, ...(withCsd ? { csd: 0 } : {}) };
  for (const prompt of prompts) {
    const inputs: ScoreInput[] = await Promise.all(generated.map(async (name) => ({
      id: name, image: await image(name), prompt, references, layoutGroup: 'one prompt', style: name,
    })));
    for (const s of await scoreImages(t, withCsd, refs, inputs)) {
      const w = want[s.id]!;
      const pairs = Object.values(w.layoutPairs);
      expect(s.layoutPairs).toBe(pairs.length);
      worst['clipT'] = Math.max(worst['clipT']!, Math.abs(s.clipT - w.clipT[prompt]!));
      worst['layout'] = Math.max(worst['layout']!, Math.abs(s.layout! - pairs.reduce((a, b) => a + b, 0) / pairs.length));
      for (const st of s.style) {
        worst['style'] = Math.max(worst['style']!, Math.abs(st.clip - w.style[st.reference]!.clip));
        if (withCsd) worst['csd'] = Math.max(worst['csd']!, Math.abs(st.csd! - w.style[st.reference]!.csd!));
      }
    }
  }
  return worst;
}

const report = (what: string, worst: Record<string, number>) =>
  console.log(`${what}: largest |ours − reference| ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);

test('every score (CLIP-T, CLIP and CSD style, layout) equals transformers\' and torch\'s within 1e-5', async () => {
  const worst = await worstDifferences(towers, csd, sidecar.scores);
  report('transformers + CSD', worst);
  for (const v of Object.values(worst)) expect(v).toBeLessThan(TOL);
});

test("with open_clip's preprocessing, the embeddings and every score equal open_clip's within 1e-5", async () => {
  const twin = await ClipTowers.open(paths, { ...options, preprocess: 'open_clip' });
  try {
    for (const [i, prompt] of sidecar.inputs.prompts.entries()) {
      expect(relError(await twin.embedText(prompt), golden.get(`open_clip.text.${i}`).data).rel).toBeLessThan(TOL);
    }
    for (const name of [...sidecar.inputs.generated, ...sidecar.inputs.references]) {
      expect(relError((await twin.embedImage(await image(name))).embeds, golden.get(`open_clip.image.${name}`).data).rel).toBeLessThan(TOL);
    }
    const worst = await worstDifferences(twin, null, sidecar.scoresOpenClip);
    report('open_clip', worst);
    for (const v of Object.values(worst)) expect(v).toBeLessThan(TOL);
  } finally {
    await twin.release();
  }
});
