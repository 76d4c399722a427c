/**
 * The map's background: a wider before/after window around an alert (about 2 km across at 10 m,
 * up to 400 scene pixels a side) read from the alert's own scenes, in true colour and standard
 * false colour (NIR-red-green), each composite with one joint stretch for both dates — so a colour
 * shift between the dates is change, not display. Nearest-neighbour enlargement keeps scene
 * pixels visible as pixels. Outlines are projected with `toImage` into the same pixel space.
 * (The detail panel's chips come from the evidence-report renderer, as in the PDF.)
 */
import sharp from 'sharp';
import { createTransform, WGS84 } from '../geodata/crs.js';
import { inverseTransform } from '../geodata/pair.js';
import { jointStretch, toRgb8 } from '../geodata/render.js';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import type { PixelWindow } from '../geodata/types.js';
import { createSpectralDetector } from '../models/spectral/spectral-detector.js';
import { createPairPlan, readPairPixels } from '../pipeline/scan/detect-window.js';
import type { AreaGeometry } from '../pipeline/types.js';

export interface MapImagery {
  /** PNGs, all `width` × `height` image pixels. */
  png: { 'true-before': Buffer; 'true-after': Buffer; 'false-before': Buffer; 'false-after': Buffer };
  width: number;
  height: number;
  /** lon/lat → image pixel (x right, y down). */
  toImage(lon: number, lat: number): [number, number];
}

/** Scene pixels of context on each side of the alert, and the window's limits. */
const CONTEXT_PX = 80;
const MIN_SIDE_PX = 200;
const MAX_SIDE_PX = 400;

/**
 * @param scan the scenes as the scan recorded them (paths or URLs) and their band names
 * @param geometry the alert's polygon, lon/lat
 */
export async function renderMapImagery(scan: { before: string; after: string; bands?: string[] | null }, geometry: AreaGeometry): Promise<MapImagery> {
  const scenes: Scene[] = [];
  try {
    scenes.push(await openScene(scan.before, { bandNames: scan.bands ?? undefined }));
    scenes.push(await openScene(scan.after, { bandNames: scan.bands ?? undefined }));
    const plan = createPairPlan(scenes[0], scenes[1], createSpectralDetector());
    const grid = plan.pair.grid;
    const lonLat = createTransform(grid.crs, WGS84);
    const toPixel = inverseTransform(grid.transform);
    const toGrid = (lon: number, lat: number): [number, number] => {
      const [x, y] = lonLat.inverse(lon, lat);
      return toPixel(x, y);
    };
    const rings = geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
    const pts = rings.flat().map(([lon, lat]) => toGrid(lon, lat));
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    const size = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
    const half = Math.min(MAX_SIDE_PX, Math.max(MIN_SIDE_PX, size + 2 * CONTEXT_PX)) / 2;
    const col = Math.max(0, Math.floor(cx - half)), row = Math.max(0, Math.floor(cy - half));
    const win: PixelWindow = { col, row, width: Math.min(grid.width, Math.ceil(cx + half)) - col, height: Math.min(grid.height, Math.ceil(cy + half)) - row };
    const px = await readPairPixels(plan, win);
    const b = px.before, a = px.after;
    const scale = Math.max(1, Math.min(4, Math.floor(800 / Math.max(win.width, win.height))));
    const enlarge = (rgb: Uint8Array) => sharp(Buffer.from(rgb), { raw: { width: win.width, height: win.height, channels: 3 } })
      .resize(win.width * scale, win.height * scale, { kernel: 'nearest' }).png().toBuffer();
    const tc = jointStretch([b.red!, b.green!, b.blue!, a.red!, a.green!, a.blue!]);
    const hasNir = b.nir !== undefined && a.nir !== undefined;
    const fc = hasNir ? jointStretch([b.nir!, b.red!, b.green!, a.nir!, a.red!, a.green!]) : tc;
    const rgb = (p: typeof b, colour: 'true' | 'false') => (colour === 'true' || !hasNir
      ? toRgb8({ red: p.red!, green: p.green!, blue: p.blue! }, win.width, win.height, tc)
      : toRgb8({ red: p.nir!, green: p.red!, blue: p.green! }, win.width, win.height, fc));
    const [trueBefore, trueAfter, falseBefore, falseAfter] = await Promise.all([
      enlarge(rgb(b, 'true')), enlarge(rgb(a, 'true')), enlarge(rgb(b, 'false')), enlarge(rgb(a, 'false')),
    ]);
    return {
      png: { 'true-before': trueBefore, 'true-after': trueAfter, 'false-before': falseBefore, 'false-after': falseAfter },
      width: win.width * scale,
      height: win.height * scale,
      toImage: (lon, lat) => { const [c, r] = toGrid(lon, lat); return [(c - win.col) * scale, (r - win.row) * scale]; },
    };
  } finally {
    await Promise.all(scenes.map((s) => s.close()));
  }
}
