/** Grid files → cells: every cell a checked GenerationSpec, stable ids, and clear refusals. */
import * as path from 'node:path';
import { isEvalError } from '../../../companion/eval/errors';
import { axisLabel, expandGrid, MAX_CELLS } from '../../../companion/eval/sweep-grid';
import { fixture } from '../../helpers/paths';

const dir = fixture('eval', 'images');
const grid = (over: Record<string, unknown> = {}) => ({
  prompts: ['a lighthouse', 'a bowl of lemons'], styles: ['ref_warm.png', 'ref_cool.png'], seeds: [0, 7],
  base: { steps: 10, width: 512, height: 512 },
  axes: { crossModalAdain: [true, false], teacherSteps: ['default', null, 3], drop: [null, 'colour'], scheduler: ['euler', 'ddim'] },
  ...over,
});

test('prompts × styles × seeds × the product of the axes, each a GenerationSpec with the axis applied', () => {
  const g = expandGrid(grid(), dir);
  expect(g.cells).toHaveLength(2 * 2 * 2 * (2 * 3 * 2 * 2));
  expect(g.axisNames).toEqual(['crossModalAdain', 'teacherSteps', 'drop', 'scheduler']);
  const first = g.cells[0]!;
  expect(first.style).toBe(path.join(dir, 'ref_warm.png'));
  expect(first.spec).toMatchObject({ prompt: 'a lighthouse', seed: 0, steps: 10, width: 512, crossModalAdain: true, teacherSteps: 4, scheduler: 'euler' });
  expect(first.spec.drop).toBeUndefined();
  const off = g.cells.find((c) => c.axes.teacherSteps === null && c.axes.drop === 'colour')!;
  expect(off.spec).toMatchObject({ teacherSteps: null, drop: 'colour' });
  expect(axisLabel(off)).toMatch(/^crossModalAdain=(true|false) teacherSteps=off drop=colour scheduler=(euler|ddim)$/);
  expect(new Set(g.cells.map((c) => c.id)).size).toBe(g.cells.length);
});

test('the avoid axis compares no negative, the hand-made one and each derived one in one grid', () => {
  const g = expandGrid(grid({
    negativeStyles: { 'ref_warm.png': 'gen_a.png', 'ref_cool.png': 'gen_b.png' },
    axes: { avoid: [null, 'negativeStyle', 'colour', 'texture', 'brushwork', 'lighting', ['colour', 'brushwork']] },
  }), dir);
  expect(g.cells).toHaveLength(2 * 2 * 2 * 7);
  const cell = (avoid: unknown) => g.cells.find((c) => c.axes.avoid === avoid && c.style.endsWith('ref_cool.png'))!;
  expect(cell(null).spec.drop).toBeUndefined();
  expect(cell(null).spec.negativeStyle).toBeUndefined();
  expect(cell('negativeStyle').spec.negativeStyle).toBe(path.join(dir, 'gen_b.png'));
  expect(cell('negativeStyle').negativeStyle).toBe(path.join(dir, 'gen_b.png'));
  for (const element of ['colour', 'texture', 'brushwork', 'lighting']) expect(cell(element).spec).toMatchObject({ drop: element });
  expect(axisLabel(cell('lighting'))).toBe('avoid=lighting');
  const pair = g.cells.find((c) => Array.isArray(c.axes.avoid))!;
  expect(pair.spec.drop).toEqual(['colour', 'brushwork']);
  expect(axisLabel(pair)).toBe('avoid=["colour","brushwork"]');
  expect(() => expandGrid(grid({ axes: { avoid: ['negativeStyle'] } }), dir)).toThrow(/the avoid axis needs a negative image for every style/);
  expect(() => expandGrid(grid({ axes: { avoid: ['colour'], drop: [null] } }), dir)).toThrow(/the avoid axis replaces the drop and negativeStyle axes/);
});

