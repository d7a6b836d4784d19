/**
 * SDXL text-to-image with a style image and every StyleStudio switch (METHOD.md), on a loaded ModelSet.
 *
 *   conditioning  text: encode_prompt semantics (no negative prompt → zeros under force_zeros_for_empty_prompt,
 *                 except with a style and cross-modal AdaIN, where "" is encoded as StyleStudio does);
 *                 style: CLIP features → projection over [negative ; style], the negative being zero features
 *                 (proj(zeros)), a user negative style image or a drop preset (SCFG, METHOD.md §2). Several
 *                 references take one slot each, their tokens side by side (diffusers' several images for one
 *                 IP-Adapter); slot i's weight w enters the style attention as + ln w on its tokens' logits, and a
 *                 slot one side lacks (more references than negatives, or the reverse) is masked on that side.
 *   init (img2img) the init image fitted to the output size, VAE-encoded once per job (mean, std).
 *   sampling      per variation, its own seed: z = latents (or torch.randn with the seed) × init_noise_sigma; with an
 *                 init image (diffusers' img2img) z = add_noise(scaling_factor · (mean + std · randn), randn, t_start)
 *                 and the loop starts at step index t_start = steps − int(steps · denoise), both draws from the
 *                 variation's generator. Teacher and student start from the identical z, at the same step, and
 *                 the teacher's steps count from there. With a mask (inpainting, diffusers' SDXL inpaint pipeline
 *                 for a 4-channel UNet) the generator also draws the masked image's VAE sample (unused), denoise 1
 *                 starts from pure noise, and after every step the latents outside the mask (student and teacher)
 *                 are replaced by the init latents noised to the next step. While step ≤ teacherSteps the batch is
 *                 [uncond-T, uncond-S, cond-T, cond-S] with the teacher mask and the gather index (students
 *                 borrow their teacher's attention maps); afterwards the teacher rows are dropped (4 → 2 rows).
 *                 Each pair gets its own CFG and scheduler step; ancestral noise is drawn once per step from
 *                 the variation's generator and shared by teacher and student, so dropping the teacher never
 *                 changes the student's random stream.
 *   decode        the student's final latents through the VAE decoder → RGBA.
 * Everything heavy runs in the sessions' worker threads; this loop only touches latent-sized arrays.
 */
import {
  type ImageSide, type ModelSet, type UNetKey, type UNetSession, type VaeDecoder, type VaeEncoder, unetCacheKey, vaeCacheKey, vaeEncoderCacheKey,
} from '../runtime/model-set';
import type { Lease } from '../runtime/resident-cache';
import { EngineError, GenerationAborted } from '../runtime/errors';
import { admit, type JobMemoryPlan, type NetworkKind, planJobMemory } from '../runtime/memory';
import { checkStyleLayers } from './preflight';
import { classifierFreeGuidance } from './guidance';
import type { Float32Nd } from './npy';
import type { GenerateRequest, StyleLayers } from './request';
import { LIMITS, validateRequest } from './request';
import { rowPlan, type RowPlan } from './rows';
import { checkImageSize, sdxlTimeIds } from './size';
import { concatTokens, floatFeed, rowOf, scaled, stackRows, toFloat32 } from './tensors';
import type { AttentionPlan, StyleLayerSelection } from '../models/unet/attention-plan';
import type { SdxlPromptEmbeds } from '../models/clip-text-sdxl';
import { prepareStylePixels, type StylePixels } from './style-pixels';
import type { RgbaImage } from '../image/rgba';
import { rgbaToVaeInput, vaeOutputToRgba } from '../image/vae-image';
import { fitInitImage, latentMask } from '../image/init-image';
import { f32 } from '../rng/float32';
import { randn } from '../rng/randn';
import { TorchCpuGenerator } from '../rng/torch-generator';
import { schedulerFromConfig, type Scheduler, type SchedulerState } from '../schedulers';
import type { TensorData } from '../onnx/session';
import { codedErrorClass, denoiseSteps, SPEC_DEFAULTS, type DropSpec } from '../../protocol';

export interface PipelineRequest extends GenerateRequest {
  /** Explicit seeds, one per variation (overrides seed + k). */
  readonly seeds?: readonly number[];
  /**
   * Diagnostics: keep the teacher rows after teacherSteps (identity gather index, as the reference runs them),
   * so the teacher's own final latents can be compared; the student result is the same either way.
   */
  readonly keepTeacherRows?: boolean;
}

export interface StepProgress {
  /** Variation index, 0-based. */
  readonly variation: number;
  /** Steps finished in this variation (1…steps; img2img counts only the steps that run). */
  readonly step: number;
  readonly steps: number;
  /** The student's current latents [1, C, h, w] (do not keep a reference; copy if needed). */
  readonly latents: Float32Nd;
}

