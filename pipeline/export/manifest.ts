/**
 * Provenance of an export: the manifest written beside it (`<out>.manifest.json`) lists every file
 * with its SHA-256 and size (and, for an archive, each member), the query that selected the alerts,
 * the orewatch version and the time. Checking a file against its entry is a pure comparison here;
 * reading the files is the caller's.
 */
import { createHash } from 'node:crypto';
import type { AlertFilters } from '../store/alert-query.js';

export const MANIFEST_SUFFIX = '.manifest.json';
export const MANIFEST_VERSION = 1;

export interface ManifestMember {
  name: string;
  sha256: string;
  bytes: number;
}

export interface ManifestFile extends ManifestMember {
  /** Path relative to the manifest's folder. */
  path: string;
  media_type: string;
  /** Members of an archive (the Shapefile zip). */
  members?: ManifestMember[];
}

export interface ExportManifest {
  manifest_version: typeof MANIFEST_VERSION;
  generator: 'orewatch';
  orewatch_version: string;
  /** ISO 8601 UTC. */
  created_at: string;
  format: string;
  lang: string;
  /** Coordinates of the files: `EPSG:4326`, or the CGCS2000 Gauss-Krüger zone. */
  crs: { epsg: number; name: string; zone?: number; central_meridian_deg?: number };
  /** The selection: the filters as given (none means every alert) and the store it ran on. */
  query: { filters: AlertFilters; all_alerts: boolean; store: string };
  alert_count: number;
  alert_ids: string[];
  files: ManifestFile[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function describeMember(name: string, bytes: Uint8Array): ManifestMember {
  return { name, sha256: sha256Hex(bytes), bytes: bytes.length };
}

export type FileStatus = 'OK' | 'CHANGED' | 'MISSING';

export interface FileCheck {
  path: string;
  status: FileStatus;
  detail: string;
}

/** Compares a file's bytes (null when it is missing) with its manifest entry. */
export function checkFile(entry: ManifestFile, bytes: Uint8Array | null): FileCheck {
  if (bytes === null) return { path: entry.path, status: 'MISSING', detail: 'file not found' };
  const sha256 = sha256Hex(bytes);
  if (sha256 === entry.sha256 && bytes.length === entry.bytes) return { path: entry.path, status: 'OK', detail: `sha256 ${sha256.slice(0, 16)}…` };
  return {
    path: entry.path, status: 'CHANGED',
    detail: `expected sha256 ${entry.sha256.slice(0, 16)}… (${entry.bytes} bytes), found ${sha256.slice(0, 16)}… (${bytes.length} bytes)`,
  };
}

/**
 * The manifest in `text`, or the reason it is not one. Entry paths must stay inside the manifest's
 * folder (relative, no `..`), so a manifest cannot make verify read files elsewhere.
 */
export function parseManifest(text: string): { manifest: ExportManifest } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const m = value as Partial<ExportManifest> | null;
  if (m === null || typeof m !== 'object' || m.generator !== 'orewatch' || !Array.isArray(m.files)) {
    return { problem: 'not an orewatch export manifest (expected "generator": "orewatch" and a "files" list)' };
  }
  for (const [i, f] of m.files.entries()) {
    const entry = f as Partial<ManifestFile> | null;
    if (!entry || typeof entry.path !== 'string' || typeof entry.sha256 !== 'string' || typeof entry.bytes !== 'number') {
      return { problem: `files[${i}] lacks path, sha256 or bytes` };
    }
    if (entry.path === '' || entry.path.startsWith('/') || entry.path.split(/[\\/]/).some((s) => s === '..') || /^[A-Za-z]:/.test(entry.path)) {
      return { problem: `files[${i}].path "${entry.path}" leaves the manifest's folder` };
    }
  }
  return { manifest: m as ExportManifest };
}
