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
 *
 * Gate: before any tile runs, cheap per-pixel evidence of change (change-gate.ts) decides which
 * tiles can hold anything; the others output probability 0 and kind 0 without running the
 * network. The settings travel in the manifest (`gate`), validated for that model; `gate: false`
 * runs every tile (for comparison), and describe() records which was used.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Ort from 'onnxruntime-node';
import { OrewatchError } from '../../errors/index.js';
import type { Calibration, Detector, DetectorInput, DetectorOutput } from '../detector.js';
import { changeEvidence, gateProblem, gateTiles, type ChangeGate } from './change-gate.js';
import { calibrateInput, channelCount, packChannelsInto, type InputNormalisation } from './input-spec.js';
import { loadModel, type ModelManifest } from './manifest.js';

export const ONNX_KINDS: Record<number, string> = { 1: 'mining_disturbance', 2: 'other_change' };

/** Support share of the window stage (pipeline/scan/detect-window.ts SUPPORT_SHARE). */
const SUPPORT_SHARE = 0.5;

export interface OnnxDetectorOptions {
  /** The .onnx file; manifest.json must sit beside it. Default: the committed orewatch-change-v1. */
  modelPath?: string;
  /** onnxruntime intra-op threads. Default 1. */
  threads?: number;
  /**
   * Tiles per session run. Default 1: onnxruntime's memory arena keeps the largest run's
   * activations, so four 288 px tiles a run held ~500 MB of process memory against ~240 MB for
   * one, and one was no slower (58.7 against 61.6 ms a tile on this 2-core machine). Batching
   * changes probabilities by under 1e-4, so the size is part of the detector's description.
   */
  batchSize?: number;
  /**
   * The change gate: true (default) uses the manifest's gate, and runs every tile for a model
   * whose manifest has none; false runs every tile; settings run that gate (experiments).
   */
  gate?: boolean | ChangeGate;
}

/** Tiles the network ran on and tiles the gate skipped, since the detector was built. */
export interface GateCounts {
  tiles: number;
  skipped: number;
}

/** The ONNX detector: the contract, plus counts of the tiles the gate skipped. */
export interface OnnxDetector extends Detector {
  gateCounts(): GateCounts;
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

/** The gate a detector runs with: the options' settings, else the manifest's, else none. */
function resolveGate(option: OnnxDetectorOptions['gate'], manifest: ModelManifest, modelPath: string): ChangeGate | null {
  if (option === false) return null;
  if (option !== undefined && option !== true) {
    const problem = gateProblem(option);
    if (problem) throw new OrewatchError('DETECTOR.BAD_OPTION', `${problem} (onnx option gate)`, { kind: 'config' });
    return { ...option };
  }
  const g = manifest.gate;
  if (!g) return null;
  const gate = { minNdviLoss: g.min_ndvi_loss, minNdwiGain: g.min_ndwi_gain, minBrightening: g.min_brightening, marginPx: g.margin_px, minPixels: g.min_pixels };
  const problem = gateProblem(gate);
  if (problem) throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest of ${modelPath}: ${problem}`, { kind: 'config', file: modelPath });
  return gate;
}

export function createOnnxDetector(options: OnnxDetectorOptions = {}): OnnxDetector {
  checkPositiveInt('threads', options.threads, 64);
  checkPositiveInt('batchSize', options.batchSize, 64);
  if (options.gate !== undefined && typeof options.gate !== 'boolean' && (typeof options.gate !== 'object' || options.gate === null)) {
    throw new OrewatchError('DETECTOR.BAD_OPTION', `Expected true, false or gate settings for onnx gate but received ${String(options.gate)}`, { kind: 'config' });
  }
  const { manifest, modelPath } = loadModel(options.modelPath ?? defaultModelPath());
  const gate = resolveGate(options.gate, manifest, modelPath);
  const counts: GateCounts = { tiles: 0, skipped: 0 };
  const threads = options.threads ?? 1;
  const batchSize = options.batchSize ?? 1;
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
  const weights2d = new Float64Array(tile * tile);
  for (let y = 0; y < tile; y++) for (let x = 0; x < tile; x++) weights2d[y * tile + x] = weights1d[y]! * weights1d[x]!;

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
    const cols = tileOffsets(width, tile, overlap), rows = tileOffsets(height, tile, overlap);
    const all: [number, number][] = [];
    for (const r of rows) for (const c of cols) all.push([c, r]);
    const run = gate ? gateTiles(changeEvidence(input, calibration, gate), width, height, all, tile, gate) : all.map(() => true);
    const tiles = all.filter((_, t) => run[t]);
    counts.tiles += all.length;
    counts.skipped += all.length - tiles.length;
    const prob = new Float32Array(n);
    const kind = new Uint8Array(n);
    if (tiles.length === 0) return { prob, kind };
    // P(mining) and P(other), weighted; P(none) is not needed.
    const acc = new Float32Array(2 * n);
    const wsum = new Float32Array(n);
    // A skipped tile blends in as probability 0 with its weight, as if the network had said "no change".
    all.forEach(([c0, r0], t) => {
      if (run[t]) return;
      const h = Math.min(tile, height - r0), w = Math.min(tile, width - c0);
      for (let y = 0; y < h; y++) for (let x = 0, i = (r0 + y) * width + c0, o = y * tile; x < w; x++, i++, o++) wsum[i]! += weights2d[o]!;
    });
    const { ort, session: sess } = await getSession();
    const plane = tile * tile;
    for (let t0 = 0; t0 < tiles.length; t0 += batchSize) {
      const batch = tiles.slice(t0, t0 + batchSize);
      const data = new Float32Array(batch.length * channels * plane);
      batch.forEach(([c0, r0], b) => {
        const rect = { col: c0, row: r0, width: Math.min(tile, width - c0), height: Math.min(tile, height - r0) };
        packChannelsInto(input, calibration, spec, rect, data, b * channels * plane, tile, tile);
      });
      const result = await sess.run({ [inputName]: new ort.Tensor('float32', data, [batch.length, channels, tile, tile]) });
      const probs = result[outputName]!.data as Float32Array;
      batch.forEach(([c0, r0], b) => {
        const h = Math.min(tile, height - r0), w = Math.min(tile, width - c0);
        const pmBase = (b * 3 + 1) * plane, poBase = (b * 3 + 2) * plane;
        for (let y = 0; y < h; y++) {
          for (let x = 0, i = (r0 + y) * width + c0, o = y * tile; x < w; x++, i++, o++) {
            const wt = weights2d[o]!;
            acc[i]! += wt * probs[pmBase + o]!;
            acc[n + i]! += wt * probs[poBase + o]!;
            wsum[i]! += wt;
          }
        }
      });
    }
    const support = threshold * SUPPORT_SHARE;
    for (let i = 0; i < n; i++) {
      if (!clear[i]) continue;
      const pm = acc[i]! / wsum[i]!, po = acc[n + i]! / wsum[i]!;
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
    describe: () => describeModel(manifest, { threads, batchSize, gate: gate ? { ...gate } : false }),
    gateCounts: () => ({ ...counts }),
  };
}

function describeModel(manifest: ModelManifest, run: { threads: number; batchSize: number; gate: ChangeGate | false }): Record<string, unknown> {
  return {
    name: 'onnx', version: manifest.version, model: manifest.name, sha256: manifest.sha256,
    thresholds: manifest.thresholds, tiling: manifest.tiling, bands: manifest.bands, ...run,
  };
}
