/**
 * Checks and defaults shared by every kind of scene (a GeoTIFF/COG, a STAC item of per-band
 * COGs): the open options and the windows asked of `readWindow`.
 */
import { inputError } from '../errors/index.js';
import type { PixelWindow } from './types.js';

/** Limit for opening and for each readWindow call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** JavaScript heap limit of a decode worker, and the largest window output, in MiB. */
export const DEFAULT_MEMORY_LIMIT_MB = 1024;
/** Decode worker threads per scene (see OpenSceneOptions.decodeThreads). */
export const DEFAULT_DECODE_THREADS = 1;
export const MAX_DECODE_THREADS = 16;

export function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw inputError('SCENE.INVALID_OPTION', `Expected a positive number for ${name} but received ${String(value)}`);
  }
  return value;
}

export function positiveIntegerOption(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw inputError('SCENE.INVALID_OPTION', `Expected an integer from 1 to ${max} for ${name} but received ${String(value)}`);
  }
  return value;
}

export function validateWindow(uri: string, window: PixelWindow): void {
  const fields: (keyof PixelWindow)[] = ['col', 'row', 'width', 'height'];
  for (const field of fields) {
    const value = window?.[field];
    const positive = field === 'width' || field === 'height';
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || (positive && value < 1)) {
      const what = positive ? 'a positive integer' : 'an integer';
      throw inputError('SCENE.INVALID_WINDOW', `Expected ${what} for window.${field} of ${uri} but received ${String(value)}`, uri);
    }
  }
}
