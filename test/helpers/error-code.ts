/** What `run` throws, as the code a CodedError carries (anything else by its name and message), or 'no error'. */
import { CodedError } from '../../protocol';

export function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    return e instanceof CodedError ? e.code : `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'no error';
}
