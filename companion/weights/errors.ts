/**
 * Errors of the weight readers. Every message names the file (and the key, where there is one) and the problem,
 * so a user holding a broken download can tell which file to fetch again.
 *
 *   WeightFileError(file, problem)   a file or folder is missing, unreadable or malformed
 *   WeightError(key, problem, file?) a tensor lookup failed (missing key, wrong shape, unread keys)
 */
import { CodedError } from '../../protocol';

/**
 * A file (or folder) the weight readers were given cannot be used. `.file` is the path as given; `.realFile` the
 * file behind it when that differs (a hub-cache blob), also named in the message.
 */
export class WeightFileError extends CodedError<'BAD_WEIGHT_FILE'> {
  override readonly name = 'WeightFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly realFile?: string,
  ) {
    super('BAD_WEIGHT_FILE', `${file}${realFile === undefined ? '' : ` (→ ${realFile})`}: ${problem}`);
  }
}

/** A tensor lookup failed. `.key` is the full dotted checkpoint key; `.file` the file searched, when known. */
export class WeightError extends CodedError<'BAD_WEIGHTS'> {
  override readonly name = 'WeightError';
  constructor(
    readonly key: string,
    readonly problem: string,
    readonly file?: string,
  ) {
    super('BAD_WEIGHTS', `weight "${key}": ${problem}${file === undefined ? '' : ` (in ${file})`}`);
  }
}
