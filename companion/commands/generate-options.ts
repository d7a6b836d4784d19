/**
 * `stylestudio generate` options → a validated GenerateRequest plus the files to read and write.
 * Semantics follow the references (issue 4 §5): no --style = plain SDXL; no --negative-prompt = zero
 * negative embeddings, except with a style and cross-modal AdaIN, which encode "" as StyleStudio does.
 */
import { z } from 'zod';
import { DROP_ELEMENTS, type DropElement, type DropSpec, generationSpecSchema, SCHEDULER_NAMES, type SchedulerName, specIssue } from '../../protocol';
import { randomSeed, type RequestSettings, type StyleLayers, type StyleResize } from '../pipeline/request';
import { parseBudget } from '../runtime/memory';
import { codedErrorClass } from '../../protocol';

/** The raw option values commander hands over (all strings or flags, exactly as typed). */
export interface GenerateCliOptions {
  model?: string;
  checkpoint?: string;
  modelConfig?: string;
  modelRoot?: string[];
  prompt?: string;
  out?: string;
  adapter?: string;
  imageEncoder?: string;
  /** Repeatable: several style references (commander collects repeats into an array). */
  style?: string | string[];
  styleWeights?: string;
  init?: string;
  mask?: string;
  denoise?: string;
  negativePrompt?: string;
  /** Repeatable, like --style. */
  negativeStyle?: string | string[];
  drop?: string;
  steps?: string;
  guidance?: string;
  seed?: string;
  variations?: string;
  width?: string;
  height?: string;
  adain?: boolean;            // --no-adain sets false
  adainStrength?: string;
  scale?: string;
  strength?: string;
  styleLayers?: string;
  styleResize?: string;
  teacherSteps?: string;
  teacher?: boolean;          // --no-teacher sets false
  scheduler?: string;
  provider?: string;
  fp16?: boolean;
  latents?: string;
  saveLatents?: string;
  vae?: string;
  memoryBudget?: string;
  plan?: boolean;
}

export type Provider = 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu';

export interface GeneratePlan {
  readonly model: string;
  readonly out: string;
  readonly adapter?: string;
  readonly imageEncoder?: string;
  /** The style images in reference order (the first is the spec's `style`), and the negative style images. */
  readonly stylePaths: readonly string[];
  readonly negativeStylePaths: readonly string[];
  /** The weights of stylePaths[1…] (the first one's is the request's styleWeight). */
  readonly extraStyleWeights: readonly number[];
  /** --init: the image to restyle (img2img); --mask: where to redraw it (inpainting). */
  readonly initPath?: string;
  readonly maskPath?: string;
  /** --width or --height (or both) missing with --init: the command sizes the output from the init image's aspect. */
  readonly sizeFromInit: boolean;
  readonly latentsPath?: string;
  readonly saveLatentsPath?: string;
  readonly provider: Provider;
  readonly fp16: boolean;
  /** A VAE folder replacing the model's vae/ (default: the model's own, else the fp16-fix VAE from the hub cache). */
  readonly vae?: string;
  /** --memory-budget in bytes. */
  readonly memoryBudget?: number;
  /** --plan: print the memory plan per phase and stop before loading anything. */
  readonly planOnly: boolean;
  /** The request without pixels or latents (the command reads those files next). */
  readonly request: RequestSettings;
}

/** A usage error: one line, names the option, exits non-zero. */
export class UsageError extends codedErrorClass('UsageError', 'USAGE') {}

export function integer(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${flag} must be an integer, got ${JSON.stringify(text)}`);
  const v = Number(text);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag} ${text} is too large`);
  return v;
}