export interface PipelineHooks {
  onStep?(p: StepProgress): void;
  /** Checked at every step boundary; when aborted the run throws GenerationAborted. */
  readonly signal?: AbortSignal;
  /** Decode the final latents to an image (default true). */
  readonly decode?: boolean;
  /**
   * Prepares CLIP pixel values (and the drop preset's negative) somewhere else, e.g. a worker thread; the default
   * runs prepareStylePixels here.
   */
  readonly prepareStyle?: (...a: Parameters<typeof prepareStylePixels>) => StylePixels | Promise<StylePixels>;
}

export interface VariationResult {
  readonly index: number;
  readonly seed: number;
  /** Final student latents [1, C, h, w], before the VAE. */
  readonly latents: Float32Nd;
  readonly image?: RgbaImage;
  /** Only with keepTeacherRows: the teacher's final latents. */
  readonly teacherLatents?: Float32Nd;
}

export interface PipelineResult {
  readonly variations: readonly VariationResult[];
  /** UNet batch rows evaluated over the whole request (4·T + 2·(S−T) per variation with the teacher). */
  readonly unetRowEvaluations: number;
  readonly scheduler: string;
  /** total: the whole call; sampling: the denoising loops only (sessions were created before); perStep: sampling / steps. */
  readonly seconds: { readonly total: number; readonly sampling: number; readonly perStep: number };
  /** The negative text that was encoded: null = zero embeddings. */
  readonly negativeText: string | null;
}

/** What run() yields: a phase starting (and whether its network must be loaded first), a step, a result. */
export type PipelineEvent =
  | { readonly kind: 'phase'; readonly phase: 'conditioning' | 'denoise' | 'decode'; readonly network: NetworkKind; readonly loading: boolean }
  | { readonly kind: 'step'; readonly progress: StepProgress }
  | { readonly kind: 'result'; readonly variation: VariationResult };

/** run()'s return value. */
export type PipelineSummary = Omit<PipelineResult, 'variations'> & { readonly memory: JobMemoryPlan };

/** What preflight() settles about a request before any session exists. */
export interface JobPlan {
  readonly selection: StyleLayerSelection;
  /** Style reference slots (1 for one reference and at most one negative image). */
  readonly styleSlots: number;
  readonly teacherSteps: number | null;
  readonly lh: number;
  readonly lw: number;
  /** Schedule index the denoising starts at (0; img2img: steps − int(steps · denoise)) and how many steps run. */
  readonly startStep: number;
  readonly runSteps: number;
  /** The most UNet rows a step will run (4 with the teacher). */
  readonly rows: number;
  /** Rows per UNet call: `rows`, or 2 when the teacher's pairs run one after the other to fit the budget. */
  readonly rowsPerRun: number;
  readonly memory: JobMemoryPlan;
}

export { prepareStylePixels, type StylePixels };

export class PipelineError extends codedErrorClass('PipelineError', 'BAD_PIPELINE_INPUT') {}

/** A logit bias that removes a token from the softmax (exp underflows to 0 in fp16 and fp32 alike). */
const MASKED_TOKEN_BIAS = -1e4;

/** The style references of a request in slot order: the style first, then extraStyles. */
export function styleReferences(r: GenerateRequest): { readonly image: RgbaImage; readonly weight: number }[] {
  if (r.style === undefined) return [];
  return [{ image: r.style, weight: r.styleWeight ?? 1 }, ...(r.extraStyles ?? [])];
}

/** The negatives per slot: one drop preset for every reference, the negative images, or none (zero features). */
function styleNegatives(r: GenerateRequest): { readonly images: readonly RgbaImage[] } | { readonly drop: DropSpec } | null {
  if (r.drop !== undefined) return { drop: r.drop };
  return r.negativeStyle === undefined ? null : { images: [r.negativeStyle, ...(r.extraNegativeStyles ?? [])] };
}

/** Reference slots a request needs: the larger of its references and negative images. */
export function styleSlotsOf(r: GenerateRequest): number {
  const negatives = styleNegatives(r);
  return Math.max(styleReferences(r).length, negatives !== null && 'images' in negatives ? negatives.images.length : 0, 1);
}

interface Conditioning {
  /** Per-row encoder hidden states for the unconditional and the conditional side: [77 + T, D] each. */
  readonly uncondEhs: Float32Array;
  readonly condEhs: Float32Array;
  readonly tokens: number;
  /** Several reference slots: the style tokens' logit bias for the unconditional and the conditional rows [T]. */
  readonly bias: { readonly uncond: Float32Array; readonly cond: Float32Array } | null;
  readonly crossDim: number;
  readonly negPooled: Float32Array;
  readonly pooled: Float32Array;
}

