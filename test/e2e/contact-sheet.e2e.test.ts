/**
 * The sweep's contact sheet in headless Chromium (Debian's chromium via playwright-core, as the panel's e2e): a real
 * `stylestudio sweep` on the tiny set writes it, the page opens from disk, shows every image, and sorts and filters
 * the cards by the scores of sweep.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { runCli } from '../helpers/cli-process';
import { fixture } from '../helpers/paths';
import { launchChromium } from './harness';

jest.setTimeout(240_000);

const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
type Row = Record<string, string | number | null>;
/** The few DOM properties read in the page (this project's Node-side tests compile without the DOM library). */
interface CardElement { readonly hidden: boolean; readonly dataset: Record<string, string> }
interface ImageElement { readonly complete: boolean; readonly naturalWidth: number; readonly naturalHeight: number }
let dir: string;
let rows: Row[];
let browser: Browser;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-sheet-'));
  const grid = path.join(dir, 'grid.json');
  fs.writeFileSync(grid, JSON.stringify({
    prompts: ['a red apple', 'a quiet harbour <at> "dawn" & dusk'], seeds: [5],
    styles: [fixture('eval', 'images', 'ref_warm.png'), fixture('eval', 'images', 'ref_cool.png')],
    base: { steps: 2, width: 64, height: 64 }, axes: { teacherSteps: ['default', null] },
  }));
  const r = await runCli(['sweep', '--grid', grid, '--out', path.join(dir, 'out'), '--model', fixture('sdxl-tiny'),
    '--adapter', SD('ip-adapter_sdxl.safetensors'), '--image-encoder', SD('image_encoder'), '--eval-image-encoder', fixture('eval', 'image_encoder')], {});
  if (r.code !== 0) throw new Error(`sweep failed: ${r.stderr}`);
  rows = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'sweep.json'), 'utf8')) as Row[];
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openSheet(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  // nothing may be fetched: the sheet is self-contained
  await page.route('**/*', (route) => (route.request().url().startsWith('file://') ? route.continue() : route.abort()));
  await page.goto(`file://${path.join(dir, 'out', 'index.html')}`);
  return { page, problems };
}

const visibleOrder = (page: Page): Promise<string[]> =>
  page.$$eval('#cells .cell', (cards) => (cards as unknown as CardElement[]).filter((c) => !c.hidden).map((c) => c.dataset['cell']!));

const expectedOrder = (key: string, sign: 1 | -1, keep: (r: Row) => boolean = () => true): string[] =>
  rows.filter(keep).sort((a, b) => sign * ((a[key] as number) - (b[key] as number))).map((r) => r['cell'] as string);

test('opens from disk and shows every image, decoded, with its scores', async () => {
  const { page, problems } = await openSheet();
  expect(rows).toHaveLength(8);
  const images = await page.$$eval('#cells .cell img', (imgs) => (imgs as unknown as ImageElement[])
    .map((img) => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight })));
  expect(images).toHaveLength(8);
  for (const img of images) expect(img).toEqual({ complete: true, width: 64, height: 64 });
  expect(await page.textContent('#count')).toBe('8 of 8 images');
  // the prompt with markup characters is shown as text, not parsed as HTML
  expect(await page.locator('.cell .prompt', { hasText: 'a quiet harbour <at> "dawn" & dusk' }).count()).toBe(4);
  const first = rows[0]!;
  const shown = await page.textContent(`.cell[data-cell="${first['cell']}"] td[data-score="clip_t"]`);
  expect(shown).toBe((first['clip_t'] as number).toFixed(4));
  expect(await page.locator('#axis-means tbody tr').count()).toBe(2);
  const references = await page.$$eval('#references img', (imgs) => (imgs as unknown as ImageElement[]).map((img) => img.complete && img.naturalWidth > 0));
  expect(references).toEqual([true, true]);
  expect(await page.textContent('#references')).toBe('ref_warm.pngref_cool.png');
  // each picture links to its full-size file beside the sheet
  const links = await page.$$eval('#cells .cell a', (as) => as.map((a) => a.getAttribute('href')!));
  expect(links.sort()).toEqual(rows.map((r) => r['image'] as string).sort());
  expect(problems).toEqual([]);
  await page.close();
});

test('sorts by a score, both ways, and filters by style and by text', async () => {
  const { page, problems } = await openSheet();
  await page.selectOption('#sort', 'clip_t');
  expect(await visibleOrder(page)).toEqual(expectedOrder('clip_t', -1));
  await page.selectOption('#order', 'asc');
  expect(await visibleOrder(page)).toEqual(expectedOrder('clip_t', 1));
  await page.selectOption('#sort', 'style_clip');
  expect(await visibleOrder(page)).toEqual(expectedOrder('style_clip', 1));
  await page.selectOption('#style', 'ref_cool.png');
  expect(await visibleOrder(page)).toEqual(expectedOrder('style_clip', 1, (r) => r['style'] === 'ref_cool.png'));
  expect(await page.textContent('#count')).toBe('4 of 8 images');
  await page.fill('#filter', 'teachersteps=off');
  expect(await visibleOrder(page)).toEqual(expectedOrder('style_clip', 1, (r) => r['style'] === 'ref_cool.png' && r['teacherSteps'] === 'off'));
  expect(problems).toEqual([]);
  await page.close();
});
