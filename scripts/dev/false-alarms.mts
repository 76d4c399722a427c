// Dev: list the false alerts of an eval work dir seed with what truth they overlap.
import { readFileSync } from 'node:fs';
import { intersectionAreaHa } from '../../geodata/area.js';
const dir = process.argv[2];
const truth = JSON.parse(readFileSync(`${dir}/truth.geojson`, 'utf8'));
const alerts = JSON.parse(readFileSync(`${dir}/alerts.geojson`, 'utf8'));
for (const a of alerts.features) {
  const hits = truth.features.map((t: any) => ({ t, ha: intersectionAreaHa(a.geometry, t.geometry) })).filter((h: any) => h.ha > 0);
  const good = hits.some((h: any) => h.t.properties.expected_category !== null && h.ha / Math.min(a.properties.area_ha, h.t.properties.area_ha) >= 0.1);
  if (good) continue;
  console.log(a.properties.alert_id, a.properties.area_ha.toFixed(2), a.properties.score, a.properties.change_kind, JSON.stringify(a.properties.rule_trace ? '' : ''), a.properties.centroid.map((v: number) => v.toFixed(5)).join(','),
    hits.map((h: any) => `${h.t.properties.kind}:${h.ha.toFixed(2)}`).join(' '));
}