function styleSelection(models: ModelSet, layers: StyleLayers): StyleLayerSelection {
  switch (layers.kind) {
    case 'adapter-default': return models.defaultStyleSelection();
    case 'all': return { preset: 'all' };
    case 'prefixes': return { preset: 'custom', blocks: layers.prefixes };
    default: {
      const never: never = layers;
      throw new PipelineError(`unknown style layers ${JSON.stringify(never)}`);
    }
  }
}

export function seedsOf(r: PipelineRequest): number[] {
  if (r.seeds !== undefined) {
    if (r.seeds.length !== r.variations) throw new PipelineError(`${r.seeds.length} seeds given for ${r.variations} variations`);
    return [...r.seeds];
  }
  return Array.from({ length: r.variations }, (_, k) => r.seed + k);
}

export class StyleStudioPipeline {
  constructor(readonly models: ModelSet) {}

  /** The scheduler a request gets: --scheduler NAME, else the folder's scheduler_config.json class. */
  scheduler(name?: string): Scheduler {
    const component = this.models.folder.component('scheduler');
    return schedulerFromConfig(component.config(), name, component.configFile);
  }

  /**
   * Checks everything that can be checked before any session exists (fast, no weights read): the request's
   * ranges, the size against the stride and the style layers (AdaIN needs ≥ 2 tokens in each), the adapter's
   * weights for the chosen layers, and the memory the job needs against the budget. Returns the job's plan.
   */
  preflight(request: PipelineRequest): JobPlan {
    const plan = this.plan(request);
    admit(plan.memory);
    return plan;
  }

  /** preflight() without the memory admission: the plan, whether or not it fits the budget (`generate --plan`). */
  plan(request: PipelineRequest): JobPlan {
    const m = this.models;
    validateRequest(request);
    try {
      checkImageSize(request.width, request.height, m.sizeMultiple, LIMITS.maxSide);
    } catch (e) {
      throw new EngineError('BAD_SIZE', (e as Error).message);
    }
    const hasStyle = request.style !== undefined;
    if (hasStyle && m.adapter === null) throw new EngineError('BAD_REQUEST', 'a style image needs a style adapter and an image encoder');
    const selection: StyleLayerSelection = hasStyle ? styleSelection(m, request.styleLayers) : { preset: 'none' };
    const lh = request.height / m.vaeScaleFactor;
    const lw = request.width / m.vaeScaleFactor;
    let attention: AttentionPlan;
    try {
      attention = m.planFor(selection);
    } catch (e) {
      throw new EngineError('STYLE_LAYERS', (e as Error).message);
    }
    if (hasStyle) {
      checkStyleLayers(m, attention, lh, lw);
    }
    const styleSlots = hasStyle ? styleSlotsOf(request) : 1;
    const teacherSteps = hasStyle && request.teacherSteps !== null && request.teacherSteps > 0 ? request.teacherSteps : null;
    const rows = teacherSteps !== null || request.keepTeacherRows === true ? 4 : 2;
    const img2img = request.init !== undefined;
    if (img2img && request.latents !== undefined) {
      throw new EngineError('BAD_REQUEST', 'explicit latents and an init image exclude each other: img2img draws its noise from the seed');
    }
    const runSteps = img2img ? denoiseSteps(request.steps, request.denoise ?? SPEC_DEFAULTS.denoise) : request.steps;
    // The teacher's 4 rows are two independent pairs (each student reads only its own teacher's attention), so when
    // 4 rows at once do not fit, the UNet runs each pair separately: half the activation memory, same numbers.
    let rowsPerRun = Math.min(rows, m.maxRowsPerRun);
    let memory = planJobMemory(m.footprints(lh, lw, selection, rowsPerRun, img2img), m.provider, m.lowering.precision, m.memoryBudget);
    if (memory.peakBytes > memory.budgetBytes && rowsPerRun > 2) {
      rowsPerRun = 2; // the smallest the job can be: admission then judges this plan
      memory = planJobMemory(m.footprints(lh, lw, selection, 2, img2img), m.provider, m.lowering.precision, m.memoryBudget);
    }
    return { selection, styleSlots, teacherSteps, lh, lw, startStep: request.steps - runSteps, runSteps, rows, rowsPerRun, memory: { ...memory, rowsPerRun } };
  }

