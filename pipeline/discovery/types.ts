/**
 * What scene discovery finds: a candidate scene for the nightly scan, before any pixel is read.
 * Both sources (a STAC API search, a watched folder) describe what they find in this one shape,
 * so that pairing (pairing.ts) and the scheduler need not know where a scene came from.
 */
import type { MultiPolygon, Polygon } from 'geojson';

export interface SceneCandidate {
  /**
   * Stable identity, the same on every run: `stac:<collection>/<item id>` for catalogue items,
   * `sha256:<hex>` of the file's bytes for files (a renamed or re-copied file is the same scene).
   */
  key: string;
  /** What `openScene` accepts: `stac:<item URL>` or a file path. */
  uri: string;
  source: 'stac' | 'folder';
  /** Acquisition time, ISO 8601 in UTC (`2024-01-10T03:04:05.000Z`); midnight when only the date is known. */
  acquiredAt: string;
  /** Acquisition date in UTC, YYYY-MM-DD. */
  date: string;
  /** Cloudy share of the scene in percent (0–100), or null when unknown. */
  cloudCover: number | null;
  /** Where the scene has pixels, lon/lat (EPSG:4326), or null when unknown. */
  footprint: Polygon | MultiPolygon | null;
  /** Sentinel-2 MGRS tile (`50RKV`), or null. */
  tile: string | null;
  /** Lower-case platform (`sentinel-2b`), or null. */
  platform: string | null;
}
