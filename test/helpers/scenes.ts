/** Helpers shared by the scene-reader tests. */
import { createHash } from 'node:crypto';
import { isOrewatchError, type OrewatchError } from '../../errors/index.js';
import type { WindowPixels } from '../../geodata/types.js';

const TYPED = { uint8: Uint8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array } as const;

/** SHA-256 of the pixels converted back to the file's dtype, band-sequential, little-endian. */
export function pixelHash(pixels: WindowPixels, bands: string[], dtype: keyof typeof TYPED): string {
  const hash = createHash('sha256');
  for (const band of bands) {
    const values = TYPED[dtype].from(pixels.bands[band] ?? []);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}

/** The OrewatchError a promise rejects with; fails when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<OrewatchError> {
  try {
    await promise;
  } catch (error) {
    if (isOrewatchError(error)) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}
