/**
 * File access shared by the weight readers: every weight file is opened through `openWeightFile`, which resolves
 * the realpath (hub-cache symlinks; ONNX Runtime rejects external data reached through a symlink) and turns the
 * operating system's errors into WeightFileError naming the path as given. `readJsonObjectFile` does the same for
 * the small JSON files beside the weights (configs, shard indexes, model_index.json).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from './errors';
import { isJsonObject, JsonSyntaxError, parseStrictJson, type JsonObject, type JsonValue } from './strict-json';

export interface OpenedFile {
  /** The path as the caller gave it (used in messages). */
  readonly given: string;
  /** realpath of the file. */
  readonly real: string;
  readonly size: number;
  readonly fd: number;
}

/** The error for a problem inside an opened file: names the path as given, and the realpath when it differs. */
export function fileError(f: OpenedFile, problem: string): WeightFileError {
  return new WeightFileError(f.given, problem, path.resolve(f.given) === f.real ? undefined : f.real);
}

/** Resolves the realpath, checks it is a readable regular file and opens it. Close with `fs.closeSync(f.fd)`. */
export function openWeightFile(given: string): OpenedFile {
  let real: string;
  try {
    real = fs.realpathSync(given);
  } catch (err) {
    throw new WeightFileError(given, osProblem(err, 'cannot resolve the path'));
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(real);
  } catch (err) {
    throw new WeightFileError(given, osProblem(err, 'cannot stat the file'));
  }
  if (stat.isDirectory()) throw new WeightFileError(given, 'is a directory, expected a weight file');
  if (!stat.isFile()) throw new WeightFileError(given, 'is not a regular file (device, FIFO or socket)');
  let fd: number;
  try {
    fd = fs.openSync(real, 'r');
  } catch (err) {
    throw new WeightFileError(given, osProblem(err, 'cannot open the file'));
  }
  return { given, real, size: stat.size, fd };
}

/** Reads exactly `length` bytes at `position`; a short read means the file changed under us. */
export function readExactly(f: OpenedFile, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(f.fd, buf, done, length - done, position + done);
    if (n === 0) {
      throw fileError(f, `unexpected end of file reading ${length} bytes at offset ${position}`);
    }
    done += n;
  }
  return buf;
}

/** Runs `body` with the file open and always closes it. */
export function withWeightFile<T>(given: string, body: (f: OpenedFile) => T): T {
  const f = openWeightFile(given);
  try {
    return body(f);
  } finally {
    fs.closeSync(f.fd);
  }
}

export function osProblem(err: unknown, fallback: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (cannot read the file)';
    case 'ELOOP':
      return 'symlink loop';
    case 'ENOTDIR':
      return 'a parent of this path is not a directory';
    default:
      return `${fallback}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Reads a JSON file that must hold an object (duplicate keys refused; Python's NaN/Infinity accepted). */
export function readJsonObjectFile(file: string, what = 'JSON file'): JsonObject {
  const text = withWeightFile(file, (f) => readExactly(f, 0, f.size));
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    throw new WeightFileError(file, `${what} is not valid UTF-8`);
  }
  let json: JsonValue;
  try {
    json = parseStrictJson(decoded, { allowNonFinite: true });
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new WeightFileError(file, `${what} is not valid JSON: ${err.message}`);
    throw err;
  }
  if (!isJsonObject(json)) {
    throw new WeightFileError(file, `${what} must be a JSON object, found ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  return json;
}
