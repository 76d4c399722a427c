/**
 * Detector v1: the trained bitemporal change network (models/training/) run through
 * onnxruntime-node on the CPU.
 *
 * Per window: pack both dates into the network's channels (input-spec.ts), cut the window into
 * tiles of the manifest's size with its overlap (windows smaller than a tile are zero-padded,
 * which the network reads as "not clear"), run the tiles in batches through one session that the
 * detector keeps for its lifetime, and blend the tiles' probabilities with weights that ramp
 * linearly over the overlap, so no seam shows. Output is deterministic for the same input and
 * thread count.
 *
 * The network returns per pixel P(none), P(mining-type disturbance), P(other change). prob is
 * P(mining); kind 1 (mining_disturbance) where P(mining) reaches the support level and is at least
 * P(other), kind 2 (other_change) where P(other) reaches its threshold, else 0.
 *
 * Bands: the manifest names the bands the model needs and those it uses when present. A scene
 * without a required band is refused when the pair is planned (pipeline/bands.ts) and again here
 * with the model's name; a scene without the optional SWIR bands runs the declared four-band
 * subset (SWIR channels 0, swir_present 0 — the model was trained on both).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Ort from 'onnxruntime-node';
import { OrewatchError } from '../../errors/index.js';
import type { Calibration, Detector, DetectorInput, DetectorOutput } from '../detector.js';
import { calibrateInput, channelCount, packChannels, type InputNormalisation } from './input-spec.js';
import { loadModel, type ModelManifest } from './manifest.js';

export const ONNX_KINDS: Record<number, string> = { 1: 'mining_disturbance', 2: 'other_change' };

/** Support share of the window stage (pipeline/scan/detect-window.ts SUPPORT_SHARE). */
const SUPPORT_SHARE = 0.5;

export interface OnnxDetectorOptions {
  /** The .onnx file; manifest.json must sit beside it. Default: the committed orewatch-change-v1. */
  modelPath?: string;
  /** onnxruntime intra-op threads. Default 1. */
  threads?: number;
  /** Tiles per session run. Default 4. */
  batchSize?: number;
}

/** The committed model, found from the package root (works from the sources and from dist/). */
export function defaultModelPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'models', 'onnx', 'orewatch-change-v1.onnx');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), 'orewatch-change-v1.onnx');
}

function checkPositiveInt(name: string, value: number | undefined, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= max)) {
    throw new OrewatchError('DETECTOR.BAD_OPTION', `Expected an integer from 1 to ${max} for onnx ${name} but received ${String(value)}`, { kind: 'config' });
  }
}

/** Start offsets of tiles of `tile` px covering `length` px with at least `overlap` px shared. */
export function tileOffsets(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const out: number[] = [];
  for (let p = 0; p + tile < length; p += stride) out.push(p);
  out.push(length - tile);
  return out;
}

/** Blend weight along one axis of a tile: ramps from ~0 to 1 over `overlap` px at both ends. */
function ramp(tile: number, overlap: number): Float32Array {
  const w = new Float32Array(tile);
  for (let i = 0; i < tile; i++) w[i] = overlap > 0 ? Math.min(1, (i + 0.5) / overlap, (tile - i - 0.5) / overlap) : 1;
  return w;
}

