import { HostError, type TokenStore } from './host';
import type { SecureStorageApi } from './photoshop-api';

const TOKEN_KEY = 'stylestudio.pairingToken';

/** Keeps the pairing token in UXP secure storage (encrypted per OS user; a cache, so it may vanish). */
export class SecureTokenStore implements TokenStore {
  constructor(private readonly storage: SecureStorageApi) {}

  async load(): Promise<string | null> {
    let bytes: Uint8Array | null | undefined;
    try {
      bytes = await this.storage.getItem(TOKEN_KEY);
    } catch (err) {
      // Some UXP versions reject for a missing key too, so the caller words this as "no token could be read".
      throw new HostError(`secure storage could not be read (${errorText(err)})`);
    }
    if (!bytes || bytes.length === 0) return null;
    // Tokens are ASCII; TextDecoder is not documented in UXP, so decode by hand.
    let token = '';
    for (const b of bytes) token += String.fromCharCode(b);
    return token;
  }

  async save(token: string): Promise<void> {
    try {
      await this.storage.setItem(TOKEN_KEY, token);
    } catch (err) {
      throw new HostError(`secure storage refused the token (${errorText(err)})`);
    }
  }

  async clear(): Promise<void> {
    try {
      await this.storage.removeItem(TOKEN_KEY);
    } catch (err) {
      throw new HostError(`secure storage could not remove the token (${errorText(err)})`);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
