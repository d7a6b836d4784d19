/** Where external-data locations point: ORT accepts only relative paths inside one folder, without '..' or symlinks. */
import * as path from 'node:path';
import { GraphBuildError } from './errors';

/** Deepest folder containing all `dirs` (absolute, real paths). Throws when there is none (e.g. two drives). */
export function commonAncestor(dirs: readonly string[]): string {
  const split = dirs.map((d) => path.resolve(d).split(path.sep));
  const first = split[0]!;
  let n = first.length;
  for (const parts of split.slice(1)) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  if (n === 0) throw new GraphBuildError(`weight files have no common folder: ${dirs.join(', ')}`);
  // n === 1: the common part is the filesystem root ('' on POSIX, a drive like 'C:' on Windows).
  return n === 1 ? (first[0] === '' ? path.sep : `${first[0]}${path.sep}`) : first.slice(0, n).join(path.sep);
}

/** Relative POSIX location of `file` inside `folder`, refusing anything that would escape it. */
export function relativePosix(folder: string, file: string): string {
  const rel = path.relative(folder, file);
  if (rel === '' || path.isAbsolute(rel) || rel.split(path.sep).includes('..')) {
    throw new GraphBuildError(`weight file ${file} is not inside ${folder}`);
  }
  return rel.split(path.sep).join('/');
}
