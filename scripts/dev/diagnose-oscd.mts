// Dev diagnostic: per-pixel detector output against the OSCD labels (read in place from ../shared).
import { readdirSync } from 'node:fs';
import { openScene } from '../../geodata/scene-reader.js';
import { createPairPlan, readPairPixels, samplePair, type PairPlan } from '../../pipeline/scan/detect-window.js';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
const city = process.argv[2] ?? 'aguasclaras';
const base = `../shared/data/s2-oscd-change-pairs/${city}/`;
const files = readdirSync(base + 'stacked_10m').sort();
const det = createSpectralDetector();
const b = await openScene(base + 'stacked_10m/' + files[0]);
const a = await openScene(base + 'stacked_10m/' + files[1]);
const lab = await openScene(base + `labels_CC-BY-NC-SA/${city}-cm_georef.tif`);
const plan: PairPlan = createPairPlan(b, a, det);
const cal = det.calibrate(await samplePair(plan));
console.log(JSON.stringify(cal).slice(0, 400));
const g = plan.pair.grid;
const win = { col: 0, row: 0, width: g.width, height: g.height };
const px = await readPairPixels(plan, win);
const out = await det.detect({ width: g.width, height: g.height, before: px.before, after: px.after, clear: px.clear }, cal);
const L = (await lab.readWindow(win)).bands[lab.info.bands[0]];
const tab: Record<string, [number, number]> = {};
for (let i = 0; i < L.length; i++) {
  const k = `${out.kind[i]}/${out.prob[i] >= 0.5 ? 'hi' : out.prob[i] > 0.2 ? 'mid' : 'lo'}`;
  tab[k] ??= [0, 0];
  tab[k][L[i] > 0 ? 1 : 0]++;
}
console.log('kind/prob: [no-change px, change px]');
for (const [k, v] of Object.entries(tab).sort()) console.log(k, v);
await Promise.all([a.close(), b.close(), lab.close()]);