  /**
   * Runs a request as a stream of events: conditioning once (text, then style), then per variation its steps and
   * its result. Sessions are leased from the model set's resident cache only for the phase that needs them, so the
   * budget can release conditioning before the UNet loads. The generator's return value is the run's summary.
   */
  async *run(request: PipelineRequest, hooks: PipelineHooks = {}): AsyncGenerator<PipelineEvent, PipelineSummary> {
    const started = performance.now();
    const m = this.models;
    const job = this.preflight(request);
    const seeds = seedsOf(request);
    const latentShape = [1, m.latentChannels, job.lh, job.lw];
    if (request.latents !== undefined) checkLatents(request.latents, latentShape, request.variations);
    const scheduler = this.scheduler(request.scheduler);
    const schedule = scheduler.schedule(request.steps);
    const hasStyle = request.style !== undefined;

    // Text: zeros for a missing negative prompt (force_zeros_for_empty_prompt), "" when AdaIN needs text statistics.
    const needsText = hasStyle && request.crossModalAdain;
    const negativeText = request.negativePrompt ?? (needsText || !m.forceZerosForEmptyPrompt ? '' : null);
    yield { kind: 'phase', phase: 'conditioning', network: 'text-encoders', loading: !m.cache.has('text-encoders') };
    const textLease = await m.textEncoders();
    let text: SdxlPromptEmbeds;
    try {
      text = await textLease.value.encode({
        prompt: m.tokenize(request.prompt),
        ...(negativeText !== null ? { negative: m.tokenize(negativeText) } : {}),
      });
    } finally {
      textLease.done('evict-first'); // not needed again this job: released first when the UNet needs room
    }
    this.throwIfAborted(hooks.signal);
    if (hasStyle) yield { kind: 'phase', phase: 'conditioning', network: 'image-encoder', loading: !m.cache.has('image-side') };
    const cond = await this.conditioning(request, text, hooks);
    this.throwIfAborted(hooks.signal);
    let init: InitLatents | null = null;
    let inpaint: Uint8Array | null = null;
    if (request.init !== undefined) {
      yield { kind: 'phase', phase: 'conditioning', network: 'vae-encoder', loading: !m.cache.has(vaeEncoderCacheKey(job.lh, job.lw)) };
      const lease = await m.vaeEncoder(job.lh, job.lw);
      try {
        init = await encodeInit(lease.value, fitInitImage(request.init, request.width, request.height), m.vaeConfig.scaling_factor);
        if (request.mask !== undefined) inpaint = latentMask(fitInitImage(request.mask, request.width, request.height), m.vaeScaleFactor);
      } finally {
        lease.done('evict-first');
      }
      this.throwIfAborted(hooks.signal);
    }

    const decode = hooks.decode !== false;
    const unetKey: UNetKey = { latentHeight: job.lh, latentWidth: job.lw, style: job.selection, ...(job.styleSlots > 1 ? { styleSlots: job.styleSlots } : {}) };
    yield { kind: 'phase', phase: 'denoise', network: 'unet', loading: !m.cache.has(unetCacheKey(unetKey)) };
    let unet: Lease<UNetSession> | null = await m.unet(unetKey, job.rowsPerRun);
    let vae: Lease<VaeDecoder> | null = null;
    const deferred: { index: number; seed: number; latents: Float32Nd; teacher: Float32Array | null }[] = [];
    let samplingMs = 0;
    let rowEvaluations = 0;
    try {
      if (decode && job.memory.decodeInterleaved) {
        yield { kind: 'phase', phase: 'decode', network: 'vae-decoder', loading: !m.cache.has(vaeCacheKey(job.lh, job.lw)) };
        vae = await m.vaeDecoder(job.lh, job.lw);
      }
      this.throwIfAborted(hooks.signal);
      for (const [index, seed] of seeds.entries()) {
        const generator = new TorchCpuGenerator(seed);
        let start: Float32Array;
        let blend: InpaintBlend | null = null;
        if (init !== null) {
          const imageLatents = init.sample(generator);
          const noise = randn(generator, latentShape);
          if (inpaint !== null) {
            randn(generator, latentShape); // diffusers encodes the masked image too (for 9-channel UNets): same draws
            blend = { mask: inpaint, imageLatents, noise };
          }
          // inpainting at full denoise starts from pure noise, as diffusers' inpaint pipeline does (img2img noises the image)
          start = inpaint !== null && (request.denoise ?? SPEC_DEFAULTS.denoise) === 1
            ? scaled(noise, schedule.initNoiseSigma)
            : scheduler.addNoise(schedule, job.startStep, imageLatents, noise);
        } else {
          start = scaled(request.latents?.data ?? randn(generator, latentShape), schedule.initNoiseSigma);
        }
        const t0 = performance.now();
        const r = yield* this.sample({
          request, hooks, index, generator, scheduler, schedule, cond, unet: unet.value, rowsPerRun: job.rowsPerRun, selection: job.selection, teacherSteps: job.teacherSteps,
          lh: job.lh, lw: job.lw, start, startStep: job.startStep, blend,
        });
        samplingMs += performance.now() - t0;
        rowEvaluations += r.rowEvaluations;
        const latents: Float32Nd = { shape: latentShape, data: r.student };
        if (decode && vae === null) {
          deferred.push({ index, seed, latents, teacher: r.teacher });
          continue;
        }
        const image = vae !== null ? await decodeWith(vae.value, latents, m.vaeScaleFactor) : undefined;
        yield { kind: 'result', variation: { index, seed, latents, ...(image ? { image } : {}), ...(r.teacher ? { teacherLatents: { shape: latentShape, data: r.teacher } } : {}) } };
      }
      if (deferred.length > 0) {
        // The UNet and the decoder do not fit together: let the UNet go (the cache releases it if the decoder needs
        // its memory), then decode every variation.
        unet.done();
        unet = null;
        yield { kind: 'phase', phase: 'decode', network: 'vae-decoder', loading: !m.cache.has(vaeCacheKey(job.lh, job.lw)) };
        vae = await m.vaeDecoder(job.lh, job.lw);
        for (const d of deferred) {
          this.throwIfAborted(hooks.signal);
          const image = await decodeWith(vae.value, d.latents, m.vaeScaleFactor);
          yield { kind: 'result', variation: { index: d.index, seed: d.seed, latents: d.latents, image, ...(d.teacher ? { teacherLatents: { shape: latentShape, data: d.teacher } } : {}) } };
        }
      }
    } finally {
      unet?.done();
      vae?.done();
    }
    const end = performance.now();
    const sampling = samplingMs / 1000;
    return {
      unetRowEvaluations: rowEvaluations,
      scheduler: scheduler.name,
      seconds: { total: (end - started) / 1000, sampling, perStep: sampling / (job.runSteps * seeds.length) },
      negativeText,
      memory: job.memory,
    };
  }

