/**
 * The per-alert evidence report as PDF (pdfkit), in Simplified Chinese or English: what was found
 * and why (category, the rule trace in words), where (county and code; centroid and corners in
 * WGS 84 and in CGCS2000 Gauss-Krüger 3° coordinates with the zone), how big (ha and mu), the
 * permit with holder and validity, the image dates; before/after chips in true and false colour
 * with the patch and the permit boundary drawn on them, scale bars and north arrows; an overview;
 * the detector, its thresholds, the scenes and their SHA-256; the triage history.
 *
 * Chinese renders on a machine without CJK fonts: the report embeds WenQuanYi Micro Hei
 * (Apache-2.0, assets/fonts/SOURCE.md), subset to the glyphs used.
 */
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import PDFDocument from 'pdfkit';
import simplify from '@turf/simplify';
import { inputError } from '../../errors/index.js';
import { gkZoneForLongitude, projectToGk } from '../../pipeline/export/geometry.js';
import { CATEGORY_LABELS, STATUS_LABELS, type Lang } from '../../pipeline/export/labels.js';
import { MU_PER_HA } from '../../pipeline/export/columns.js';
import { bboxOf } from '../../pipeline/rules.js';
import { queryAlerts, type AlertScan, type ExportAlert } from '../../pipeline/store/alert-query.js';
import { nearbyFeatures, type NearbyFeature } from '../../pipeline/store/evidence-store.js';
import type { Queryable } from '../../pipeline/store/database.js';
import type { AreaGeometry } from '../../pipeline/types.js';
import { renderEvidenceImages, type EvidenceImages, type RasterImage } from './evidence-images.js';
import { t } from './report-text.js';

type Doc = PDFKit.PDFDocument;

const PAGE = { width: 595.28, height: 841.89, margin: 40 };
const COLOURS = { change: '#ffd400', permit: '#00e5ff', closed: '#ff3df5', frame: '#d0021b', text: '#1a1a1a', muted: '#666666', rule: '#cccccc' };

/** The project root (where package.json and assets/ are), from this file in src or dist. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'assets', 'fonts'))) return dir;
    dir = dirname(dir);
  }
  throw inputError('EXPORT.NO_FONT', 'Cannot find assets/fonts of the orewatch installation (the report font)');
}

function orewatchVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

/** The 3° Gauss-Krüger zone of a longitude, its EPSG code (zone-prefixed eastings) and the coordinates. */
export function gaussKruger(lon: number, lat: number): { zone: number; epsg: number; centralMeridian: number; x: number; y: number } {
  const zone = gkZoneForLongitude(lon);
  if (zone === null) throw inputError('EXPORT.OUTSIDE_CHINA', `Longitude ${lon.toFixed(4)} lies outside the CGCS2000 3° zones 25–45 (75°E–135°E)`);
  const [easting, northing] = projectToGk(zone, lon, lat);
  // Chinese surveying convention: X is the northing, Y the (zone-prefixed) easting.
  return { zone: zone.zone, epsg: zone.epsg, centralMeridian: zone.centralMeridianDeg, x: northing, y: easting };
}

/**
 * Vertices of the patch outline generalised at about one 10 m pixel (the traced outline follows
 * every pixel step), outer rings only: the corner points a field team walks to.
 */
export function cornerPoints(geometry: AreaGeometry): [number, number][] {
  const simple = simplify({ type: 'Feature', properties: {}, geometry }, { tolerance: 0.0001, highQuality: true }).geometry as AreaGeometry;
  const polys = simple.type === 'Polygon' ? [simple.coordinates] : simple.coordinates;
  return polys.flatMap((p) => p[0].slice(0, -1) as [number, number][]);
}

function niceLength(maxMetres: number): number {
  const steps = [10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000];
  return [...steps].reverse().find((s) => s <= maxMetres) ?? steps[0];
}

class Report {
  y = PAGE.margin;
  constructor(readonly doc: Doc, readonly lang: Lang) {}

  get width(): number {
    return PAGE.width - 2 * PAGE.margin;
  }

  ensure(space: number): void {
    if (this.y + space > PAGE.height - PAGE.margin - 20) this.newPage();
  }

  newPage(): void {
    this.doc.addPage({ size: 'A4', margin: PAGE.margin });
    this.y = PAGE.margin;
  }

