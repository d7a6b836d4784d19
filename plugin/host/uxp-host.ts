/// <reference types="@adobe/cc-ext-uxp-types" />
// The one file that loads the real host modules (webpack leaves both to UXP's own require()).
import * as photoshop from 'photoshop';
import * as uxp from 'uxp';
import type { Host, ImageUrls, RgbaImage } from './host';
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

interface ImageBlobOptions {
  type: 'image/uncompressed';
  width: number;
  height: number;
  colorSpace: 'RGB';
  colorProfile: string;
  hasAlpha: boolean;
  components: number;
  componentSize: number;
  pixelFormat: 'RGBA';
}

/** UXP's canvas cannot draw pixels; ImageBlob (UXP 7.0) wraps raw RGBA for an <img> via an object URL. */
const imageBlobUrls: ImageUrls = {
  create(image: RgbaImage): string {
    const ImageBlob = (globalThis as unknown as { ImageBlob: new (data: ArrayBuffer, o: ImageBlobOptions) => Blob }).ImageBlob;
    const bytes = image.data.slice().buffer as ArrayBuffer;
    const blob = new ImageBlob(bytes, {
      type: 'image/uncompressed', width: image.width, height: image.height, colorSpace: 'RGB',
      colorProfile: 'sRGB IEC61966-2.1', hasAlpha: true, components: 4, componentSize: 8, pixelFormat: 'RGBA',
    });
    return URL.createObjectURL(blob);
  },
  release(url: string): void {
    if (url) URL.revokeObjectURL(url);
  },
};

export function createPhotoshopHost(): Host {
  return new PhotoshopHost(photoshop, secureStorage(), imageBlobUrls);
}
