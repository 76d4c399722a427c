/**
 * The manifest that travels beside every ONNX change model (manifest.json in the model's
 * folder): what the network expects and returns, and the SHA-256 of the model file. Parsed and
 * checked once when a detector is built, so a wrong or tampered model is refused at start-up.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { OrewatchError } from '../../errors/index.js';
import { CANONICAL_BANDS } from '../detector.js';

const band = z.enum(CANONICAL_BANDS);

const ManifestSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: z.array(z.object({ name: z.string(), channels: z.array(z.string()), multiple_of: z.number().int().positive() })).length(1),
  outputs: z.array(z.object({ name: z.string(), classes: z.array(z.string()) })).length(1),
  bands: z.object({ order: z.array(band).min(1), required: z.array(band), optional: z.array(band) }),
  normalisation: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
  tiling: z.object({ tile_px: z.number().int().min(32), overlap_px: z.number().int().min(0), halo_px: z.number().int().min(0) }),
  thresholds: z.object({ mining_probability: z.number().gt(0).lt(1), other_change_probability: z.number().gt(0).lt(1) }),
  /** The change gate validated for this model (change-gate.ts); a model without one runs on every tile. */
  gate: z.object({
    min_ndvi_loss: z.number().positive(), min_ndwi_gain: z.number().positive(), min_brightening: z.number().positive(),
    margin_px: z.number().int().min(0), min_pixels: z.number().int().min(1),
  }).passthrough().optional(),
}).passthrough();

export type ModelManifest = z.infer<typeof ManifestSchema>;

export interface LoadedModel {
  manifest: ModelManifest;
  modelPath: string;
  manifestPath: string;
}

/**
 * Reads `manifest.json` beside the model file, checks its fields and the model's SHA-256.
 * @param modelPath the .onnx file; its folder must hold manifest.json naming it.
 */
export function loadModel(modelPath: string): LoadedModel {
  const manifestPath = join(dirname(modelPath), 'manifest.json');
  if (!existsSync(modelPath)) throw new OrewatchError('MODEL.NOT_FOUND', `Model file ${modelPath} does not exist`, { kind: 'config', file: modelPath });
  if (!existsSync(manifestPath)) {
    throw new OrewatchError('MODEL.NO_MANIFEST', `Expected a manifest.json beside the model ${modelPath} but found none at ${manifestPath}`, { kind: 'config', file: manifestPath });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (cause) {
    throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest ${manifestPath} is not valid JSON`, { kind: 'config', file: manifestPath, cause });
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest ${manifestPath}: field "${issue.path.join('.')}" ${issue.message}`, { kind: 'config', file: manifestPath });
  }
  const manifest = parsed.data;
  const { order, required, optional } = manifest.bands;
  const channels = manifest.inputs[0]!.channels.length;
  if (channels !== 2 * order.length + 2 || manifest.normalisation.mean.length !== order.length || manifest.normalisation.std.length !== order.length
    || ![...required, ...optional].every((b) => order.includes(b)) || required.length + optional.length !== order.length) {
    throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest ${manifestPath}: bands, normalisation and input channels disagree (${order.length} bands, ${channels} channels)`, { kind: 'config', file: manifestPath });
  }
  if (manifest.outputs[0]!.classes.length !== 3) {
    throw new OrewatchError('MODEL.BAD_MANIFEST', `Manifest ${manifestPath}: expected 3 output classes (none, mining, other) but received ${manifest.outputs[0]!.classes.length}`, { kind: 'config', file: manifestPath });
  }
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  if (sha !== manifest.sha256) {
    throw new OrewatchError('MODEL.CHECKSUM', `Model ${modelPath} has SHA-256 ${sha} but its manifest ${manifestPath} says ${manifest.sha256}; the file was changed or belongs to another manifest`, { kind: 'config', file: modelPath });
  }
  return { manifest, modelPath, manifestPath };
}