test('ids and the grid digest are stable: the same file gives the same cells (what resuming relies on)', () => {
  const a = expandGrid(grid(), dir);
  const b = expandGrid(grid(), dir);
  expect(b.digest).toBe(a.digest);
  expect(b.cells.map((c) => c.id)).toEqual(a.cells.map((c) => c.id));
  expect(expandGrid(grid({ seeds: [0, 8] }), dir).digest).not.toBe(a.digest);
});

test("SCFG's negative style images: the negativeStyle axis takes each style's negative from negativeStyles", () => {
  const g = expandGrid(grid({
    negativeStyles: { 'ref_warm.png': 'gen_a.png', 'ref_cool.png': 'gen_b.png' },
    axes: { negativeStyle: [true, false] },
  }), dir);
  expect(g.cells).toHaveLength(2 * 2 * 2 * 2);
  const withNegative = g.cells.filter((c) => c.axes.negativeStyle === true);
  expect(withNegative.every((c) => c.spec.negativeStyle === c.negativeStyle)).toBe(true);
  expect(withNegative.filter((c) => c.style.endsWith('ref_warm.png')).every((c) => c.negativeStyle === path.join(dir, 'gen_a.png'))).toBe(true);
  expect(g.cells.filter((c) => c.axes.negativeStyle === false).every((c) => c.spec.negativeStyle === undefined && c.negativeStyle === undefined)).toBe(true);
  expect([...g.negativeStyles].sort()).toEqual([path.join(dir, 'gen_a.png'), path.join(dir, 'gen_b.png')]);
});

test.each([
  ['a negative style for a style the grid does not have', { negativeStyles: { 'other.png': 'gen_a.png' } }, /names "other\.png", which is not one of the styles/],
  ['the negativeStyle axis without a negative for every style', { negativeStyles: { 'ref_warm.png': 'gen_a.png' }, axes: { negativeStyle: [true] } }, /negativeStyles lacks ref_cool\.png/],
  ['a negative style image together with a drop preset', { negativeStyles: { 'ref_warm.png': 'gen_a.png', 'ref_cool.png': 'gen_b.png' }, axes: { negativeStyle: [true], drop: ['colour'] } }, /either a negative style image or a drop preset/],
  ['an unknown axis', { axes: { teacher: [true] } }, /axes/],
  ['a cell the spec refuses (teacher longer than the steps)', { axes: { teacherSteps: [20] } }, /teacherSteps must be an integer in \[0, 10\], got 20/],
  ['a base field the spec does not know', { base: { sampler: 'euler' } }, /not a valid request/],
  ['a base prompt', { base: { prompt: 'x' } }, /base\.prompt cannot be set/],
  ['an off-stride size', { base: { width: 500 } }, /width 500 is not a multiple of 32/],
  ['a missing style file', { styles: ['nope.png'] }, /nope\.png is not a file/],
  ['no prompts', { prompts: [] }, /prompts/],
  ['repeated seeds', { seeds: [1, 1] }, /same request twice/],
  ['too many cells', { seeds: Array.from({ length: 64 }, (_, i) => i), axes: { scale: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75], guidance: [1, 2, 3, 4, 5] } }, new RegExp(`more than the ${MAX_CELLS}`)],
])('refuses %s with BAD_GRID', (_what, over, message) => {
  let err: unknown;
  try {
    expandGrid(grid(over), dir, 'grid.json');
  } catch (e) {
    err = e;
  }
  expect(isEvalError(err, 'BAD_GRID')).toBe(true);
  expect((err as Error).message).toMatch(message);
});

test('a strength axis resolves through the spec\'s curve; varied with scale it is refused as the spec refuses it', () => {
  const g = expandGrid(grid({ axes: { strength: [0, 0.8, 1] } }), dir);
  expect(g.cells.slice(0, 3).map((c) => [c.spec.scale, c.spec.adainStrength])).toEqual([[0, 0], [1, 1], [1.5, 1]]);
  let err: unknown;
  try {
    expandGrid(grid({ axes: { strength: [0.5], scale: [1] } }), dir);
  } catch (e) {
    err = e;
  }
  expect(isEvalError(err, 'BAD_GRID')).toBe(true);
  expect((err as Error).message).toMatch(/give strength, or scale and adainStrength, not both/);
});
