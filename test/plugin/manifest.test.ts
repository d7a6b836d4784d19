import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_PORT } from '../../protocol';
import { repoRoot } from '../helpers/paths';

interface Icon {
  width: number;
  height: number;
  path: string;
  scale: number[];
  theme: string[];
  species?: string[];
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8'));

test('manifest v5 for Photoshop 25.0 or later, one panel entrypoint with sizes', () => {
  expect(manifest.manifestVersion).toBe(5);
  expect(manifest.host).toEqual({ app: 'PS', minVersion: '25.0.0' }); // one object: what the Marketplace requires
  expect(manifest.main).toBe('index.html');
  expect(manifest.version).toMatch(/^\d{1,2}\.\d{1,2}\.\d{1,2}$/);
  expect(manifest.entrypoints).toHaveLength(1);
  const [panel] = manifest.entrypoints;
  expect(panel).toMatchObject({ type: 'panel', id: 'stylestudio.panel' });
  for (const key of ['minimumSize', 'maximumSize', 'preferredDockedSize', 'preferredFloatingSize']) {
    expect(panel[key]).toEqual({ width: expect.any(Number), height: expect.any(Number) });
  }
});

test('network access is exactly the companion on loopback at the default port; no eval permission', () => {
  expect(manifest.requiredPermissions.network.domains).toEqual([`ws://127.0.0.1:${DEFAULT_PORT}`, `ws://localhost:${DEFAULT_PORT}`]);
  expect(manifest.requiredPermissions.allowCodeGenerationFromStrings).toBeUndefined();
});

test('every icon exists as name@1x, name@2x and name with the declared size; panel icons cover all themes', async () => {
  const icons: Icon[] = [...manifest.entrypoints[0].icons, ...manifest.icons];
  for (const icon of icons) {
    for (const scale of icon.scale) {
      // UXP looks the icon up as name@1x.png / name@2x.png; the plain name stays for versions that take it at 1x.
      const names = [icon.path.replace(/\.png$/, `@${scale}x.png`), ...(scale === 1 ? [icon.path] : [])];
      for (const file of names) {
        const meta = await sharp(path.join(repoRoot, file)).metadata();
        expect([file, meta.width, meta.height]).toEqual([file, icon.width * scale, icon.height * scale]);
      }
    }
  }
  const themes = manifest.entrypoints[0].icons.flatMap((i: Icon) => i.theme).sort();
  expect(themes).toEqual(['dark', 'darkest', 'light', 'lightest', 'medium']);
  expect(manifest.icons[0]).toMatchObject({ width: 48, height: 48, species: ['pluginList'] });
});

test('webpack: one panel bundle with a separate source map (no eval devtool), host modules left to UXP', () => {
  const configs = require(path.join(repoRoot, 'webpack.config.js')) as Array<Record<string, any>>;
  const panel = configs.find((c) => c.name === 'panel')!;
  expect(panel.devtool).toBe('source-map');
  expect(panel.output.path).toBe(path.join(repoRoot, 'dist', 'plugin'));
  expect(panel.optimization.splitChunks).toBe(false);
  expect(panel.externalsType).toBe('commonjs');
  expect(panel.externals).toMatchObject({ photoshop: 'photoshop', uxp: 'uxp' });
  for (const c of configs) expect(String(c.devtool)).not.toMatch(/eval/);
});
