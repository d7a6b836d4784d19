import type { TokenStore } from './host';
import type { SecureStorageApi } from './photoshop-api';

const TOKEN_KEY = 'stylestudio.pairingToken';

/** Keeps the pairing token in UXP secure storage (encrypted per OS user; a cache, so it may vanish). */
export class SecureTokenStore implements TokenStore {
  constructor(private readonly storage: SecureStorageApi) {}

  async load(): Promise<string | null> {
    let bytes: Uint8Array | null | undefined;
    try {
      bytes = await this.storage.getItem(TOKEN_KEY);
    } catch {
      return null; // a missing key rejects on some UXP versions; either way there is no token
    }
    if (!bytes || bytes.length === 0) return null;
    // Tokens are ASCII; TextDecoder is not documented in UXP, so decode by hand.
    let token = '';
    for (const b of bytes) token += String.fromCharCode(b);
    return token;
  }

  async save(token: string): Promise<void> {
    await this.storage.setItem(TOKEN_KEY, token);
  }

  async clear(): Promise<void> {
    await this.storage.removeItem(TOKEN_KEY);
  }
}
