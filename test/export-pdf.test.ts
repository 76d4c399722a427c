/**
 * The per-alert evidence report (PDF): pdftoppm (Debian's poppler-utils) renders every page, and
 * pdftotext finds the alert id, the coordinates in WGS 84 and CGCS2000 Gauss-Krüger, the area in
 * ha and mu and the Chinese category name — with the font the project ships, so it works on a
 * machine without CJK fonts. Skipped, saying so, when poppler-utils is absent.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAlerts, type AlertRow } from '../pipeline/store/alert-store.js';
import { openDatabase, type Database } from '../pipeline/store/database.js';
import { cornerPoints, gaussKruger, writeAlertsPdf } from '../workers/export/pdf-report.js';
import { orewatch } from './helpers/cli.js';
import { scanArgs, scenario } from './helpers/server-mode.js';

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ['-v'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
const poppler = has('pdftoppm') && has('pdftotext');
if (!poppler) console.warn('pdftoppm/pdftotext (poppler-utils) not installed: the PDF rendering checks are skipped');

describe.skipIf(!poppler)('evidence report (PDF)', () => {
  let tmp: string;
  let db: Database;
  let alerts: AlertRow[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'orewatch-pdf-'));
    const s = await scenario(512, 201);
    // Scan copies of the scenes, so that one test can take them away.
    mkdirSync(join(tmp, 'scenes'));
    copyFileSync(s.before, join(tmp, 'scenes', 'before.tif'));
    copyFileSync(s.after, join(tmp, 'scenes', 'after.tif'));
    const r = await orewatch([...scanArgs({ ...s, before: join(tmp, 'scenes', 'before.tif'), after: join(tmp, 'scenes', 'after.tif') }), '--data-dir', join(tmp, 'store')]);
    expect(r.status, r.stderr).toBe(0);
    db = await openDatabase({ dataDir: join(tmp, 'store') });
    alerts = (await listAlerts(db)).sort((a, b) => b.area_ha - a.area_ha);
    expect(alerts.length).toBeGreaterThan(2);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('renders a Chinese report whose text holds the id, the coordinates, the area and the category', async () => {
    const alert = alerts.find((a) => a.permit_id) ?? alerts[0];
    const out = join(tmp, 'report-zh.pdf');
    const { pages } = await writeAlertsPdf({ db, alertIds: [alert.alert_id], lang: 'zh', out });
    expect(pages).toBeGreaterThanOrEqual(2);
    execFileSync('pdftoppm', ['-r', '50', '-png', out, join(tmp, 'page')]);
    const images = readdirSync(tmp).filter((f) => /^page-\d+\.png$/.test(f));
    expect(images).toHaveLength(pages);
    for (const f of images) expect(statSync(join(tmp, f)).size).toBeGreaterThan(5_000);
    const text = execFileSync('pdftotext', ['-layout', out, '-'], { encoding: 'utf8' });
    expect(text).toContain(alert.alert_id);
    const names: Record<string, string> = { unlicensed: '无证开采（疑似）', out_of_bounds: '越界开采（疑似）', exploration_only: '以采代探（疑似）', expired_permit: '许可证失效后开采（疑似）', closed_site_reactivated: '关闭矿点复采（疑似）', protected_area: '保护区内开采' };
    expect(text).toContain(names[alert.category]);
    expect(text).toContain(`${alert.centroid[0].toFixed(6)}°E, ${alert.centroid[1].toFixed(6)}°N`);
    const gk = gaussKruger(alert.centroid[0], alert.centroid[1]);
    expect(text).toContain(`X ${gk.x.toFixed(2)} m, Y ${gk.y.toFixed(2)} m`);
    expect(text).toMatch(new RegExp(`带号 ${gk.zone}`));
    expect(text).toContain(`${alert.area_ha.toFixed(2)} 公顷 = ${(alert.area_ha * 15).toFixed(1)} 亩`);
    const [lon, lat] = cornerPoints(alert.geometry)[0];
    expect(text).toContain(lon.toFixed(6));
    expect(text).toContain(lat.toFixed(6));
    expect(text).toMatch(/SHA-256: [0-9a-f]{64}/);
    expect(text).toContain(`${alert.detector} ${alert.detector_version}`);
    if (alert.permit_id) expect(text).toContain(alert.permit_id);
    // The font travels inside the PDF.
    const fonts = execFileSync('pdffonts', [out], { encoding: 'utf8' });
    expect(fonts).toMatch(/WenQuanYi.*yes/i);
  }, 60_000);

  it('writes several alerts into one English PDF, and says so when the scenes are gone', async () => {
    const out = join(tmp, 'reports-en.pdf');
    const ids = alerts.slice(0, 3).map((a) => a.alert_id);
    const moved = join(tmp, 'scenes-moved');
    rmSync(moved, { recursive: true, force: true });
    execFileSync('mv', [join(tmp, 'scenes'), moved]);
    try {
      await writeAlertsPdf({ db, alertIds: ids, lang: 'en', out });
    } finally {
      execFileSync('mv', [moved, join(tmp, 'scenes')]);
    }
    const text = execFileSync('pdftotext', [out, '-'], { encoding: 'utf8' });
    for (const id of ids) expect(text).toContain(id);
    expect(text).toMatch(/images not available: .*before\.tif/);
    expect(text).toContain('suspected');
  }, 60_000);

  it('refuses bad input and leaves no file behind', async () => {
    const out = join(tmp, 'bad.pdf');
    await expect(writeAlertsPdf({ db, alertIds: ['OW-NOSUCHALERT'], lang: 'zh', out })).rejects.toThrow(/no alert "OW-NOSUCHALERT"/);
    await expect(writeAlertsPdf({ db, alertIds: [alerts[0].alert_id], lang: 'fr' as 'zh', out })).rejects.toThrow(/--lang: expected zh or en/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('bad.pdf'))).toEqual([]);
  }, 30_000);
});
