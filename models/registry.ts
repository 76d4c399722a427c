/**
 * Detectors by name: what `--detector NAME` and a stored scan's `detector` column resolve to. A
 * server worker refuses a scan queued for a detector version it does not run.
 */
import { availableParallelism } from 'node:os';
import { OrewatchError } from '../errors/index.js';
import type { Detector } from './detector.js';
import { createOnnxDetector } from './onnx/onnx-detector.js';
import { createSpectralDetector } from './spectral/spectral-detector.js';

export const DETECTOR_NAMES = ['spectral', 'onnx'] as const;

/** The detector scans use unless told otherwise: the trained network, since it wins the evaluation (models/README.md). */
export const DEFAULT_DETECTOR = 'onnx';

export interface DetectorOptions {
  /** onnx: the .onnx file, with manifest.json beside it (default: the committed model). */
  modelPath?: string;
  /** onnx: intra-op threads (default: OREWATCH_ONNX_THREADS, else 1). */
  threads?: number;
  /**
   * onnx: run the network only on tiles where cheap evidence shows change (models/onnx/change-gate.ts)
   * (default: OREWATCH_ONNX_GATE — 1 on, 0 off — else on).
   */
  gate?: boolean;
}

export function createDetector(name: string, options: DetectorOptions = {}): Detector {
  if (options.modelPath !== undefined && name !== 'onnx') {
    throw new OrewatchError('DETECTOR.BAD_OPTION', `A model file (${options.modelPath}) applies only to the onnx detector, not "${name}"`, { kind: 'config' });
  }
  if (name === 'spectral') return createSpectralDetector();
  if (name === 'onnx') return createOnnxDetector({ modelPath: options.modelPath, threads: options.threads ?? threadsFromEnv(), gate: options.gate ?? gateFromEnv() });
  throw new OrewatchError('DETECTOR.UNKNOWN', `Unknown detector "${name}"; expected one of ${DETECTOR_NAMES.join(', ')}`, { kind: 'config' });
}

/**
 * onnx intra-op threads for an embedded scan, which has the machine to itself: OREWATCH_ONNX_THREADS,
 * else the cores (at most 4). On 2 cores the full-tile pair took 149.9 s with 2 threads against
 * 172.9 s with 1, with the same alerts. Server workers keep 1 (their window concurrency is the cores).
 */
export function embeddedScanThreads(): number {
  return threadsFromEnv() ?? Math.max(1, Math.min(4, availableParallelism()));
}

function threadsFromEnv(): number | undefined {
  const raw = process.env.OREWATCH_ONNX_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= 1 && n <= 64)) {
    throw new OrewatchError('DETECTOR.BAD_OPTION', `Expected an integer from 1 to 64 for OREWATCH_ONNX_THREADS but received "${raw}"`, { kind: 'config' });
  }
  return n;
}

function gateFromEnv(): boolean | undefined {
  const raw = process.env.OREWATCH_ONNX_GATE;
  if (raw === undefined || raw === '') return undefined;
  if (raw === '1') return true;
  if (raw === '0') return false;
  throw new OrewatchError('DETECTOR.BAD_OPTION', `Expected 1 (on) or 0 (off) for OREWATCH_ONNX_GATE but received "${raw}"`, { kind: 'config' });
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
