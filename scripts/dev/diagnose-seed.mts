// Dev diagnostic: per truth site of a generated scene, what the masks and the detector saw.
import { readFileSync, mkdirSync } from 'node:fs';
import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import { openScene } from '../../geodata/scene-reader.js';
import { pixelToCrs } from '../../geodata/pair.js';
import { createTransform, WGS84 } from '../../geodata/crs.js';
import { createPairPlan, readPairPixels, samplePair, type PairPlan } from '../../pipeline/scan/detect-window.js';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
import { generateScenario } from '../../pipeline/eval/scenario-generator.js';
const seed = Number(process.argv[2] ?? 104);
const only = process.argv[3];
const dir = `/tmp/ow/diag-${seed}`;
mkdirSync(dir, { recursive: true });
const m = await generateScenario({ seed, size: 512, outDir: dir });
const det = createSpectralDetector();
const b = await openScene(`${dir}/${m.files.before}`), a = await openScene(`${dir}/${m.files.after}`);
const plan: PairPlan = createPairPlan(b, a, det);
const cal = det.calibrate(await samplePair(plan));
const g = plan.pair.grid;
const px = await readPairPixels(plan, { col: 0, row: 0, width: g.width, height: g.height });
const out = await det.detect({ width: g.width, height: g.height, before: px.before, after: px.after, clear: px.clear }, cal);
const tr = createTransform(g.crs, WGS84);
const truth = JSON.parse(readFileSync(`${dir}/${m.files.truth}`, 'utf8'));
const lonlat: [number, number][] = [];
for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) {
  const [X, Y] = pixelToCrs(g.transform, x + 0.5, y + 0.5);
  lonlat.push(tr.forward(X, Y));
}
import { bboxOf } from '../../pipeline/rules.js';
for (const t of truth.features) {
  if (only && t.properties.kind !== only) continue;
  const hist: Record<string, number> = {};
  let n = 0;
  const samples: string[] = [];
  const [x0, y0, x1, y1] = bboxOf(t.geometry);
  for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) {
    const ll = lonlat[y * g.width + x];
    if (ll[0] < x0 || ll[0] > x1 || ll[1] < y0 || ll[1] > y1) continue;
    if (!booleanPointInPolygon(ll, t.geometry)) continue;
    const i = y * g.width + x; n++;
    const k = `m${px.maskClass[i]}k${out.kind[i]}${out.prob[i] >= 0.5 ? 'H' : out.prob[i] > 0.2 ? 'M' : 'L'}`;
    hist[k] = (hist[k] ?? 0) + 1;
    if (samples.length < 3 && n % 7 === 0) samples.push(['blue','green','red','nir','swir1'].map((bb) => `${(px.before as any)[bb][i].toFixed(3)}→${(px.after as any)[bb][i].toFixed(3)}`).join(' '));
  }
  console.log(t.properties.truth_id, t.properties.kind, t.properties.expected_category, t.properties.area_ha.toFixed(2), n, JSON.stringify(hist));
  if (only) for (const s of samples) console.log('   ', s);
}
