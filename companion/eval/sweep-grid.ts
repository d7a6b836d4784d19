/**
 * A sweep grid file (JSON) and the cells it expands to. Every cell is a GenerationSpec (protocol/generation-spec.ts,
 * the one request schema), checked by that schema when the grid is read, so a bad value is refused before any
 * network loads. The grid is prompts × styles × seeds × the product of the axes:
 *
 *   {
 *     "prompts": ["a lighthouse on a cliff at dawn", "a bowl of lemons"],
 *     "styles": ["styles/woodcut.png", "styles/watercolour.png"],   // relative to the grid file
 *     "seeds": [0, 1],
 *     "base": { "steps": 30, "width": 1024, "height": 1024 },        // any spec field but prompt, style, seed
 *     "negativeStyles": { "styles/woodcut.png": "styles/woodcut-photo.png" },  // SCFG negatives, by style
 *     "axes": { "crossModalAdain": [true, false], "teacherSteps": ["default", null], "negativeStyle": [true, false] }
 *   }
 *
 * Axis values: `null` for `drop` = no derived negative, for `teacherSteps` = teacher off; "default" for
 * `teacherSteps` = the spec's default length (2/5 of the steps); `negativeStyle: true` = the style's image from
 * `negativeStyles` as SCFG's negative (the paper's SCFG), false = none.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { DropSpecSchema, generationSpecSchema, type GenerationSpec, SCHEDULER_NAMES, specIssue, StyleLayersSpec } from '../../protocol';
import { EvalError } from './errors';

/** The parameters a grid may vary (the rest of the spec goes in `base`). */
const AXES = {
  /** The one style strength (scale and AdaIN together, protocol's curve); not in a grid that varies either of them. */
  strength: z.number(),
  scale: z.number(),
  adainStrength: z.number(),
  crossModalAdain: z.boolean(),
  teacherSteps: z.union([z.number().int(), z.null(), z.literal('default')]),
  drop: z.union([DropSpecSchema, z.null()]),
  scheduler: z.enum(SCHEDULER_NAMES),
  steps: z.number().int(),
  guidance: z.number(),
  styleLayers: StyleLayersSpec,
  negativeStyle: z.boolean(),
  /**
   * SCFG's negative as one axis, to compare the automatic ones with the hand-made one in a single grid: null (none),
   * "negativeStyle" (the style's image from `negativeStyles`) or element(s) whose negative is derived (`drop`).
   */
  avoid: z.union([z.null(), z.literal('negativeStyle'), DropSpecSchema]),
} as const;
export type AxisName = keyof typeof AXES;
export type AxisValue = z.infer<(typeof AXES)[AxisName]>;

const axesSchema = z.strictObject(Object.fromEntries(
  Object.entries(AXES).map(([k, v]) => [k, z.array(v).min(1).max(32).optional()]),
) as { [K in AxisName]: z.ZodOptional<z.ZodArray<(typeof AXES)[K]>> });

const gridSchema = z.strictObject({
  prompts: z.array(z.string().min(1)).min(1).max(256),
  styles: z.array(z.string().min(1)).min(1).max(64),
  /** Style (as written in `styles`) → its negative style image, for the `negativeStyle` axis. */
  negativeStyles: z.record(z.string(), z.string().min(1)).default({}),
  seeds: z.array(z.number().int().min(0)).min(1).max(64),
  /** Spec fields every cell shares; checked with the cells. */
  base: z.record(z.string(), z.unknown()).default({}),
  axes: axesSchema.default({}),
});

/** Most cells a grid may have: a guard against a typo that multiplies into days of work. */
export const MAX_CELLS = 4096;

export interface SweepCell {
  /** Stable id from the cell's settings (file names, the manifest). */
  readonly id: string;
  readonly prompt: string;
  /** The style file as resolved (absolute). */
  readonly style: string;
  /** The negative style file (absolute) when the cell uses one. */
  readonly negativeStyle?: string;
  readonly seed: number;
  /** This cell's value on every axis the grid varies, in the grid's axis order. */
  readonly axes: Readonly<Partial<Record<AxisName, AxisValue>>>;
  /** The checked GenerationSpec (style as a file path). */
  readonly spec: GenerationSpec<string>;
}

export interface SweepGrid {
  /** Identifies the grid's content: a manifest of another grid is never resumed. */
  readonly digest: string;
  readonly prompts: readonly string[];
  readonly styles: readonly string[];
  /** Every negative style file the cells use (absolute). */
  readonly negativeStyles: readonly string[];
  readonly axisNames: readonly AxisName[];
  readonly cells: readonly SweepCell[];
}

function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Every combination of the axes' values, in order (the first axis varies slowest). */
function product(axes: readonly (readonly [AxisName, readonly AxisValue[]])[]): Partial<Record<AxisName, AxisValue>>[] {
  return axes.reduce<Partial<Record<AxisName, AxisValue>>[]>(
    (acc, [name, values]) => acc.flatMap((combo) => values.map((v) => ({ ...combo, [name]: v }))), [{}]);
}

/**
 * An axis value as spec fields: `drop: null` and `teacherSteps: "default"` are absent fields; `negativeStyle: true`
 * is the style's negative file (`negative`), false is absent; `avoid` is one of those three, or absent for null.
 */
