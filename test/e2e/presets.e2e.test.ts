/**
 * Style presets in the built panel (headless Chromium) against the real `stylestudio serve` on the tiny default set:
 * save a preset from the panel (two clicks and a name), change everything, apply it (two clicks: the Preset picker),
 * and generate: its options come back, its reference image is the style source (shown as such), and the same prompt
 * twice gives identical layers (fixed seed). The screenshot goes into docs/PLUGIN.md (STYLESTUDIO_UPDATE_SCREENSHOTS=1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../helpers/paths';
import { startTinyServe } from '../helpers/tiny-serve';
import { buildTestPage, expectText, launchChromium, openPanelPage } from './harness';

jest.setTimeout(240_000);

const artifacts = path.join(repoRoot, 'artifacts', 'e2e');
/** The docs' pictures (docs/PLUGIN.md) are refreshed from the run's screenshots only with STYLESTUDIO_UPDATE_SCREENSHOTS=1. */
const updateDocs = process.env['STYLESTUDIO_UPDATE_SCREENSHOTS'] === '1';
async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
  if (updateDocs) fs.copyFileSync(path.join(artifacts, name), path.join(repoRoot, 'docs', 'images', name));
}
let pageFile: string;
let browser: Browser;

beforeAll(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  pageFile = await buildTestPage();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const layers = (page: Page): Promise<{ id: number; name: string; depth: number }[]> => page.evaluate(() => (globalThis as any).e2e.layers());
const selected = (page: Page, testId: string) => page.locator(`[data-testid=${testId}] select`).evaluate((s: any) => s.options[s.selectedIndex]?.textContent ?? '');

async function generateOnce(page: Page, steps: number): Promise<string> {
  await page.locator('[data-testid=generate]').click();
  await page.waitForFunction((n) => (globalThis as any).e2e.historySteps().length === n, steps, { timeout: 120_000, polling: 100 });
  const newest = (await layers(page)).find((l) => l.depth === 1)!;
  return page.evaluate((id) => (globalThis as any).e2e.checksum(id), newest.id);
}

test('save a preset from the panel, apply it after changing everything, generate: same options, preset reference, identical results; delete it; screenshot', async () => {
  const companion = await startTinyServe({ args: ['--allow-origin', 'null'] });
  try {
    const { page, problems } = await openPanelPage(browser, pageFile, companion.url);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('[data-testid=token] input').fill(companion.token);
    await page.locator('[data-testid=pair]').click();
    await expectText(page.locator('[data-testid=connection-title]'), 'Connected');
    expect(await selected(page, 'preset')).toBe('No presets saved yet');

    // the series' look: the ink layer, avoid its colours, 4 steps, 512 px, one variation, seed 77
    await page.locator('[data-testid=prompt] textarea').fill('a harbour at dawn');
    await page.locator('[data-testid=source-layer] select').selectOption({ label: 'Ink strokes' });
    await page.locator('[data-testid=avoid] select').selectOption({ label: 'The reference’s colours' });
    await page.locator('[data-testid=steps] input').fill('4');
    await page.locator('[data-testid=variations] input').fill('1');
    await page.locator('[data-testid=long-side] select').selectOption({ index: 0 });
    await page.locator('[data-testid=fixed-seed] input').check();
    await page.locator('[data-testid=seed] input').fill('77');

    // Save as preset…: click, name, click
    await page.locator('[data-testid=save-preset]').click();
    await page.locator('[data-testid=preset-name] input').fill('ink harbour');
    await screenshot(page, 'panel-presets-save.png');
    await page.locator('[data-testid=preset-save]').click();
    await expectText(page.locator('[data-testid=notice]'), 'Saved preset “ink harbour”.Dismiss');
    const folder = path.join(companion.dir, 'config', 'presets', 'ink harbour');
    expect(fs.readdirSync(folder).sort()).toEqual(['preset.json', 'reference-0.png']);
    expect(JSON.parse(fs.readFileSync(path.join(folder, 'preset.json'), 'utf8'))).toMatchObject({
      elements: { kind: 'drop', preset: 'colour' }, seed: { kind: 'fixed', seed: 77 }, madeWith: { modelSet: 'default' },
      settings: { steps: 4, variations: 1, width: 512, height: 320 },
    });
    const first = await generateOnce(page, 1);

    // change everything, then apply the preset: open the picker, choose it
    await page.locator('[data-testid=source-layer] select').selectOption({ label: 'Background' });
    await page.locator('[data-testid=avoid] select').selectOption({ label: 'Nothing' });
    await page.locator('[data-testid=steps] input').fill('30');
    await page.locator('[data-testid=fixed-seed] input').uncheck();
    await page.locator('[data-testid=preset] select').selectOption({ label: 'ink harbour' });
    await page.waitForSelector('[data-testid=preset-source]');
    expect(await selected(page, 'source-layer')).toBe('Preset “ink harbour” reference');
    expect(await selected(page, 'avoid')).toBe('The reference’s colours');
    await expectText(page.locator('[data-testid=steps] .value'), '4');
    expect(await page.locator('[data-testid=seed] input').inputValue()).toBe('77');
    await expectText(page.locator('[data-testid=preset-source]'), /Style from preset “ink harbour”; pick a layer to use a layer again/);

    // the same prompt with the preset: the same image as when it was saved, twice
    expect(await generateOnce(page, 2)).toBe(first);
    await screenshot(page, 'panel-presets.png');
    expect(await generateOnce(page, 3)).toBe(first);
    // the layer was read by the save and the first job only: the preset's jobs took its reference
    expect(await page.evaluate(() => (globalThis as any).e2e.reads().length)).toBe(2);

    // picking a layer again ends the preset's style source
    await page.locator('[data-testid=source-layer] select').selectOption({ label: 'Ink strokes' });
    expect(await page.locator('[data-testid=preset-source]').count()).toBe(0);

    // delete it: applied again, Delete, Delete to confirm; the folder goes and the panel is back on its layers
    await page.locator('[data-testid=preset] select').selectOption({ label: 'ink harbour' });
    await page.waitForSelector('[data-testid=preset-source]');
    await page.locator('[data-testid=delete-preset]').click();
    await page.locator('[data-testid=delete-preset-yes]').click();
    await expectText(page.locator('[data-testid=notice]'), 'Deleted preset “ink harbour”.Dismiss');
    expect(fs.existsSync(folder)).toBe(false);
    expect(await page.locator('[data-testid=preset-source]').count()).toBe(0);
    expect(await selected(page, 'preset')).toBe('No presets saved yet');
    expect(problems).toEqual([]);
    await page.close();
  } finally {
    await companion.stop();
  }
});
