/** The one RGBA image type of both programs: what the panel reads and inserts, the frames carry and the engine uses. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  /** width·height·4 bytes, R G B A per pixel (8-bit sRGB, straight alpha), rows top to bottom. */
  readonly data: Uint8Array;
}