  /** A section heading, kept on one page with the first `keep` points of what follows. */
  heading(text: string, keep = 40): void {
    this.ensure(keep + 24);
    this.y += 6;
    this.doc.fontSize(12).fillColor(COLOURS.text).text(text, PAGE.margin, this.y, { width: this.width });
    this.y = this.doc.y + 2;
    this.doc.moveTo(PAGE.margin, this.y).lineTo(PAGE.width - PAGE.margin, this.y).lineWidth(0.5).strokeColor(COLOURS.rule).stroke();
    this.y += 5;
  }

  row(label: string, value: string, labelWidth = 150): void {
    this.doc.fontSize(9);
    const h = Math.max(this.doc.heightOfString(label, { width: labelWidth - 6 }), this.doc.heightOfString(value, { width: this.width - labelWidth }));
    this.ensure(h + 4);
    this.doc.fillColor(COLOURS.muted).text(label, PAGE.margin, this.y, { width: labelWidth - 6 });
    this.doc.fillColor(COLOURS.text).text(value, PAGE.margin + labelWidth, this.y, { width: this.width - labelWidth });
    this.y += h + 4;
  }

  table(header: string[], rows: string[][], widths: number[], fontSize = 8): void {
    const x0 = PAGE.margin;
    const line = (cells: string[], colour: string) => {
      this.doc.fontSize(fontSize);
      const h = Math.max(...cells.map((c, i) => this.doc.heightOfString(c, { width: widths[i] - 4 })));
      this.ensure(h + 3);
      let x = x0;
      cells.forEach((c, i) => { this.doc.fillColor(colour).text(c, x, this.y, { width: widths[i] - 4 }); x += widths[i]; });
      this.y += h + 3;
    };
    line(header, COLOURS.muted);
    for (const r of rows) line(r, COLOURS.text);
  }

  paragraph(text: string, size = 9, colour = COLOURS.text): void {
    this.doc.fontSize(size);
    const h = this.doc.heightOfString(text, { width: this.width });
    this.ensure(h + 4);
    this.doc.fillColor(colour).text(text, PAGE.margin, this.y, { width: this.width });
    this.y += h + 4;
  }
}

/** Draws a raster with outlines (vector), a scale bar and a north arrow; returns its height on the page. */
function drawMap(doc: Doc, img: RasterImage, x: number, y: number, width: number, overlays: { geometry: AreaGeometry; colour: string; dash?: boolean; width?: number }[], label: string, lang: Lang, box?: [number, number, number, number]): number {
  const k = width / img.width;
  const height = img.height * k;
  doc.image(img.png, x, y, { width, height });
  doc.save();
  doc.rect(x, y, width, height).clip();
  for (const o of overlays) {
    const polys = o.geometry.type === 'Polygon' ? [o.geometry.coordinates] : o.geometry.coordinates;
    for (const poly of polys) {
      for (const ring of poly) {
        ring.forEach(([lon, lat], i) => {
          const [px, py] = img.toImage(lon, lat);
          if (i === 0) doc.moveTo(x + px * k, y + py * k);
          else doc.lineTo(x + px * k, y + py * k);
        });
        doc.closePath();
      }
    }
    if (o.dash) doc.dash(3, { space: 2 }); else doc.undash();
    doc.lineWidth(o.width ?? 1.2).strokeColor(o.colour).stroke();
    doc.undash();
  }
  if (box) doc.rect(x + box[0] * k, y + box[1] * k, (box[2] - box[0]) * k, (box[3] - box[1]) * k).lineWidth(1).strokeColor(COLOURS.frame).stroke();
  doc.restore();
  doc.rect(x, y, width, height).lineWidth(0.5).strokeColor('#000000').stroke();
  // Scale bar: a round length near a quarter of the width, bottom left, on a white box.
  const metresPerPt = img.metresPerPixel / k;
  const metres = niceLength((width / 4) * metresPerPt);
  const barPt = metres / metresPerPt;
  doc.rect(x + 4, y + height - 18, barPt + 36, 14).fillOpacity(0.8).fill('#ffffff').fillOpacity(1);
  doc.rect(x + 8, y + height - 11, barPt, 3).fill('#000000');
  doc.fontSize(6).fillColor('#000000').text(metres >= 1000 ? `${metres / 1000} km` : `${metres} m`, x + 12 + barPt, y + height - 14, { width: 30, lineBreak: false });
  // North arrow, top right (the scenes are north-up grids).
  const ax = x + width - 12, ay = y + 6;
  doc.rect(ax - 7, ay - 2, 14, 22).fillOpacity(0.8).fill('#ffffff').fillOpacity(1);
  doc.moveTo(ax, ay).lineTo(ax + 4, ay + 10).lineTo(ax, ay + 8).lineTo(ax - 4, ay + 10).closePath().fill('#000000');
  doc.fontSize(6).fillColor('#000000').text(t(lang, 'north'), ax - 5, ay + 11, { width: 10, align: 'center', lineBreak: false });
  doc.fontSize(8).fillColor(COLOURS.muted).text(label, x, y + height + 2, { width, align: 'center' });
  return height + 14;
}

