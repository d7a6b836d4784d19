/**
 * Issue 12.6: every error the programs throw on purpose carries a code (protocol/errors.ts CodedError); callers branch
 * on the code. A class that extends Error directly would be a code-less error, so none may exist outside CodedError.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CodedError, ProtocolError } from '../../protocol';
import { ImageError } from '../../companion/image/rgba';
import { ProviderUnavailableError, SessionError } from '../../companion/onnx/session';
import { EngineError } from '../../companion/runtime/errors';
import { WeightFileError } from '../../companion/weights/errors';
import { PickleRefusedError } from '../../companion/weights/restricted-pickle';
import { repoRoot } from '../helpers/paths';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

test('no error class in companion/, plugin/ or protocol/ extends Error except CodedError itself', () => {
  const codeless: string[] = [];
  for (const area of ['companion', 'plugin', 'protocol']) {
    for (const file of sources(path.join(repoRoot, area))) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/class (\w+)(?:<[^>]*>)? extends (?:Error|RangeError|TypeError)\b/g)) {
        if (m[1] !== 'CodedError') codeless.push(`${path.relative(repoRoot, file)}: ${m[1]}`);
      }
    }
  }
  expect(codeless).toEqual([]);
});

test('errors carry their area\'s code, keep their name and message, and are CodedErrors', () => {
  const cases: [Error, string, string][] = [
    [new ImageError('bad'), 'BAD_IMAGE', 'ImageError'],
    [new SessionError('bad'), 'SESSION_FAILED', 'SessionError'],
    [new ProviderUnavailableError('cuda', 'bad'), 'PROVIDER_UNAVAILABLE', 'ProviderUnavailableError'],
    [new EngineError('MEMORY_BUDGET', 'bad'), 'MEMORY_BUDGET', 'EngineError'],
    [new WeightFileError('f', 'bad'), 'BAD_WEIGHT_FILE', 'WeightFileError'],
    [new PickleRefusedError('posix.system'), 'BAD_PICKLE', 'PickleRefusedError'],
    [new ProtocolError('BAD_MESSAGE', 'bad'), 'BAD_MESSAGE', 'ProtocolError'],
  ];
  for (const [e, code, name] of cases) {
    expect(e).toBeInstanceOf(CodedError);
    expect(e).toMatchObject({ code, name });
    expect(e.message).toMatch(/bad|posix\.system/);
  }
});
