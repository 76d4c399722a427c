/** Share of a polygon's label-grid pixels (pixel centres inside it) that are labelled change (value > 0). */
import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import type { MultiPolygon, Polygon } from 'geojson';
import { openScene } from '../../geodata/scene-reader.js';
import { bboxOf } from '../../pipeline/rules.js';
import { inverseTransform, pixelToCrs } from '../../geodata/pair.js';

export async function onLabelledChangeShare(labelFile: string, geometry: Polygon | MultiPolygon): Promise<number> {
  const scene = await openScene(labelFile);
  try {
    const g = scene.info.grid; // EPSG:4326, like the geometry
    const [minX, minY, maxX, maxY] = bboxOf(geometry);
    const toPx = inverseTransform(g.transform);
    const [c0, r0] = toPx(minX, maxY), [c1, r1] = toPx(maxX, minY);
    const col = Math.max(0, Math.floor(Math.min(c0, c1))), row = Math.max(0, Math.floor(Math.min(r0, r1)));
    const width = Math.min(g.width, Math.ceil(Math.max(c0, c1)) + 1) - col, height = Math.min(g.height, Math.ceil(Math.max(r0, r1)) + 1) - row;
    const px = await scene.readWindow({ col, row, width, height });
    const values = px.bands[scene.info.bands[0]];
    let inside = 0, changed = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = pixelToCrs(g.transform, col + x + 0.5, row + y + 0.5);
        if (!booleanPointInPolygon(p, geometry)) continue;
        inside++;
        if (values[y * width + x] > 0) changed++;
      }
    }
    return inside === 0 ? 0 : changed / inside;
  } finally {
    await scene.close();
  }
}
