/**
 * Issue 13 item 10: npm commands in the repository print no "Unknown project config" warning, and the switch that
 * keeps onnxruntime-node from downloading CUDA libraries lives where README's install command and CI set it
 * (the ONNXRUNTIME_NODE_INSTALL environment variable, which onnxruntime-node's install script reads).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

test('npm reads the project config without an unknown-config warning', () => {
  const r = spawnSync('npm', ['config', 'get', 'fund'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(0);
  expect(r.stderr).not.toMatch(/Unknown (project|user|env|cli) config/);
});

test("README's install command and CI set ONNXRUNTIME_NODE_INSTALL=skip, and the install script then fetches nothing", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain('ONNXRUNTIME_NODE_INSTALL=skip npm ci');
  expect(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^export ONNXRUNTIME_NODE_INSTALL=skip/m);
  expect(fs.existsSync(path.join(ROOT, '.npmrc')) && /onnxruntime/.test(fs.readFileSync(path.join(ROOT, '.npmrc'), 'utf8'))).toBe(false);
  // What `npm ci` runs for onnxruntime-node, with the network unreachable: with the switch it exits at once.
  const script = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'script', 'install.js');
  const env = { PATH: process.env.PATH ?? '', ONNXRUNTIME_NODE_INSTALL: 'skip', GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9', GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9' };
  const r = spawnSync(process.execPath, [script], { cwd: path.dirname(path.dirname(script)), env, encoding: 'utf8', timeout: 30_000 });
  expect(r.status).toBe(0);
  expect(fs.existsSync(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so'))).toBe(false);
});
