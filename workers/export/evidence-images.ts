/**
 * The images of an evidence report, read from the alert's own scenes: before/after chips around
 * the patch in true colour and in standard false colour (NIR-red-green: vegetation red, so its
 * loss is obvious), one joint stretch per composite for both dates (a colour change between the
 * chips is real change), and an overview of the surroundings. Outlines, scale bar and north arrow
 * are drawn by the PDF as vectors; this module returns the rasters and the mapping lon/lat → pixel.
 */
import sharp from 'sharp';
import { createTransform, WGS84 } from '../../geodata/crs.js';
import { inverseTransform } from '../../geodata/pair.js';
import { jointStretch, toRgb8 } from '../../geodata/render.js';
import { openScene, type Scene } from '../../geodata/scene-reader.js';
import type { PixelWindow } from '../../geodata/types.js';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
import { createPairPlan, readPairPixels } from '../../pipeline/scan/detect-window.js';
import { pixelAreaM2 } from '../../pipeline/scan/sites.js';
import type { AreaGeometry } from '../../pipeline/types.js';

export interface RasterImage {
  png: Buffer;
  /** Size in image pixels (each grid pixel is `scale` image pixels). */
  width: number;
  height: number;
  /** lon/lat → image pixel (x right, y down). */
  toImage(lon: number, lat: number): [number, number];
  /** Ground size of one image pixel in metres. */
  metresPerPixel: number;
}

export interface EvidenceImages {
  trueBefore: RasterImage;
  trueAfter: RasterImage;
  falseBefore: RasterImage;
  falseAfter: RasterImage;
  overview: RasterImage;
  /** The chips' extent in overview pixels [x0, y0, x1, y1]. */
  chipBox: [number, number, number, number];
}

function ringsOf(geometry: AreaGeometry): number[][][] {
  return geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
}

async function enlarge(rgb: Uint8Array, width: number, height: number, scale: number): Promise<Buffer> {
  return sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).resize(width * scale, height * scale, { kernel: 'nearest' }).png().toBuffer();
}

/**
 * @param scan the scenes (paths or URLs as the scan recorded them) and their band names
 * @param geometry the alert's polygon (lon/lat)
 */
export async function renderEvidenceImages(scan: { before: string; after: string; bands?: string[] | null }, geometry: AreaGeometry): Promise<EvidenceImages> {
  const bandNames = scan.bands ?? undefined;
  const scenes: Scene[] = [];
  try {
    scenes.push(await openScene(scan.before, { bandNames }));
    scenes.push(await openScene(scan.after, { bandNames }));
    const plan = createPairPlan(scenes[0], scenes[1], createSpectralDetector());
    const grid = plan.pair.grid;
    const lonLat = createTransform(grid.crs, WGS84);
    const toPixel = inverseTransform(grid.transform);
    const toGrid = (lon: number, lat: number): [number, number] => {
      const [x, y] = lonLat.inverse(lon, lat);
      return toPixel(x, y);
    };
    const pts = ringsOf(geometry).flat().map(([lon, lat]) => toGrid(lon, lat));
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const size = Math.max(maxX - minX, maxY - minY);
    const gridMetres = Math.sqrt(pixelAreaM2(grid));
    const windowAround = (margin: number, minSide: number): PixelWindow => {
      const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
      const half = Math.max(minSide / 2, size / 2 + margin);
      const col = Math.max(0, Math.floor(cx - half)), row = Math.max(0, Math.floor(cy - half));
      return { col, row, width: Math.min(grid.width, Math.ceil(cx + half)) - col, height: Math.min(grid.height, Math.ceil(cy + half)) - row };
    };
    const chip = windowAround(Math.max(12, size * 0.4), 48);
    const px = await readPairPixels(plan, chip);
    const scale = Math.max(1, Math.min(8, Math.floor(480 / Math.max(chip.width, chip.height))));
    const image = async (rgb: Uint8Array, win: PixelWindow, k: number): Promise<RasterImage> => ({
      png: await enlarge(rgb, win.width, win.height, k), width: win.width * k, height: win.height * k, metresPerPixel: gridMetres / k,
      toImage: (lon, lat) => { const [c, r] = toGrid(lon, lat); return [(c - win.col) * k, (r - win.row) * k]; },
    });
    const b = px.before, a = px.after;
    const tc = jointStretch([b.red!, b.green!, b.blue!, a.red!, a.green!, a.blue!]);
    const fc = jointStretch([b.nir!, b.red!, b.green!, a.nir!, a.red!, a.green!]);
    const [w, h] = [chip.width, chip.height];
    const trueBefore = await image(toRgb8({ red: b.red!, green: b.green!, blue: b.blue! }, w, h, tc), chip, scale);
    const trueAfter = await image(toRgb8({ red: a.red!, green: a.green!, blue: a.blue! }, w, h, tc), chip, scale);
    const falseBefore = await image(toRgb8({ red: b.nir!, green: b.red!, blue: b.green! }, w, h, fc), chip, scale);
    const falseAfter = await image(toRgb8({ red: a.nir!, green: a.red!, blue: a.green! }, w, h, fc), chip, scale);

    // Overview: about 2 km around (at least three times the patch), at most 600 grid pixels a side.
    const wide = windowAround(Math.min(300, Math.max(size * 1.5, 2000 / gridMetres / 2)), Math.min(600, Math.max(120, size * 3)));
    const ov = await readPairPixels(plan, wide);
    const os = jointStretch([ov.after.red!, ov.after.green!, ov.after.blue!]);
    const ovScale = Math.max(1, Math.floor(480 / Math.max(wide.width, wide.height)));
    const overview = await image(toRgb8({ red: ov.after.red!, green: ov.after.green!, blue: ov.after.blue! }, wide.width, wide.height, os), wide, ovScale);
    const chipBox: [number, number, number, number] = [
      (chip.col - wide.col) * ovScale, (chip.row - wide.row) * ovScale, (chip.col + chip.width - wide.col) * ovScale, (chip.row + chip.height - wide.row) * ovScale,
    ];
    return { trueBefore, trueAfter, falseBefore, falseAfter, overview, chipBox };
  } finally {
    await Promise.all(scenes.map((s) => s.close()));
  }
}
