/** The pixel the SyntheticTestEngine draws at (x, y) for a seed; tests recompute it to check results. */
export function syntheticPixel(seed: number, x: number, y: number): [number, number, number, number] {
  const s = seed % 65521;
  return [(s * 31 + x) & 0xff, (s * 17 + y) & 0xff, (s ^ (x * 7) ^ (y * 13)) & 0xff, 255];
}