function fmt(n: number, digits: number): string {
  return n.toFixed(digits);
}

/** One report's facts: the alert as the exports see it (permit, scan, history), and what lies around it. */
interface ReportInput {
  alert: ExportAlert;
  scan: AlertScan;
  nearby: NearbyFeature[];
}

/** An ISO UTC time as China Standard Time (UTC+8, no daylight saving), `YYYY-MM-DD HH:MM`. */
function chinaTime(iso: string): string {
  return new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

function writeReport(r: Report, ev: ReportInput, images: EvidenceImages | { error: string }): void {
  const { doc, lang } = r;
  const a = ev.alert;
  const other: Lang = lang === 'zh' ? 'en' : 'zh';
  doc.fontSize(18).fillColor(COLOURS.text).text(`${t(lang, 'title')}  ${a.alert_id}`, PAGE.margin, r.y, { width: r.width });
  r.y = doc.y + 2;
  r.paragraph(t(lang, 'subtitle'), 8, COLOURS.muted);

  r.heading(`${t(lang, 'category')}: ${CATEGORY_LABELS[a.category][lang]}`);
  r.row(t(lang, 'alertId'), a.alert_id);
  r.row(t(lang, 'category'), `${CATEGORY_LABELS[a.category][lang]} (${CATEGORY_LABELS[a.category][other]}; ${a.category})`);
  r.row(t(lang, 'why'), [a.summary, ...a.rule_trace.filter((s) => s.result).map((s) => `• ${s.rule}: ${s.detail}`)].join('\n'));
  r.row(t(lang, 'county'), a.county_code ? `${a.county_name ?? ''} (${a.county_code})` : t(lang, 'unknownCounty'));
  r.row(t(lang, 'area'), `${fmt(a.area_ha, 2)} ${t(lang, 'ha')} = ${fmt(a.area_ha * MU_PER_HA, 1)} ${t(lang, 'mu')}` +
    (a.area_outside_ha !== null ? `; ${t(lang, 'areaOutside')} ${fmt(a.area_outside_ha, 2)} ${t(lang, 'ha')} = ${fmt(a.area_outside_ha * MU_PER_HA, 1)} ${t(lang, 'mu')}` : ''));
  const p = a.permit;
  r.row(t(lang, 'permit'), p
    ? `${p.permit_id} (${p.type === 'exploration' ? t(lang, 'explorationPermit') : t(lang, 'miningPermit')}); ${t(lang, 'holder')}: ${p.holder || '—'}; ${t(lang, 'validity')}: ${p.valid_from || '?'} – ${p.valid_to || '?'}`
    : (a.permit_id ?? t(lang, 'noPermit')));
  r.row(t(lang, 'imageDates'), `${ev.scan.before_date} / ${ev.scan.after_date}`);
  r.row(t(lang, 'firstLast'), `${a.first_seen} / ${a.last_seen}`);
  r.row(t(lang, 'observations'), `${a.observation_count}; ${t(lang, 'confidence')}: ${t(lang, a.confidence)}`);
  r.row(t(lang, 'status'), `${STATUS_LABELS[a.status][lang]} (${a.status})`);
  const [lon, lat] = a.centroid;
  const gk = gaussKruger(lon, lat);
  r.row(t(lang, 'centroid'), `${t(lang, 'wgs84')}: ${fmt(lon, 6)}°E, ${fmt(lat, 6)}°N\n` +
    `${t(lang, 'gk')} (${t(lang, 'zone')} ${gk.zone}, ${t(lang, 'cm')} ${gk.centralMeridian}°E, EPSG:${gk.epsg}):\nX ${fmt(gk.x, 2)} m, Y ${fmt(gk.y, 2)} m`);

  if ('error' in images) {
    r.heading(t(lang, 'images'));
    r.paragraph(`${t(lang, 'imagesUnavailable')}: ${images.error}`, 9, COLOURS.frame);
  } else {
    const overlays = [
      ...ev.nearby.filter((n) => n.kind === 'permits').map((n) => ({ geometry: n.geometry, colour: COLOURS.permit, dash: true })),
      ...ev.nearby.filter((n) => n.kind === 'closed_sites').map((n) => ({ geometry: n.geometry, colour: COLOURS.closed, dash: true })),
      { geometry: a.geometry, colour: COLOURS.change, width: 1.5 },
    ];
    // Four chips, two by two, on this page when they fit at a readable size, else on the next.
    const aspect = images.trueBefore.height / images.trueBefore.width;
    const room = PAGE.height - PAGE.margin - 20 - r.y - 24 - 2 * 18 - 18;
    let w = Math.min((r.width - 10) / 2, room / 2 / aspect);
    if (w < 170) w = (r.width - 10) / 2;
    r.heading(t(lang, 'images'), 2 * (w * aspect + 18) + 18);
    let h = drawMap(doc, images.trueBefore, PAGE.margin, r.y, w, overlays, `${t(lang, 'before')} ${ev.scan.before_date} · ${t(lang, 'trueColour')}`, lang);
    drawMap(doc, images.trueAfter, PAGE.margin + w + 10, r.y, w, overlays, `${t(lang, 'after')} ${ev.scan.after_date} · ${t(lang, 'trueColour')}`, lang);
    r.y += h + 4;
    h = drawMap(doc, images.falseBefore, PAGE.margin, r.y, w, overlays, `${t(lang, 'before')} ${ev.scan.before_date} · ${t(lang, 'falseColour')}`, lang);
    drawMap(doc, images.falseAfter, PAGE.margin + w + 10, r.y, w, overlays, `${t(lang, 'after')} ${ev.scan.after_date} · ${t(lang, 'falseColour')}`, lang);
    r.y += h + 4;
    doc.fontSize(8);
    const legend: [string, string][] = [[COLOURS.change, t(lang, 'legendChange')], [COLOURS.permit, t(lang, 'legendPermit')]];
    let lx = PAGE.margin;
    for (const [colour, text] of legend) {
      doc.rect(lx, r.y + 2, 14, 6).fill(colour);
      doc.fillColor(COLOURS.text).text(text, lx + 18, r.y, { lineBreak: false });
      lx += 120;
    }
    r.y += 14;
    const ov = images.overview;
    const ow = Math.min(r.width, 320, 300 * (ov.width / ov.height));
    r.heading(t(lang, 'overview'), ov.height * (ow / ov.width) + 20);
    r.y += drawMap(doc, images.overview, PAGE.margin + (r.width - ow) / 2, r.y, ow, overlays, t(lang, 'overview'), lang, images.chipBox) + 4;
  }

  r.heading(t(lang, 'corners'));
  const corners = cornerPoints(a.geometry);
  r.table([t(lang, 'point'), `${t(lang, 'lon')} (WGS 84)`, `${t(lang, 'lat')} (WGS 84)`, `${t(lang, 'northing')} GK ${gk.zone}`, `${t(lang, 'easting')} GK ${gk.zone}`],
    corners.map(([x, y], i) => {
      const [e, n] = projectToGk(gkZoneForLongitude(lon)!, x, y);
      return [String(i + 1), fmt(x, 6), fmt(y, 6), fmt(n, 2), fmt(e, 2)];
    }), [30, 100, 100, 125, 125]);
  r.paragraph(t(lang, 'cornersNote'), 7, COLOURS.muted);

  r.heading(t(lang, 'provenance'));
  const thresholds = ev.scan.detector_thresholds;
  r.row(t(lang, 'detector'), `${ev.scan.detector} ${ev.scan.detector_version}`);
  if (thresholds !== null) r.row(t(lang, 'thresholds'), JSON.stringify(thresholds).replace(/,"/g, ', "'));
  r.row(t(lang, 'rules'), `${String((ev.scan.rules as { version?: string }).version ?? '?')}; ${JSON.stringify(ev.scan.rules).replace(/,"/g, ', "')}`);
  r.row(t(lang, 'scan'), ev.scan.scan_id);
  r.row(`${t(lang, 'scene')} (${t(lang, 'before')})`, `${ev.scan.before_uri}\n${t(lang, 'sha256')}: ${ev.scan.before_sha256 ?? t(lang, 'remote')}`);
  r.row(`${t(lang, 'scene')} (${t(lang, 'after')})`, `${ev.scan.after_uri}\n${t(lang, 'sha256')}: ${ev.scan.after_sha256 ?? t(lang, 'remote')}`);

  r.heading(t(lang, 'history'));
  if (a.history.length === 0) r.paragraph(t(lang, 'noHistory'));
  else r.table(['', '', ''], a.history.map((h) => [chinaTime(h.at), `${h.actor}: ${h.action}`, JSON.stringify(h.details)]), [90, 150, r.width - 240], 7);
}

export interface AlertsPdfOptions {
  db: Queryable;
  alertIds: string[];
  lang: Lang;
  out: string;
}

/**
 * Writes one evidence report per alert into one PDF (each report starts on a new page), through a
 * temporary file and a rename: a reader never sees half a report, and a failure leaves nothing.
 */
export async function writeAlertsPdf(options: AlertsPdfOptions): Promise<{ pages: number }> {
  if (options.lang !== 'zh' && options.lang !== 'en') throw inputError('EXPORT.BAD_LANG', `--lang: expected zh or en but received "${String(options.lang)}"`);
  if (options.alertIds.length === 0) throw inputError('EXPORT.NO_ALERTS', 'No alerts to export: the filters select none');
  const root = projectRoot();
  const found = new Map((await queryAlerts(options.db, { alertIds: options.alertIds })).map((a) => [a.alert_id, a]));
  const evidence: { ev: ReportInput; images: EvidenceImages | { error: string } }[] = [];
  for (const id of options.alertIds) {
    const alert = found.get(id);
    if (!alert) throw inputError('EXPORT.UNKNOWN_ALERT', `--alert: no alert "${id}" in the store`);
    const scan = alert.scan;
    if (!scan) throw inputError('EXPORT.NO_SCAN', `Alert ${id} names scan ${alert.last_scan_id}, which is not in the store`);
    const [minLon, minLat, maxLon, maxLat] = bboxOf(alert.geometry);
    const pad = Math.max(maxLon - minLon, maxLat - minLat) * 3 + 0.01;
    const ev: ReportInput = { alert, scan, nearby: await nearbyFeatures(options.db, scan.layers ?? [], [minLon - pad, minLat - pad, maxLon + pad, maxLat + pad]) };
    let images: EvidenceImages | { error: string };
    try {
      images = await renderEvidenceImages({ before: scan.before_uri, after: scan.after_uri, bands: scan.bands }, alert.geometry);
    } catch (error) {
      // The scenes may have moved since the scan: the report says so instead of failing.
      images = { error: (error as Error).message };
    }
    evidence.push({ ev, images });
  }
  const tmp = `${options.out}.tmp-${process.pid}`;
  const version = orewatchVersion(root);
  const generated = new Date().toISOString().replace('T', ' ').slice(0, 16);
  const doc = new PDFDocument({ size: 'A4', margin: PAGE.margin, bufferPages: true, info: { Title: `orewatch ${t(options.lang, 'title')}`, Creator: `orewatch ${version}` } });
  doc.registerFont('cjk', join(root, 'assets', 'fonts', 'wqy-microhei.ttc'), 'WenQuanYiMicroHei');
  doc.font('cjk');
  const done = new Promise<void>((resolve, reject) => {
    const stream = createWriteStream(tmp);
    stream.on('finish', () => resolve());
    stream.on('error', reject);
    doc.pipe(stream);
  });
  try {
    const footer = `orewatch ${version} · ${t(options.lang, 'generated')} ${generated} UTC`;
    evidence.forEach(({ ev, images }, i) => {
      if (i > 0) doc.addPage();
      writeReport(new Report(doc, options.lang), ev, images);
    });
    const range = doc.bufferedPageRange();
    for (let i = range.start; i < range.start + range.count; i++) {
      doc.switchToPage(i);
      // Writing below the bottom margin would make pdfkit open a new page: lift the margin first.
      doc.page.margins.bottom = 0;
      doc.fontSize(7).fillColor(COLOURS.muted).text(`${footer} · ${i + 1}/${range.count}`, PAGE.margin, PAGE.height - PAGE.margin + 8, { width: PAGE.width - 2 * PAGE.margin, align: 'center', lineBreak: false });
    }
    doc.end();
    await done;
    renameSync(tmp, options.out);
    return { pages: range.count };
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
