/**
 * What identifies a scan (scanKeyFor), and the onnx threads an embedded scan runs with: threads
 * change speed, not results, so they stay out of the key; the batch size moves probabilities and
 * stays in.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedScanThreads } from '../models/registry.js';
import { DEFAULT_RULES } from '../pipeline/types.js';
import { scanKeyFor } from '../pipeline/scan/stages.js';

const base = {
  beforeKey: 'a'.repeat(64), afterKey: 'b'.repeat(64), beforeDate: '2026-01-01', afterDate: '2026-10-01',
  rules: DEFAULT_RULES, layers: [],
};
const onnx = { name: 'onnx', version: '1.0.0', threads: 1, batchSize: 1, gate: false };

describe('scanKeyFor', () => {
  it('is the same whatever the onnx threads, and differs with the batch size or the version', () => {
    const one = scanKeyFor({ ...base, detector: onnx });
    expect(scanKeyFor({ ...base, detector: { ...onnx, threads: 4 } })).toBe(one);
    expect(scanKeyFor({ ...base, detector: { ...onnx, batchSize: 4 } })).not.toBe(one);
    expect(scanKeyFor({ ...base, detector: { ...onnx, version: '1.0.1' } })).not.toBe(one);
  });
});

describe('embeddedScanThreads', () => {
  const saved = process.env.OREWATCH_ONNX_THREADS;
  afterEach(() => {
    if (saved === undefined) delete process.env.OREWATCH_ONNX_THREADS;
    else process.env.OREWATCH_ONNX_THREADS = saved;
  });

  it('uses the cores, at most 4, unless OREWATCH_ONNX_THREADS says otherwise', () => {
    delete process.env.OREWATCH_ONNX_THREADS;
    expect(embeddedScanThreads()).toBe(Math.max(1, Math.min(4, availableParallelism())));
    process.env.OREWATCH_ONNX_THREADS = '1';
    expect(embeddedScanThreads()).toBe(1);
    process.env.OREWATCH_ONNX_THREADS = 'two';
    expect(() => embeddedScanThreads()).toThrow(/OREWATCH_ONNX_THREADS/);
  });
});