function specFields(axes: Partial<Record<AxisName, AxisValue>>, negative: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(axes)) {
    if ((name === 'drop' && value === null) || (name === 'teacherSteps' && value === 'default')) continue;
    if (name === 'negativeStyle') {
      if (value === true) out[name] = negative;
      continue;
    }
    if (name === 'avoid') {
      if (value === 'negativeStyle') out['negativeStyle'] = negative;
      else if (value !== null) out['drop'] = value;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Parses and expands a grid; `baseDir` resolves relative style paths (the grid file's folder). */
export function expandGrid(raw: unknown, baseDir: string, source = 'grid'): SweepGrid {
  const parsed = gridSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EvalError('BAD_GRID', `${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const g = parsed.data;
  for (const key of ['prompt', 'style', 'seed', 'negativeStyle', 'variations', 'init', 'mask', 'extraStyles', 'extraNegativeStyles', 'styleWeight']) {
    if (key in g.base) {
      const why = key === 'variations' ? 'seeds are a grid dimension' : key === 'init' ? 'a sweep compares styles from noise, not img2img'
        : key.startsWith('extra') || key === 'styleWeight' ? 'each cell has one style reference, from the grid' : `${key} comes from the grid`;
      throw new EvalError('BAD_GRID', `${source}: base.${key} cannot be set (${why})`);
    }
  }
  const styles = g.styles.map((s) => path.resolve(baseDir, s));
  const negatives = new Map<string, string>();
  for (const [style, negative] of Object.entries(g.negativeStyles)) {
    const i = g.styles.indexOf(style);
    if (i < 0) throw new EvalError('BAD_GRID', `${source}: negativeStyles names ${JSON.stringify(style)}, which is not one of the styles`);
    negatives.set(styles[i]!, path.resolve(baseDir, negative));
  }
  for (const s of [...styles, ...negatives.values()]) {
    if (!fs.existsSync(s) || !fs.statSync(s).isFile()) throw new EvalError('BAD_GRID', `${source}: style ${s} is not a file`);
  }
  if (g.axes.avoid !== undefined && (g.axes.drop !== undefined || g.axes.negativeStyle !== undefined)) {
    throw new EvalError('BAD_GRID', `${source}: the avoid axis replaces the drop and negativeStyle axes; give either avoid or those`);
  }
  if (g.axes.negativeStyle?.includes(true) || g.axes.avoid?.includes('negativeStyle')) {
    const axis = g.axes.negativeStyle?.includes(true) ? 'negativeStyle' : 'avoid';
    const missing = g.styles.filter((_, i) => !negatives.has(styles[i]!));
    if (missing.length > 0) throw new EvalError('BAD_GRID', `${source}: the ${axis} axis needs a negative image for every style; negativeStyles lacks ${missing.join(', ')}`);
  }
  const axisEntries = (Object.entries(g.axes) as [AxisName, AxisValue[] | undefined][])
    .filter((e): e is [AxisName, AxisValue[]] => e[1] !== undefined);
  const combos = product(axisEntries);
  const count = g.prompts.length * styles.length * g.seeds.length * combos.length;
  if (count > MAX_CELLS) throw new EvalError('BAD_GRID', `${source}: ${count} cells, more than the ${MAX_CELLS} a sweep may run; split the grid`);
  const schema = generationSpecSchema(z.string());
  const cells: SweepCell[] = [];
  for (const prompt of g.prompts) {
    for (const style of styles) {
      for (const seed of g.seeds) {
        for (const axes of combos) {
          const raw = { ...g.base, ...specFields(axes, negatives.get(style)), prompt, style, seed };
          const spec = schema.safeParse(raw);
          if (!spec.success) {
            throw new EvalError('BAD_GRID', `${source}: the cell ${JSON.stringify({ prompt, seed, ...axes })} is not a valid request: ${specIssue(spec.error, raw).message}`);
          }
          const id = digestOf({ spec: spec.data, axes }).slice(0, 16);
          cells.push({ id, prompt, style, seed, axes, spec: spec.data, ...(spec.data.negativeStyle !== undefined ? { negativeStyle: spec.data.negativeStyle } : {}) });
        }
      }
    }
  }
  const ids = new Set(cells.map((c) => c.id));
  if (ids.size !== cells.length) throw new EvalError('BAD_GRID', `${source}: some cells are the same request twice (repeated prompts, styles, seeds or axis values)`);
  const usedNegatives = [...new Set(cells.flatMap((c) => (c.negativeStyle !== undefined ? [c.negativeStyle] : [])))];
  return { digest: digestOf({ cells: cells.map((c) => c.id) }), prompts: g.prompts, styles, negativeStyles: usedNegatives, axisNames: axisEntries.map(([n]) => n), cells };
}

/** Reads a grid file (JSON) and expands it. */
export function readGridFile(file: string): SweepGrid {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EvalError('BAD_GRID', `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return expandGrid(raw, path.dirname(path.resolve(file)), file);
}

/** A cell's axis values as one short text ("scale=0.5 teacherSteps=off"), for labels and the contact sheet. */
export function axisLabel(cell: SweepCell): string {
  return Object.entries(cell.axes).map(([k, v]) => `${k}=${v === null ? 'off' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
}