  /** run() collected: every variation's result, with step callbacks through hooks.onStep. */
  async generate(request: PipelineRequest, hooks: PipelineHooks = {}): Promise<PipelineResult> {
    const variations: VariationResult[] = [];
    const it = this.run(request, hooks);
    for (;;) {
      const n = await it.next();
      if (n.done === true) return { ...n.value, variations: variations.sort((a, b) => a.index - b.index) };
      const e = n.value;
      if (e.kind === 'step') hooks.onStep?.(e.progress);
      else if (e.kind === 'result') variations.push(e.variation);
    }
  }

  private throwIfAborted(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw new GenerationAborted();
  }

  /** Text and style conditioning for the unconditional and the conditional rows. */
  private async conditioning(r: PipelineRequest, text: SdxlPromptEmbeds, hooks: PipelineHooks): Promise<Conditioning> {
    const t = toFloat32(text.promptEmbeds, 'prompt_embeds');
    const nt = toFloat32(text.negativePromptEmbeds, 'negative_prompt_embeds');
    const crossDim = text.promptEmbeds.dims[2]!;
    const base = {
      crossDim,
      pooled: toFloat32(text.pooledPromptEmbeds, 'pooled_prompt_embeds'),
      negPooled: toFloat32(text.negativePooledPromptEmbeds, 'negative_pooled_prompt_embeds'),
    };
    if (r.style === undefined) return { ...base, uncondEhs: nt, condEhs: t, tokens: 0, bias: null };
    const references = styleReferences(r);
    const negatives = styleNegatives(r);
    const slots = styleSlotsOf(r);
    const lease = await this.models.imageSide();
    const side = lease.value;
    const per = side.adapter.tokens * crossDim;
    const uncond: Float32Array[] = [];
    const cond: Float32Array[] = [];
    try {
      const prepare = hooks.prepareStyle ?? prepareStylePixels;
      for (let i = 0; i < slots; i++) {
        const reference = references[i];
        const negative = negatives === null ? null : 'images' in negatives ? negatives.images[i] ?? null : reference !== undefined ? negatives.drop : null;
        // a slot without a reference still needs its negative's pixels: prepared as the slot's only image
        const pixels = reference !== undefined
          ? await prepare(reference.image, negative, side.encoderConfig.image_size, r.styleResize)
          : await prepare(negative as RgbaImage, null, side.encoderConfig.image_size, r.styleResize);
        this.throwIfAborted(hooks.signal);
        const tokens = reference !== undefined ? await styleTokens(side, pixels.style, pixels.negative) : await styleTokens(side, null, pixels.style);
        uncond.push(tokens.slice(0, per));
        cond.push(tokens.slice(per, 2 * per));
      }
    } finally {
      lease.done('evict-first');
    }
    let bias: Conditioning['bias'] = null;
    if (slots > 1) {
      const T = side.adapter.tokens;
      const slotBias = (values: readonly number[]) => {
        const out = new Float32Array(slots * T);
        values.forEach((v, i) => out.fill(v, i * T, (i + 1) * T));
        return out;
      };
      const weightBias = (w: number) => (w > 0 ? Math.log(w) : MASKED_TOKEN_BIAS);
      const negativeCount = negatives !== null && 'images' in negatives ? negatives.images.length : slots; // zero features or drop presets fill every slot
      bias = {
        uncond: slotBias(Array.from({ length: slots }, (_, i) => (i < negativeCount ? 0 : MASKED_TOKEN_BIAS))),
        cond: slotBias(Array.from({ length: slots }, (_, i) => (i < references.length ? weightBias(references[i]!.weight) : MASKED_TOKEN_BIAS))),
      };
    }
    return {
      ...base,
      uncondEhs: concatTokens(nt, stackRows(uncond)),
      condEhs: concatTokens(t, stackRows(cond)),
      tokens: side.adapter.tokens * slots,
      bias,
    };
  }

