/**
 * `npm run package` end to end: webpack builds dist/plugin/ (what the UXP Developer Tool loads) and
 * tools/package-ccx.js zips it into the .ccx Creative Cloud installs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { repoRoot } from '../helpers/paths';

jest.setTimeout(180_000);

/** Entries of a zip file, from its central directory (enough for what package-ccx.js writes). */
function readZip(file: string): Map<string, Buffer> {
  const buf = fs.readFileSync(file);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${file}: no end-of-central-directory record`);
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataStart, dataStart + compressed);
    out.set(name, method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

test('npm run package: dist/plugin/ for the UXP Developer Tool and an installable .ccx', () => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['run', '--silent', 'package'], { cwd: repoRoot, stdio: 'pipe' });
  const built = path.join(repoRoot, 'dist', 'plugin');
  const bundle = fs.readFileSync(path.join(built, 'panel.js'), 'utf8');
  expect(bundle).not.toMatch(/\beval\(/);
  expect(bundle.trimEnd().endsWith('//# sourceMappingURL=panel.js.map')).toBe(true);
  expect(JSON.parse(fs.readFileSync(path.join(built, 'panel.js.map'), 'utf8')).sources.some((s: string) => s.includes('plugin/host/photoshop-host.ts'))).toBe(true);
  expect(bundle).toContain('require("photoshop")');
  expect(bundle).toContain('require("uxp")');
  expect(fs.readFileSync(path.join(built, 'index.html'), 'utf8')).toContain('<script src="panel.js"></script>');

  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8'));
  const ccx = readZip(path.join(repoRoot, 'dist', `${manifest.id}.ccx`));
  expect([...ccx.keys()].sort()).toEqual([
    'icons/panel-dark.png', 'icons/panel-dark@1x.png', 'icons/panel-dark@2x.png', 'icons/panel-light.png', 'icons/panel-light@1x.png',
    'icons/panel-light@2x.png', 'icons/plugin.png', 'icons/plugin@1x.png', 'icons/plugin@2x.png', 'index.html', 'manifest.json', 'panel.js', 'styles.css',
  ]);
  expect(JSON.parse(ccx.get('manifest.json')!.toString('utf8'))).toEqual(manifest);
  expect(ccx.get('panel.js')!.toString('utf8')).toBe(bundle);
});
