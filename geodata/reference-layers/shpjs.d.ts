// Types for the parts of shpjs (no bundled types) that the shapefile reader uses.
declare module 'shpjs' {
  import type { Geometry } from 'geojson';
  /** Parses .shp bytes; without `prj` the coordinates are returned as stored. Null shapes are null. */
  export function parseShp(shp: ArrayBuffer | ArrayBufferView | DataView, prj?: string | false): (Geometry | null)[];
  /** Parses .dbf bytes; `cpg` is a TextDecoder label (UTF-8 when absent or unknown). */
  export function parseDbf(dbf: ArrayBuffer | ArrayBufferView | DataView, cpg?: string): Record<string, unknown>[];
}