  /** One variation's denoising loop; yields a step event after each step. */
  private async *sample(a: {
    request: PipelineRequest; hooks: PipelineHooks; index: number; generator: TorchCpuGenerator; scheduler: Scheduler;
    schedule: ReturnType<Scheduler['schedule']>; cond: Conditioning; unet: UNetSession; rowsPerRun: number; selection: StyleLayerSelection; teacherSteps: number | null;
    lh: number; lw: number; start: Float32Array; startStep: number; blend: InpaintBlend | null;
  }): AsyncGenerator<PipelineEvent, { student: Float32Array; teacher: Float32Array | null; rowEvaluations: number }> {
    const { request: r, hooks, scheduler, schedule, cond } = a;
    const m = this.models;
    const styled = a.selection.preset !== 'none';
    const ct = m.computeType;
    const rowSize = a.start.length;
    const latentShape = [1, m.latentChannels, a.lh, a.lw];
    let student = a.start;
    let teacher: Float32Array | null = a.teacherSteps !== null ? a.start.slice() : null;
    let studentState: SchedulerState = scheduler.initialState();
    let teacherState: SchedulerState = scheduler.initialState();
    const timeIds = sdxlTimeIds(r.width, r.height);
    const fixedFeeds = new Map<number, Record<string, TensorData>>(); // by row count: the layouts are fixed (rows.ts)
    let rowEvaluations = 0;
    for (let i = a.startStep; i < r.steps; i++) {
      this.throwIfAborted(hooks.signal);
      // the teacher's steps count from the first step that runs (img2img starts late)
      const plan = this.planFor(i - a.startStep, a.teacherSteps, r.keepTeacherRows === true);
      const unet = a.unet;
      // Rows in the plan's order; teacher rows carry the teacher latent, student rows the student latent.
      const isTeacherRow = (row: number) => plan.teacher !== null && (row === plan.teacher.uncond || row === plan.teacher.cond);
      const isCondRow = (row: number) => row === plan.condStudent || (plan.teacher !== null && row === plan.teacher.cond);
      const sStudent = scheduler.scaleModelInput(schedule, i, student);
      const sTeacher = teacher !== null && plan.teacher !== null ? scheduler.scaleModelInput(schedule, i, teacher) : null;
      const rows = Array.from({ length: plan.rows }, (_, row) => row);
      const t = schedule.timesteps[i]!;
      // The conditioning rows only change with the row plan: stack (and convert) them once per plan.
      let fixed = fixedFeeds.get(plan.rows);
      if (!fixed) {
        fixed = {
          encoder_hidden_states: floatFeed(ct, [plan.rows, 77 + cond.tokens, cond.crossDim],
            stackRows(rows.map((row) => (isCondRow(row) ? cond.condEhs : cond.uncondEhs)))),
          text_embeds: floatFeed(ct, [plan.rows, cond.pooled.length], stackRows(rows.map((row) => (isCondRow(row) ? cond.pooled : cond.negPooled)))),
          time_ids: { dtype: 'float32', dims: [plan.rows, 6], data: stackRows(rows.map(() => timeIds)) },
        };
        fixedFeeds.set(plan.rows, fixed);
      }
      const feeds: Record<string, TensorData> = {
        ...fixed,
        sample: floatFeed(ct, [plan.rows, ...latentShape.slice(1)], stackRows(rows.map((row) => (isTeacherRow(row) ? sTeacher! : sStudent)))),
        timestep: { dtype: 'float32', dims: [plan.rows], data: new Float32Array(plan.rows).fill(t) },
      };
      if (styled) {
        feeds['ip_scale'] = { dtype: 'float32', dims: [1], data: new Float32Array([r.scale]) };
        feeds['adain_strength'] = { dtype: 'float32', dims: [1], data: new Float32Array([r.crossModalAdain ? r.adainStrength : 0]) };
        feeds['teacher_mask'] = { dtype: 'float32', dims: [plan.rows], data: plan.teacherMask };
        if (cond.bias !== null) {
          const bias = cond.bias;
          feeds['style_bias'] = { dtype: 'float32', dims: [plan.rows, cond.tokens], data: stackRows(rows.map((row) => (isCondRow(row) ? bias.cond : bias.uncond))) };
        }
      }
      // a styled UNet always has the gather index: the identity (student-only rows) is plain attention
      if (unet.teacherShare) feeds['teacher_index'] = { dtype: 'int64', dims: [plan.rows], data: plan.gatherIndex };
      const noisePred = await runInChunks(unet, feeds, plan.rows, a.rowsPerRun);
      rowEvaluations += plan.rows;
      // Ancestral samplers: one draw per step from the variation's generator, shared by teacher and student.
      const noise = scheduler.stochastic ? randn(a.generator, latentShape) : undefined;
      const guide = (u: number, c: number) => (r.guidance > 1
        ? classifierFreeGuidance(noisePred, rowSize, u, c, r.guidance)
        : rowOf(noisePred, c, rowSize).slice()); // diffusers skips CFG when guidance_scale <= 1
      const sOut = scheduler.step(schedule, i, student, guide(plan.uncondStudent, plan.condStudent), studentState, noise ? { noise } : {});
      student = sOut.prevSample;
      studentState = sOut.state;
      // inpainting: outside the mask the init latents, noised to the level of the next step (none after the last)
      const proper = a.blend === null ? null
        : i < r.steps - 1 ? scheduler.addNoise(schedule, i + 1, a.blend.imageLatents, a.blend.noise) : a.blend.imageLatents;
      if (proper !== null) student = keepOutsideMask(student, proper, a.blend!.mask);
      if (teacher !== null) {
        if (plan.teacher !== null) {
          const tOut = scheduler.step(schedule, i, teacher, guide(plan.teacher.uncond, plan.teacher.cond), teacherState, noise ? { noise } : {});
          teacher = proper !== null ? keepOutsideMask(tOut.prevSample, proper, a.blend!.mask) : tOut.prevSample;
          teacherState = tOut.state;
        } else {
          teacher = null; // dropped: it can no longer influence the student
        }
      }
      yield { kind: 'step', progress: { variation: a.index, step: i - a.startStep + 1, steps: r.steps - a.startStep, latents: { shape: latentShape, data: student } } };
    }
    return { student, teacher: r.keepTeacherRows === true ? teacher : null, rowEvaluations };
  }

