/**
 * Vectorize: per-pixel change masks, produced window by window over a large scene, → change
 * sites with clean, valid, pixel-exact polygons (the product's core; the tracer is our own
 * because interpolating contourers such as d3-contour cut pixel corners, and the area must equal
 * pixel count × pixel area).
 *
 * Decisions, in short (details in the modules under ./vectorize/):
 * - Change pixels are 8-connected (diagonal pixels join one site); background is 4-connected, so
 *   a hole is a 4-connected background region that does not reach the grid edge.
 * - A site whose pixels touch only at a corner is output as several polygons (a MultiPolygon)
 *   touching at that point, one per 4-connected piece: OGC / GeoJSON validity forbids a ring that
 *   touches itself, but allows distinct rings (polygons, or a shell and its hole) to touch at
 *   isolated points. Interiors stay connected and no ring crosses or touches itself. JSTS
 *   (IsValidOp) and polygon-clipping agree; Turf's booleanValid rejects any point contact between
 *   MultiPolygon parts (stricter than OGC) and so cannot judge corner-touching sites.
 * - Holes and islands: a hole may touch its shell (or another hole) at a corner; an island in a
 *   hole is a site of its own, unless fillHolesSmallerThan fills the hole and takes it in.
 * - Coordinates are pixel corners [col, row] in grid pixels; outer rings are counter-clockwise in
 *   a y-up frame and holes clockwise; toGeoPolygons re-winds after the transform anyway.
 * - Memory ∝ change runs: masks are stored as run-length rows, never as a scene-sized raster.
 *
 * Pure functions and one accumulator object; no I/O, no clock.
 */
import { createChangeAccumulator, type ChangeComponent, type FinishOptions } from './vectorize/change-accumulator.js';
import { expectInteger } from './vectorize/validate.js';

export { createChangeAccumulator } from './vectorize/change-accumulator.js';
export type { ChangeAccumulator, ChangeComponent, FinishOptions, PixelPolygon } from './vectorize/change-accumulator.js';
export type { Ring } from './vectorize/trace-rings.js';
export { removeCollinearVertices, simplifyComponents } from './vectorize/simplify-rings.js';
export { toGeoPolygons, type ToGeoPolygonsOptions } from './vectorize/to-geo-polygons.js';
export { findPolygonProblems, type ValidityOptions } from './vectorize/polygon-validity.js';
export { closeMask, dilateMask, erodeMask, openMask, removeSmallComponents, type MaskBorder, type MorphologyOptions } from './vectorize/morphology.js';

/** Stage name and version, for the provenance of alerts made from these polygons. */
export const VECTORIZE_VERSION = 'vectorize/1';

/**
 * One-window convenience: the sites of a single mask.
 * @param mask width*height row-major: 0 = no change, k > 0 = change kind code
 * @param prob width*height change probability 0..1; omitted: all 0
 */
export function vectorizeMask(mask: Uint8Array, width: number, height: number, options: FinishOptions & { prob?: Float32Array }): ChangeComponent[] {
  expectInteger(width, 'width', 1);
  expectInteger(height, 'height', 1);
  const accumulator = createChangeAccumulator(width, height);
  accumulator.addWindow({ col: 0, row: 0, width, height }, mask, options.prob ?? new Float32Array(width * height));
  return accumulator.finish(options);
}
