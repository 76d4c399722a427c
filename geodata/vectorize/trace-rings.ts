/**
 * Pixel-exact boundary tracing on run-length rows: every ring runs along pixel edges, so the
 * polygon area is exactly the pixel count (in pixel units) and every vertex is a pixel corner.
 *
 * The walk keeps the site on its left as seen on screen (row axis pointing down). With a y-up
 * axis that makes outer rings counter-clockwise and holes clockwise, so after any transform with
 * a negative row scale (north-up rasters) the rings are already RFC 7946 right-handed.
 *
 * Corners where two site pixels meet only diagonally ("saddles") are resolved so that no ring
 * ever passes through the same vertex twice (a self-touching ring is invalid GeoJSON):
 * - if the two pixels belong to different 4-connected pieces, the walk turns round its own pixel,
 *   so each piece gets its own ring (the site becomes a MultiPolygon touching at that corner);
 * - if they belong to the same piece (joined elsewhere by edges), the walk turns round the
 *   background pixel instead, and the two background pixels end up on different rings — the
 *   outside and a hole, or two holes — which touch at the corner. (They cannot be in the same
 *   background region: a 4-path of the piece and a 4-path of background would have to cross.)
 * Every ring therefore bounds exactly one 4-connected piece on one side and one 4-connected
 * background region of that piece on the other, is simple, and rings touch only at such corners.
 * Only turning points are emitted, so no vertex is collinear with its neighbours.
 */
import { OrewatchError } from '../../errors/index.js';
import { lastStartAtOrBefore, type SiteSpans } from './sites.js';

/** A closed ring of pixel-corner coordinates [col, row]; first vertex repeated at the end. */
export type Ring = [number, number][];

export interface TracedRing {
  site: number;
  piece: number;
  /** True for the outer ring of a piece, false for a hole. */
  outer: boolean;
  ring: Ring;
}

const DOWN = 0;
const EAST = 1;
const UP = 2;
const WEST = 3;

/**
 * Traces every ring of the spans, in raster-scan order of the rings' first left edges: a piece's
 * outer ring starts at the piece's top-left corner, a hole's ring at the top-right corner of the
 * hole's first row. Both depend on the pixels only, so the output is the same for any tiling.
 */
export function traceRings(spans: SiteSpans, gridHeight: number): TracedRing[] {
  const { rowStart, start, end, piece } = spans;
  const visitedLeft = new Uint8Array(spans.count);
  const rings: TracedRing[] = [];

  // Last span of row r with start ≤ col, or -1 (rows outside the grid are empty).
  const lastAtOrBefore = (r: number, col: number): number =>
    r < 0 || r >= gridHeight ? -1 : lastStartAtOrBefore(start, rowStart[r], rowStart[r + 1], col);
  const maxSteps = 4 * spans.count + 16;

  let row0 = 0;
  for (let first = 0; first < spans.count; first++) {
    while (rowStart[row0 + 1] <= first) row0++;
    if (visitedLeft[first] === 1) continue;
    const x0 = start[first];
    const y0 = row0;
    const ring: Ring = [[x0, y0]];
    let x = x0;
    let y = y0;
    let dir = DOWN;
    let steps = 0;
    let area2 = 0; // twice the signed shoelace area, in (col, row) coordinates
    let px = x0;
    let py = y0;
    for (;;) {
      if (++steps > maxSteps) {
        throw new OrewatchError('VECTORIZE.INTERNAL', `Ring tracing did not close (start col ${x0}, row ${y0})`, { kind: 'internal' });
      }
      let next: number;
      if (dir === DOWN) {
        // Down the left edges of spans starting at x; stop where no span of the row starts at x.
        let k = lastAtOrBefore(y, x);
        let hugged = -1;
        while (k >= 0 && start[k] === x) {
          visitedLeft[k] = 1;
          hugged = k;
          y++;
          k = lastAtOrBefore(y, x);
        }
        // (y, x) inside → turn west; (y, x - 1) outside → east; a saddle (only (y, x - 1) inside)
        // → west round the background pixel if it is the same piece, else east round our pixel.
        if (k >= 0 && end[k] > x) next = WEST;
        else if (k >= 0 && end[k] === x) next = piece[k] === piece[hugged] ? WEST : EAST;
        else next = EAST;
      } else if (dir === EAST) {
        // Along the bottom of the span above until it ends or a span below begins.
        const above = lastAtOrBefore(y - 1, x);
        let belowStart = Infinity;
        if (y < gridHeight) {
          const k = lastAtOrBefore(y, x);
          const below = k >= 0 ? k + 1 : rowStart[y];
          if (below < rowStart[y + 1]) belowStart = start[below];
        }
        const stop = Math.min(end[above], belowStart);
        if (stop < end[above]) next = DOWN;
        else if (stop < belowStart) next = UP;
        else next = piece[above] === piece[lastAtOrBefore(y, stop)] ? DOWN : UP; // saddle
        x = stop;
      } else if (dir === UP) {
        // Up the right edges of spans ending at x.
        let k = lastAtOrBefore(y - 1, x - 1);
        let hugged = -1;
        while (k >= 0 && end[k] === x) {
          hugged = k;
          y--;
          k = lastAtOrBefore(y - 1, x - 1);
        }
        // (y - 1, x - 1) inside → turn east; (y - 1, x) outside → west; a saddle (only (y - 1, x)
        // inside) → east round the background pixel if it is the same piece, else west.
        if (k >= 0 && end[k] > x - 1) next = EAST;
        else {
          const other = lastAtOrBefore(y - 1, x);
          next = other >= 0 && start[other] === x && piece[other] === piece[hugged] ? EAST : WEST;
        }
      } else {
        // Along the top of the span below until it starts or a span above ends.
        const below = lastAtOrBefore(y, x - 1);
        const above = lastAtOrBefore(y - 1, x - 1);
        const aboveEnd = above >= 0 ? end[above] : -Infinity;
        const stop = Math.max(start[below], aboveEnd);
        if (stop > start[below]) next = UP;
        else if (stop > aboveEnd) next = DOWN;
        else next = piece[below] === piece[above] ? UP : DOWN; // saddle
        x = stop;
      }
      area2 += px * y - x * py;
      px = x;
      py = y;
      if (next === DOWN && x === x0 && y === y0) break;
      ring.push([x, y]);
      dir = next;
    }
    ring.push([x0, y0]);
    // Outer rings have negative shoelace area in (col, row): counter-clockwise with y up.
    rings.push({ site: spans.site[first], piece: spans.piece[first], outer: area2 < 0, ring });
  }
  return rings;
}