  /** rows.ts's plan, or with keepTeacherRows the 4-row batch continuing without sharing (identity gather). */
  private planFor(i: number, teacherSteps: number | null, keepTeacherRows: boolean): RowPlan {
    const p = rowPlan(i, teacherSteps);
    if (!keepTeacherRows || teacherSteps === null || p.teacher !== null) return p;
    const sharing = rowPlan(0, 1);
    return { ...sharing, gatherIndex: BigInt64Array.from([0n, 1n, 2n, 3n]) };
  }

  /** Decodes latents with the model set's VAE decoder (leased for the call). */
  async decode(latents: Float32Nd): Promise<RgbaImage> {
    const [, , h, w] = latents.shape as [number, number, number, number];
    const vae = await this.models.vaeDecoder(h, w);
    try {
      return await decodeWith(vae.value, latents, this.models.vaeScaleFactor);
    } finally {
      vae.done();
    }
  }
}

/** Inpainting: the latent mask (1 = redraw, per latent pixel) and the variation's init latents and noise. */
interface InpaintBlend {
  readonly mask: Uint8Array;
  readonly imageLatents: Float32Array;
  readonly noise: Float32Array;
}

/** (1 − m)·proper + m·latents for a 0/1 mask broadcast over the channels: exactly a choice per element. */
function keepOutsideMask(latents: Float32Array, proper: Float32Array, mask: Uint8Array): Float32Array {
  const out = new Float32Array(latents.length);
  for (let k = 0; k < out.length; k++) out[k] = mask[k % mask.length] === 1 ? latents[k]! : proper[k]!;
  return out;
}

/** The init image's latent distribution (VAE encoder, once per job) and its sampling per variation. */
interface InitLatents {
  /** scaling_factor · (mean + std · torch.randn(generator)): retrieve_latents(latent_dist.sample(generator)). */
  sample(generator: TorchCpuGenerator): Float32Array;
}

