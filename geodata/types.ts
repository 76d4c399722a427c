/**
 * Shapes shared by the geo library: raster grids, windows, scenes and their pixels.
 * Plain data only; no I/O here.
 */

/**
 * A coordinate reference system as the library carries it. `proj4` is always a usable proj4
 * definition string; `code` is the EPSG code ("EPSG:32650") when one is known.
 */
export interface Crs {
  code: string | null;
  proj4: string;
  /** True for latitude/longitude systems (degrees), false for projected ones (metres). */
  geographic: boolean;
}

/**
 * GDAL-style affine geotransform [x0, dx/dcol, dx/drow, y0, dy/dcol, dy/drow] mapping the
 * top-left corner of pixel (col, row) to CRS coordinates:
 *   x = t[0] + col * t[1] + row * t[2]
 *   y = t[3] + col * t[4] + row * t[5]
 * (Pixel centres are at col + 0.5, row + 0.5.)
 */
export type GeoTransform = [number, number, number, number, number, number];

/** A raster grid: size in pixels, its CRS and where it sits in it. */
export interface Grid {
  width: number;
  height: number;
  crs: Crs;
  transform: GeoTransform;
}

/** A rectangle of pixels in a grid: columns [col, col + width), rows [row, row + height). */
export interface PixelWindow {
  col: number;
  row: number;
  width: number;
  height: number;
}

export type SampleType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

/** What is known about a scene once its header has been read (no pixels). */
export interface SceneInfo {
  /** Path or URL as given. */
  uri: string;
  grid: Grid;
  /** One name per band, in file order (GDAL band descriptions, else `--bands`). */
  bands: string[];
  sampleType: SampleType;
  /** Nodata value from GDAL_NODATA, or null. NaN for float files that declare nan. */
  nodata: number | null;
  /** Per-band scale and offset from GDAL metadata (value = raw * scale + offset), when declared. */
  scales: (number | null)[];
  offsets: (number | null)[];
  /** YYYY-MM-DD from ACQUISITION_DATE / SENSING_DATE / TIFFTAG_DATETIME, or null. */
  acquisitionDate: string | null;
  /** All GDAL dataset-level metadata items (GDAL_METADATA tag), for provenance and scaling rules. */
  metadata: Record<string, string>;
  /** Sizes of internal overviews (reduced-resolution images), largest first. */
  overviews: { width: number; height: number }[];
  /** Size of the file in bytes, when known. */
  byteLength: number | null;
}

/**
 * Pixels of one window, band-sequential: `bands[name]` has width*height values, row-major.
 * Values are the raw stored numbers (no scaling) as Float32. `valid` is 1 where every
 * requested band has data (not nodata / NaN / outside the source), else 0.
 */
export interface WindowPixels {
  window: PixelWindow;
  width: number;
  height: number;
  bands: Record<string, Float32Array>;
  valid: Uint8Array;
}
