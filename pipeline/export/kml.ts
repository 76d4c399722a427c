/**
 * Bulk KML 2.2 export for Google Earth, ArcGIS and QGIS: one Placemark per alert in one Folder,
 * styled by category (outline and translucent fill), with a bilingual description table (labels in
 * Chinese and English per GLOSSARY.md) and the same attributes as ExtendedData. WGS 84.
 */
import type { Position } from 'geojson';
import type { ExportAlert } from '../store/alert-query.js';
import { CATEGORIES, type Category } from '../types.js';
import { COLUMNS } from './columns.js';
import { polygonsOf, windPolygons } from './geometry.js';
import { CATEGORY_LABELS, labelOf, STATUS_LABELS, type Lang } from './labels.js';

/** Category colours as #rrggbb: red for the commonest, warm for permit trouble, cool for places. */
export const CATEGORY_COLOURS: Record<Category, string> = {
  unlicensed: '#e53935',
  out_of_bounds: '#fb8c00',
  exploration_only: '#fdd835',
  expired_permit: '#8e24aa',
  closed_site_reactivated: '#6d4c41',
  protected_area: '#00897b',
};

export interface KmlOptions {
  lang: Lang;
  /** Document name, e.g. the query in words. */
  title: string;
}

function xml(text: string): string {
  // Control characters are not allowed in XML 1.0 at all, not even escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** #rrggbb + alpha → KML's aabbggrr. */
function kmlColour(hex: string, alpha: number): string {
  const a = Math.round(alpha * 255).toString(16).padStart(2, '0');
  return `${a}${hex.slice(5, 7)}${hex.slice(3, 5)}${hex.slice(1, 3)}`;
}

function coordinates(ring: Position[]): string {
  return ring.map((p) => `${p[0]},${p[1]}`).join(' ');
}

function polygonKml(rings: Position[][]): string {
  const [outer, ...holes] = rings;
  return `<Polygon><outerBoundaryIs><LinearRing><coordinates>${coordinates(outer)}</coordinates></LinearRing></outerBoundaryIs>` +
    holes.map((h) => `<innerBoundaryIs><LinearRing><coordinates>${coordinates(h)}</coordinates></LinearRing></innerBoundaryIs>`).join('') +
    '</Polygon>';
}

/** The description: a two-column HTML table, label in Chinese and English, then the value. */
function descriptionHtml(a: ExportAlert): string {
  const rows = COLUMNS.filter((c) => !['category', 'status', 'confidence', 'category_en'].includes(c.key))
    .map((c) => [c.label, c.value(a)] as const)
    .filter(([, v]) => v !== null && v !== '')
    .map(([label, v]) => `<tr><th align="left">${xml(label.zh)}<br/><small>${xml(label.en)}</small></th><td>${xml(String(v))}</td></tr>`);
  const category = CATEGORY_LABELS[a.category] ?? { zh: a.category, en: a.category };
  return `<p><b>${xml(category.zh)}</b><br/>${xml(category.en)}</p>` +
    `<table border="1" cellpadding="3" cellspacing="0">${rows.join('')}</table>` +
    '<p><small>卫星变化图斑为线索，不是定论，须经外业核查。 A satellite change patch is a clue, not a ruling: field verification decides.</small></p>';
}

/** CDATA cannot hold "]]>": split it across two sections. */
function cdata(text: string): string {
  return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function placemark(a: ExportAlert, lang: Lang): string {
  const category = labelOf(CATEGORY_LABELS, a.category)[lang];
  const name = `${a.alert_id} ${category}`;
  const polygons = windPolygons(polygonsOf(a.geometry), 'ccw');
  const geometry = polygons.length === 1 ? polygonKml(polygons[0]) : `<MultiGeometry>${polygons.map(polygonKml).join('')}</MultiGeometry>`;
  const data = COLUMNS.map((c) => {
    const v = c.value(a);
    return `<Data name="${c.key}"><value>${v === null ? '' : xml(String(v))}</value></Data>`;
  }).join('');
  const status = labelOf(STATUS_LABELS, a.status)[lang];
  return `<Placemark id="${xml(a.alert_id)}"><name>${xml(name)}</name><Snippet maxLines="1">${xml(status)}</Snippet>` +
    `<description>${cdata(descriptionHtml(a))}</description>` +
    `<styleUrl>#${CATEGORIES.includes(a.category) ? a.category : 'other'}</styleUrl>` +
    `<ExtendedData>${data}</ExtendedData>${geometry}</Placemark>`;
}

function style(id: string, hex: string, label: string): string {
  return `<Style id="${id}"><LineStyle><color>${kmlColour(hex, 1)}</color><width>2</width></LineStyle>` +
    `<PolyStyle><color>${kmlColour(hex, 0.4)}</color><fill>1</fill><outline>1</outline></PolyStyle>` +
    `<BalloonStyle><text>${cdata(`<h3>$[name]</h3><p>${xml(label)}</p>$[description]`)}</text></BalloonStyle></Style>`;
}

/** The KML document as UTF-8 text. */
export function buildKml(alerts: ExportAlert[], options: KmlOptions): string {
  const styles = CATEGORIES.map((c) => style(c, CATEGORY_COLOURS[c], `${CATEGORY_LABELS[c].zh} ${CATEGORY_LABELS[c].en}`)).join('\n') +
    `\n${style('other', '#757575', '')}`;
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n' +
    `<name>${xml(options.title)}</name>\n${styles}\n` +
    `<Folder><name>${options.lang === 'zh' ? '疑似违法开采线索' : 'suspected illegal mining alerts'}</name>\n` +
    alerts.map((a) => `${placemark(a, options.lang)}\n`).join('') +
    '</Folder>\n</Document>\n</kml>\n';
}
