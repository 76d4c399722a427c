/** Plain-text tables for the terminal. */
import type { AlertRow } from '../pipeline/store/alert-store.js';

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatAlertTable(alerts: AlertRow[]): string {
  const sorted = [...alerts].sort((a, b) => b.score * b.area_ha - a.score * a.area_ha);
  return formatTable(
    ['alert_id', 'category', 'area_ha', 'score', 'confidence', 'permit', 'centroid', 'why'],
    sorted.map((a) => [a.alert_id, a.category, a.area_ha.toFixed(2), a.score.toFixed(2), a.confidence, a.permit_id ?? '-',
      `${a.centroid[0].toFixed(5)},${a.centroid[1].toFixed(5)}`, a.summary]),
  );
}
