/**
 * Detectors by name: what `--detector NAME` and a stored scan's `detector` column resolve to. A
 * server worker refuses a scan queued for a detector version it does not run.
 */
import { OrewatchError } from '../errors/index.js';
import type { Detector } from './detector.js';
import { createSpectralDetector } from './spectral/spectral-detector.js';

export const DETECTOR_NAMES = ['spectral'] as const;

export function createDetector(name: string): Detector {
  if (name === 'spectral') return createSpectralDetector();
  throw new OrewatchError('DETECTOR.UNKNOWN', `Unknown detector "${name}"; expected one of ${DETECTOR_NAMES.join(', ')}`, { kind: 'config' });
}

/** The detector a stored scan asked for, refusing another version than the one this build runs. */
export function detectorForScan(name: string, version: string): Detector {
  const detector = createDetector(name);
  if (detector.version !== version) {
    throw new OrewatchError('DETECTOR.VERSION',
      `The scan was queued for detector ${name} ${version} but this worker runs ${name} ${detector.version}; run workers of one release, or queue the scan again`,
      { kind: 'config' });
  }
  return detector;
}