export function createOnnxDetector(options: OnnxDetectorOptions = {}): Detector {
  checkPositiveInt('threads', options.threads, 64);
  checkPositiveInt('batchSize', options.batchSize, 64);
  const { manifest, modelPath } = loadModel(options.modelPath ?? defaultModelPath());
  const threads = options.threads ?? 1;
  const batchSize = options.batchSize ?? 4;
  const spec: InputNormalisation = {
    bands: manifest.bands.order, mean: manifest.normalisation.mean, std: manifest.normalisation.std, optional: manifest.bands.optional,
  };
  const channels = channelCount(spec);
  const { tile_px: tile, overlap_px: overlap, halo_px: halo } = manifest.tiling;
  const multiple = manifest.inputs[0]!.multiple_of;
  if (tile % multiple !== 0 || overlap >= tile) {
    throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest of ${modelPath}: tile_px ${tile} must be a multiple of ${multiple} and exceed overlap_px ${overlap}`, { kind: 'config', file: modelPath });
  }
  const threshold = manifest.thresholds.mining_probability;
  const otherThreshold = manifest.thresholds.other_change_probability;
  const inputName = manifest.inputs[0]!.name, outputName = manifest.outputs[0]!.name;
  const weights1d = ramp(tile, overlap);

  // One session for the detector's lifetime, made on first use (the native runtime is loaded
  // only by processes that run the network).
  let session: Promise<{ ort: typeof Ort; session: Ort.InferenceSession }> | null = null;
  const getSession = (): Promise<{ ort: typeof Ort; session: Ort.InferenceSession }> => {
    session ??= import('onnxruntime-node').then(async (ort) => ({
      ort,
      session: await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      }),
    }));
    return session;
  };

  async function detect(input: DetectorInput, calibration: Calibration): Promise<DetectorOutput> {
    const { width, height, clear } = input;
    for (const b of manifest.bands.required) {
      if (!input.before[b] || !input.after[b]) {
        throw new OrewatchError('DETECTOR.MISSING_BAND', `Model ${manifest.name} ${manifest.version} needs band ${b}, which the scene pair does not have (required: ${manifest.bands.required.join(', ')})`, { kind: 'input' });
      }
    }
    const n = width * height;
    const packed = packChannels(input, calibration, spec);
    const cols = tileOffsets(width, tile, overlap), rows = tileOffsets(height, tile, overlap);
    const tiles: [number, number][] = [];
    for (const r of rows) for (const c of cols) tiles.push([c, r]);
    const acc = new Float32Array(3 * n);
    const wsum = new Float32Array(n);
    const { ort, session: sess } = await getSession();
    const plane = tile * tile;
    for (let t0 = 0; t0 < tiles.length; t0 += batchSize) {
      const batch = tiles.slice(t0, t0 + batchSize);
      const data = new Float32Array(batch.length * channels * plane);
      batch.forEach(([c0, r0], b) => {
        const h = Math.min(tile, height - r0), w = Math.min(tile, width - c0);
        for (let ch = 0; ch < channels; ch++) {
          const src = ch * n, dst = (b * channels + ch) * plane;
          for (let y = 0; y < h; y++) data.set(packed.subarray(src + (r0 + y) * width + c0, src + (r0 + y) * width + c0 + w), dst + y * tile);
        }
      });
      const result = await sess.run({ [inputName]: new ort.Tensor('float32', data, [batch.length, channels, tile, tile]) });
      const probs = result[outputName]!.data as Float32Array;
      batch.forEach(([c0, r0], b) => {
        const h = Math.min(tile, height - r0), w = Math.min(tile, width - c0);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const wt = weights1d[y]! * weights1d[x]!;
            const i = (r0 + y) * width + c0 + x, o = y * tile + x;
            for (let k = 0; k < 3; k++) acc[k * n + i]! += wt * probs[(b * 3 + k) * plane + o]!;
            wsum[i]! += wt;
          }
        }
      });
    }
    const prob = new Float32Array(n);
    const kind = new Uint8Array(n);
    const support = threshold * SUPPORT_SHARE;
    for (let i = 0; i < n; i++) {
      if (!clear[i]) continue;
      const pm = acc[n + i]! / wsum[i]!, po = acc[2 * n + i]! / wsum[i]!;
      prob[i] = pm;
      if (pm >= support && pm >= po) kind[i] = 1;
      else if (po >= otherThreshold) kind[i] = 2;
    }
    return { prob, kind };
  }

  return {
    name: 'onnx',
    version: manifest.version,
    requiredBands: manifest.bands.required,
    optionalBands: manifest.bands.optional,
    kinds: ONNX_KINDS,
    miningKinds: [1],
    coreKinds: [1],
    haloPx: halo,
    threshold,
    calibrate: calibrateInput,
    detect,
    describe: () => describeModel(manifest, { threads, batchSize }),
  };
}

function describeModel(manifest: ModelManifest, run: { threads: number; batchSize: number }): Record<string, unknown> {
  return {
    name: 'onnx', version: manifest.version, model: manifest.name, sha256: manifest.sha256,
    thresholds: manifest.thresholds, tiling: manifest.tiling, bands: manifest.bands, ...run,
  };
}