async function encodeInit(vae: VaeEncoder, image: RgbaImage, scalingFactor: number): Promise<InitLatents> {
  const input = rgbaToVaeInput(image);
  const out = await vae.session.run({ image: floatFeed(vae.computeType, input.shape, input.data) });
  const mean = toFloat32(out['latent_mean'], 'latent_mean').slice();
  const std = toFloat32(out['latent_std'], 'latent_std').slice();
  const shape = out['latent_mean']!.dims;
  const factor = f32(scalingFactor); // torch multiplies a float32 tensor by the Python float as float32
  return {
    sample(generator) {
      const eps = randn(generator, shape);
      const x = new Float32Array(mean.length);
      for (let k = 0; k < x.length; k++) x[k] = f32(factor * f32(mean[k]! + f32(std[k]! * eps[k]!)));
      return x;
    },
  };
}

async function decodeWith(vae: VaeDecoder, latents: Float32Nd, vaeScaleFactor: number): Promise<RgbaImage> {
  const [, , h, w] = latents.shape as [number, number, number, number];
  const out = await vae.session.run({ latents: floatFeed(vae.computeType, latents.shape, latents.data) });
  const sample = toFloat32(out['sample'], 'VAE sample');
  return vaeOutputToRgba({ shape: [1, 3, h * vaeScaleFactor, w * vaeScaleFactor], data: sample });
}

/** Inputs whose first dim is the batch row (the others, ip_scale and adain_strength, are shared by every row). */
const SHARED_INPUTS = new Set(['ip_scale', 'adain_strength']);

/**
 * One UNet step over `rows` rows, `perRun` rows per call: each chunk gets its rows of every batched input, and its
 * gather index rebased to the chunk (a row may only borrow attention from a row of its own chunk).
 */
async function runInChunks(unet: UNetSession, feeds: Record<string, TensorData>, rows: number, perRun: number): Promise<Float32Array> {
  if (perRun >= rows) return toFloat32((await unet.session.run(feeds))['noise_pred'], 'noise_pred');
  const parts: Float32Array[] = [];
  for (let start = 0; start < rows; start += perRun) {
    const n = Math.min(perRun, rows - start);
    const chunk: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (SHARED_INPUTS.has(name)) {
        chunk[name] = t;
        continue;
      }
      const per = t.data.length / rows;
      let data = t.data.slice(start * per, (start + n) * per) as TensorData['data'];
      if (name === 'teacher_index') {
        const rebased = BigInt64Array.from(data as BigInt64Array, (v) => v - BigInt(start));
        if (rebased.some((v) => v < 0n || v >= BigInt(n))) throw new PipelineError(`teacher index [${Array.from(data as BigInt64Array).join(', ')}] crosses a ${n}-row chunk`);
        data = rebased;
      }
      chunk[name] = { dtype: t.dtype, dims: [n, ...t.dims.slice(1)], data };
    }
    parts.push(toFloat32((await unet.session.run(chunk))['noise_pred'], 'noise_pred').slice());
  }
  return stackRows(parts);
}

/**
 * Style tokens [2, T, D] of one slot: row 0 from the negative pixels, row 1 from the style pixels; a missing one has
 * zero features (proj(zeros)).
 */
async function styleTokens(side: ImageSide, style: Float32Array | null, negative: Float32Array | null): Promise<Float32Array> {
  const size = side.encoderConfig.image_size;
  const encode = async (p: Float32Array) => {
    const out = await side.encoder.run({ pixel_values: floatFeed(side.encoderType, [1, 3, size, size], p) });
    const name = side.adapter.features === 'image_embeds' ? 'image_embeds' : 'penultimate_hidden_states';
    return { data: toFloat32(out[name], name), dims: out[name]!.dims };
  };
  const encoded = await encode((style ?? negative)!);
  const styleFeatures = style !== null ? encoded.data : new Float32Array(encoded.data.length);
  const negativeFeatures = style === null ? encoded.data : negative === null ? new Float32Array(encoded.data.length) : (await encode(negative)).data;
  const out = await side.projection.run({
    features: floatFeed(side.encoderType, [2, ...encoded.dims.slice(1)], stackRows([negativeFeatures, styleFeatures])),
  });
  return toFloat32(out['style_tokens'], 'style_tokens');
}

function checkLatents(l: Float32Nd, shape: readonly number[], variations: number): void {
  if (l.shape.length !== shape.length || l.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`latents have shape [${l.shape.join(', ')}], this size needs [${shape.join(', ')}]`);
  }
  if (variations !== 1) throw new RangeError('explicit latents give one starting noise: use 1 variation');
  for (let i = 0; i < l.data.length; i++) {
    if (!Number.isFinite(l.data[i]!)) throw new RangeError(`latents hold a non-finite value at index ${i}`);
  }
}
