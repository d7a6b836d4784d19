/// <reference types="@adobe/cc-ext-uxp-types" />
// The one file that loads the real host modules (webpack leaves both to UXP's own require()).
import * as photoshop from 'photoshop';
import * as uxp from 'uxp';
import type { Host } from './host';
import type { SecureStorageApi } from './photoshop-api';
import { PhotoshopHost } from './photoshop-host';

/**
 * Adobe's documentation places secureStorage at `uxp.storage.secureStorage`, while
 * @adobe/cc-ext-uxp-types 7.3 declares it at `uxp.secureStorage`; take whichever exists.
 */
function secureStorage(): SecureStorageApi {
  const documented = (uxp.storage as unknown as { secureStorage?: SecureStorageApi }).secureStorage;
  return documented ?? uxp.secureStorage;
}

export function createPhotoshopHost(): Host {
  return new PhotoshopHost(photoshop, secureStorage());
}