export function decimal(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${flag} must be a number, got ${JSON.stringify(text)}`);
  return v;
}

export function oneOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  const t = text.toLowerCase() === 'color' ? 'colour' : text.toLowerCase(); // accept the US spelling too
  if (!(allowed as readonly string[]).includes(t)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return t as T;
}

/** `--drop ELEMENT[,ELEMENT…]`: one element of the style to leave out, or several (their negative carries all). */
export function parseDrop(text: string | undefined): DropSpec | undefined {
  if (text === undefined) return undefined;
  const elements = text.split(',').map((part) => oneOf<DropElement>('--drop', part.trim(), DROP_ELEMENTS)!);
  if (new Set(elements).size !== elements.length) throw new UsageError(`--drop names an element twice: ${JSON.stringify(text)}`);
  return elements.length === 1 ? elements[0]! : elements;
}

export function parseStyleLayers(text: string | undefined): StyleLayers {
  if (text === undefined) return { kind: 'adapter-default' };
  if (text === 'all') return { kind: 'all' };
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!/^(down_blocks|mid_block|up_blocks)(\.\d+)?(\.attentions\.\d+)?(\.transformer_blocks\.\d+)?$/.test(n)) {
      throw new UsageError(`--style-layers: ${JSON.stringify(n)} is not a UNet block path ` +
        '(e.g. up_blocks, up_blocks.0.attentions.1, or all)');
    }
  }
  return { kind: 'prefixes', prefixes: names };
}

export function planGenerate(o: GenerateCliOptions): GeneratePlan {
  const need = (flag: string, v: string | undefined): string => {
    if (v === undefined || v === '') throw new UsageError(`${flag} is required`);
    return v;
  };
  const model = need('--model', o.model);
  const styles = o.style === undefined ? [] : ([] as string[]).concat(o.style);
  const negatives = o.negativeStyle === undefined ? [] : ([] as string[]).concat(o.negativeStyle);
  const weights = o.styleWeights === undefined ? undefined : o.styleWeights.split(',').map((w) => decimal('--style-weights', w.trim())!);
  if (weights !== undefined && weights.length !== styles.length) {
    throw new UsageError(`--style-weights gives ${weights.length} weight${weights.length === 1 ? '' : 's'} for ${styles.length} --style image${styles.length === 1 ? '' : 's'}`);
  }
  const prompt = need('--prompt', o.prompt);
  const out = need('--out', o.out);
  if (o.style !== undefined && (o.adapter === undefined || o.imageEncoder === undefined)) {
    throw new UsageError('--style needs --adapter FILE and --image-encoder DIR');
  }
  if (o.style === undefined) {
    for (const [flag, v] of [['--negative-style', o.negativeStyle], ['--drop', o.drop], ['--teacher-steps', o.teacherSteps]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} needs --style`);
    }
  }
  if (o.negativeStyle !== undefined && o.drop !== undefined) throw new UsageError('--negative-style and --drop exclude each other');
  if (o.latents !== undefined && o.init !== undefined) throw new UsageError('--latents and --init exclude each other: img2img draws its noise from the seed');
  if (o.teacher === false && o.teacherSteps !== undefined) throw new UsageError('--teacher-steps and --no-teacher exclude each other');

  // The flags as a GenerationSpec (image files by path), checked by the one schema the protocol uses too.
  const hasStyle = o.style !== undefined;
  const drop = parseDrop(o.drop);
  const styleResize = oneOf<StyleResize>('--style-resize', o.styleResize, ['none', 'square512']);
  const provider = oneOf<Provider>('--provider', o.provider, ['cpu', 'cuda', 'dml', 'coreml', 'webgpu']) ?? 'cpu';
  const scheduler = oneOf<SchedulerName>('--scheduler', o.scheduler, SCHEDULER_NAMES);
  const defined = <T extends object>(x: T) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined));
  const raw = defined({
    prompt,
    negativePrompt: o.negativePrompt,
    style: styles[0],
    styleWeight: weights?.[0],
    extraStyles: styles.length > 1 ? styles.slice(1).map((image, i) => ({ image, weight: weights?.[i + 1] ?? 1 })) : undefined,
    negativeStyle: negatives[0],
    extraNegativeStyles: negatives.length > 1 ? negatives.slice(1) : undefined,
    init: o.init,
    mask: o.mask,
    denoise: decimal('--denoise', o.denoise),
    drop,
    steps: integer('--steps', o.steps),
    guidance: decimal('--guidance', o.guidance),
    seed: integer('--seed', o.seed),
    variations: integer('--variations', o.variations),
    width: integer('--width', o.width),
    height: integer('--height', o.height),
    crossModalAdain: hasStyle && o.adain !== false,
    adainStrength: decimal('--adain-strength', o.adainStrength),
    scale: decimal('--scale', o.scale),
    strength: decimal('--strength', o.strength),
    styleLayers: parseStyleLayers(o.styleLayers),
    styleResize,
    teacherSteps: o.teacher === false ? null : integer('--teacher-steps', o.teacherSteps),
    scheduler,
  });
  const parsed = generationSpecSchema(z.string()).safeParse(raw);
  if (!parsed.success) throw new UsageError(specIssue(parsed.error, raw).message);
  const { style: _style, negativeStyle: _negative, init: _init, mask: _mask, extraStyles, extraNegativeStyles: _extraNegative, seed, ...settings } = parsed.data;
  const request: GeneratePlan['request'] = { ...settings, seed: seed ?? randomSeed() };
  let memoryBudget: number | undefined;
  if (o.memoryBudget !== undefined) {
    try {
      memoryBudget = parseBudget(o.memoryBudget);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    model, out, provider, fp16: o.fp16 === true, request, planOnly: o.plan === true,
    sizeFromInit: o.init !== undefined && (o.width === undefined || o.height === undefined),
    ...(o.init !== undefined ? { initPath: o.init } : {}),
    ...(o.mask !== undefined ? { maskPath: o.mask } : {}),
    ...(o.vae !== undefined ? { vae: o.vae } : {}),
    ...(memoryBudget !== undefined ? { memoryBudget } : {}),
    ...(o.adapter !== undefined ? { adapter: o.adapter } : {}),
    ...(o.imageEncoder !== undefined ? { imageEncoder: o.imageEncoder } : {}),
    stylePaths: styles,
    negativeStylePaths: negatives,
    extraStyleWeights: (extraStyles ?? []).map((e) => e.weight),
    ...(o.latents !== undefined ? { latentsPath: o.latents } : {}),
    ...(o.saveLatents !== undefined ? { saveLatentsPath: o.saveLatents } : {}),
  };
}
