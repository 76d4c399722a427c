/**
 * `orewatch export` (map evidence: per-alert PDF reports, bulk GeoJSON / KML / zipped Shapefile /
 * CSV) and `orewatch evidence verify` (has anything in an export changed since?).
 *
 * Every flag is checked before the store is opened; an export is written to temporary files beside
 * the output and renamed into place with its manifest (`<out>.manifest.json`) only when all of it
 * was made, so bad input or a failure leaves nothing behind.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import {
  describeCrs, EXPORT_FORMATS, GIS_FORMATS, gaussKrugerCrsFor, type ExportCrs, type ExportFormat, type GisFormat,
} from '../../pipeline/export/index.js';
import { LANGS, type Lang } from '../../pipeline/export/labels.js';
import {
  checkFile, describeMember, MANIFEST_SUFFIX, MANIFEST_VERSION, parseManifest, type ExportManifest, type FileCheck, type ManifestFile,
} from '../../pipeline/export/manifest.js';
import { queryAlerts, type AlertFilters, type ExportAlert } from '../../pipeline/store/alert-query.js';
import { openDatabase } from '../../pipeline/store/database.js';
import { migrate } from '../../pipeline/store/migrations.js';
import { CATEGORIES, STATUSES, type AlertStatus, type Category } from '../../pipeline/types.js';
import { scopeCovers, scopeOf } from '../../api/scope.js';
import { findUserForLogin } from '../../api/users.js';
import { VERSION } from '../version.js';

interface ExportFlags {
  format?: string;
  alert?: string[];
  county?: string;
  from?: string;
  to?: string;
  category?: string;
  status?: string;
  lang: string;
  crs: string;
  dataDir: string;
  out?: string;
  asUser?: string;
  quiet?: boolean;
}

/** The checked request: what to select, what to write, where. */
interface ExportRequest {
  format: ExportFormat;
  filters: AlertFilters;
  lang: Lang;
  /** `wgs84`, or Gauss-Krüger with an optional fixed zone (else chosen from the data). */
  crs: { kind: 'wgs84' } | { kind: 'cgcs2000-gk'; zone?: number };
  out: string;
  dataDir: string;
  /** Export as this user: only alerts of their jurisdiction (as the triage app would show them). */
  asUser?: string;
}

const expected = (what: string, flag: string, value: string) => `Expected ${what} for ${flag} but received "${value}"`;

function isoDate(flag: string, value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ok = m !== null && (() => {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return d.toISOString().slice(0, 10) === value;
  })();
  if (!ok) throw inputError('EXPORT.BAD_DATE', expected('a date YYYY-MM-DD', flag, value));
  return value;
}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw inputError('EXPORT.BAD_FILTER', expected(`one or more of ${allowed.join(', ')}`, flag, value));
  for (const item of items) {
    if (!allowed.includes(item as T)) throw inputError('EXPORT.BAD_FILTER', expected(`one or more of ${allowed.join(', ')} (comma-separated)`, flag, item));
  }
  return [...new Set(items)] as T[];
}

/** Checks every flag, without touching the store or the disk beyond looking. */
export function parseExportFlags(flags: ExportFlags): ExportRequest {
  if (flags.format === undefined) throw inputError('EXPORT.BAD_FORMAT', `--format is required: one of ${EXPORT_FORMATS.join(', ')}`);
  if (!EXPORT_FORMATS.includes(flags.format as ExportFormat)) {
    throw inputError('EXPORT.BAD_FORMAT', expected(`one of ${EXPORT_FORMATS.join(', ')}`, '--format', flags.format));
  }
  const format = flags.format as ExportFormat;
  if (!LANGS.includes(flags.lang as Lang)) throw inputError('EXPORT.BAD_LANG', expected('zh or en', '--lang', flags.lang));

  const crsMatch = /^(wgs84|cgcs2000-gk)(?::(\d{2}))?$/.exec(flags.crs);
  if (!crsMatch || (crsMatch[1] === 'wgs84' && crsMatch[2] !== undefined)) {
    throw inputError('EXPORT.BAD_CRS', expected('wgs84, cgcs2000-gk or cgcs2000-gk:<zone 25–45>', '--crs', flags.crs));
  }
  let crs: ExportRequest['crs'] = { kind: 'wgs84' };
  if (crsMatch[1] === 'cgcs2000-gk') {
    if (format !== 'shp') {
      throw inputError('EXPORT.BAD_CRS', `--crs ${flags.crs} applies to --format shp only (GeoJSON and KML are WGS 84 by definition; CSV and PDF carry both) but --format is "${format}"`);
    }
    const zone = crsMatch[2] === undefined ? undefined : Number(crsMatch[2]);
    if (zone !== undefined && (zone < 25 || zone > 45)) throw inputError('EXPORT.BAD_CRS', expected('a 3-degree zone 25–45', '--crs', flags.crs));
    crs = { kind: 'cgcs2000-gk', zone };
  }

  if (flags.out === undefined || flags.out === '') throw inputError('EXPORT.BAD_OUT', '--out is required: the file to write');
  const out = resolve(flags.out);
  const folder = dirname(out);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw inputError('EXPORT.BAD_OUT', `--out "${flags.out}": the folder ${folder} does not exist`, flags.out);
  }
  if (existsSync(out) && statSync(out).isDirectory()) throw inputError('EXPORT.BAD_OUT', `--out "${flags.out}" is a folder; give a file name`, flags.out);
  const required = format === 'pdf' ? '.pdf' : GIS_FORMATS[format].requiredExtension;
  if (required && extname(out).toLowerCase() !== required) {
    throw inputError('EXPORT.BAD_OUT', expected(`a file name ending in ${required} (--format ${format})`, '--out', flags.out), flags.out);
  }

  const filters: AlertFilters = {};
  if (flags.county !== undefined) {
    if (!/^\d{6}$/.test(flags.county)) throw inputError('EXPORT.BAD_FILTER', expected('a 6-digit administrative division code (e.g. 360728, or 360700 for a city)', '--county', flags.county));
    filters.county = flags.county;
  }
  if (flags.from !== undefined) filters.from = isoDate('--from', flags.from);
  if (flags.to !== undefined) filters.to = isoDate('--to', flags.to);
  if (filters.from && filters.to && filters.from > filters.to) {
    throw inputError('EXPORT.BAD_DATE', `--from ${filters.from} is after --to ${filters.to}`);
  }
  if (flags.category !== undefined) filters.category = list<Category>('--category', flags.category, CATEGORIES);
  if (flags.status !== undefined) filters.status = list<AlertStatus>('--status', flags.status, STATUSES);
  if (flags.alert !== undefined) {
    const named = Object.keys(filters).map((k) => ({ county: '--county', from: '--from', to: '--to', category: '--category', status: '--status' })[k]);
    if (named.length > 0) throw inputError('EXPORT.BAD_FILTER', `--alert selects alerts by id and cannot be combined with ${named.join(', ')}`);
    const ids = flags.alert.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    const bad = ids.find((id) => !/^[A-Za-z0-9_-]{1,64}$/.test(id));
    if (ids.length === 0 || bad !== undefined) throw inputError('EXPORT.BAD_ALERT', expected('an alert id like OW-056D40F8F931', '--alert', bad ?? flags.alert.join(',')));
    filters.alertIds = [...new Set(ids)];
  }
  return { format, filters, lang: flags.lang as Lang, crs, out, dataDir: flags.dataDir, ...(flags.asUser ? { asUser: flags.asUser } : {}) };
}

/** A temporary name beside `path` (same folder, so the final rename is atomic), hidden from listings. */
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

function describeQuery(filters: AlertFilters, lang: Lang): string {
  const parts = Object.entries(filters).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  const what = lang === 'zh' ? 'orewatch 疑似违法开采线索' : 'orewatch suspected illegal mining alerts';
  return parts.length === 0 ? what : `${what} (${parts.join('; ')})`;
}

export interface ExportResult {
  out: string;
  manifestPath: string;
  manifest: ExportManifest;
}

/** Runs a checked export request: query, build, write atomically with the manifest. */
export async function runExport(req: ExportRequest, now: () => Date = () => new Date()): Promise<ExportResult> {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (!databaseUrl && !existsSync(join(resolve(req.dataDir), 'pgdata'))) {
    throw inputError('EXPORT.NO_STORE', `--data-dir "${req.dataDir}" holds no orewatch store (run a scan into it first, or set DATABASE_URL)`, req.dataDir);
  }
  const db = await openDatabase({ dataDir: req.dataDir, databaseUrl, schema: process.env.OREWATCH_DB_SCHEMA || undefined });
  const temps: string[] = [];
  try {
    await migrate(db);
    let alerts = await queryAlerts(db, req.filters);
    if (req.asUser !== undefined) {
      // The user's jurisdiction applies as in the triage app: an alert outside it is as absent.
      const user = await findUserForLogin(db, req.asUser);
      if (!user) throw inputError('EXPORT.UNKNOWN_USER', `--as-user: no user "${req.asUser}" in the store at ${db.location}`);
      const scope = scopeOf(user.principal);
      alerts = alerts.filter((a) => scopeCovers(scope, a.county_code));
    }
    if (req.filters.alertIds) {
      const found = new Set(alerts.map((a) => a.alert_id));
      const missing = req.filters.alertIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw inputError('EXPORT.UNKNOWN_ALERT', `--alert: no alert ${missing.map((m) => `"${m}"`).join(', ')} in the store at ${db.location}`);
    }
    let crs: ExportCrs = { kind: 'wgs84' };
    if (req.crs.kind === 'cgcs2000-gk') {
      const chosen = gaussKrugerCrsFor(alerts, req.crs.zone);
      if (chosen === null) {
        throw inputError('EXPORT.BAD_CRS', alerts.length === 0
          ? '--crs cgcs2000-gk: no alerts match, so there is no longitude to choose a zone from; name one (--crs cgcs2000-gk:38)'
          : '--crs cgcs2000-gk: the alerts lie outside the CGCS2000 3-degree zones 25–45 (73.5°E–136.5°E)');
      }
      crs = chosen;
    }

    const out = req.out;
    const dataTemp = tempPath(out);
    temps.push(dataTemp);
    let entry: ManifestFile;
    if (req.format === 'pdf') {
      if (alerts.length === 0) throw inputError('EXPORT.NO_ALERTS', 'No alerts match the filters: a PDF needs at least one; nothing written');
      // Loaded on demand: the PDF renderer (pdfkit, fonts, image chips) is heavy and only this path needs it.
      const { writeAlertsPdf } = await import('../../workers/export/pdf-report.js');
      await writeAlertsPdf({ db, alertIds: alerts.map((a) => a.alert_id), lang: req.lang, out: dataTemp });
      const bytes = readFileSync(dataTemp);
      entry = { path: basename(out), media_type: 'application/pdf', ...describeMember(basename(out), bytes) };
    } else {
      const spec = GIS_FORMATS[req.format as GisFormat];
      const built = spec.build(alerts, { baseName: basename(out, extname(out)), lang: req.lang, title: describeQuery(req.filters, req.lang), crs });
      writeFileSync(dataTemp, built.bytes, { flag: 'wx' });
      entry = {
        path: basename(out), media_type: built.mediaType, ...describeMember(basename(out), built.bytes),
        ...(built.members ? { members: built.members.map((m) => describeMember(m.name, m.bytes)) } : {}),
      };
    }
    const manifest = buildManifest(req, db.kind === 'pglite' ? `PGlite ${db.location}` : `PostgreSQL ${db.location}`, alerts, crs, entry, now());
    const manifestPath = `${out}${MANIFEST_SUFFIX}`;
    const manifestTemp = tempPath(manifestPath);
    temps.push(manifestTemp);
    writeFileSync(manifestTemp, `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    renameSync(dataTemp, out);
    renameSync(manifestTemp, manifestPath);
    return { out, manifestPath, manifest };
  } finally {
    for (const t of temps) rmSync(t, { force: true });
    await db.close();
  }
}

function buildManifest(req: ExportRequest, store: string, alerts: ExportAlert[], crs: ExportCrs, file: ManifestFile, at: Date): ExportManifest {
  return {
    manifest_version: MANIFEST_VERSION,
    generator: 'orewatch',
    orewatch_version: VERSION,
    created_at: at.toISOString(),
    format: req.format,
    lang: req.lang,
    crs: req.format === 'pdf' ? { epsg: 4326, name: 'WGS 84 and CGCS2000 Gauss-Kruger (per alert, in the report)' } : describeCrs(crs),
    query: { filters: req.filters, all_alerts: Object.keys(req.filters).length === 0 && req.asUser === undefined, ...(req.asUser ? { as_user: req.asUser } : {}), store },
    alert_count: alerts.length,
    alert_ids: alerts.map((a) => a.alert_id),
    files: [file],
  };
}

/** Every `*.manifest.json` under `dir`, sorted; symbolic links are not followed. */
function findManifests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findManifests(path));
    else if (entry.isFile() && entry.name.endsWith(MANIFEST_SUFFIX)) found.push(path);
  }
  return found.sort();
}

export interface VerifyReport {
  manifests: { path: string; problem?: string; checks: FileCheck[] }[];
  ok: boolean;
}

/** Checks every manifest in `target` (a folder, searched recursively, or one manifest file). */
export function verifyEvidence(target: string): VerifyReport {
  if (!existsSync(target)) throw inputError('EVIDENCE.NOT_FOUND', `evidence verify: "${target}" does not exist`, target);
  const manifests = statSync(target).isDirectory() ? findManifests(target) : [target];
  const report: VerifyReport = { manifests: [], ok: manifests.length > 0 };
  for (const path of manifests) {
    const parsed = parseManifest(readFileSync(path, 'utf8'));
    if ('problem' in parsed) {
      report.manifests.push({ path, problem: parsed.problem, checks: [] });
      report.ok = false;
      continue;
    }
    const checks = parsed.manifest.files.map((f) => {
      let bytes: Uint8Array | null = null;
      try {
        bytes = readFileSync(join(dirname(path), f.path));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
      }
      return checkFile(f, bytes);
    });
    if (checks.some((c) => c.status !== 'OK')) report.ok = false;
    report.manifests.push({ path, checks });
  }
  return report;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export map evidence: per-alert PDF reports or bulk GeoJSON / KML / zipped Shapefile / CSV, with a manifest (<out>.manifest.json) for `orewatch evidence verify`; without --alert or filters, every alert in the store')
    .option('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`)
    .option('--alert <id>', 'export this alert (repeat, or comma-separate, for several)', collect)
    .option('--county <code>', 'administrative division code: a county, or a city / province code for all its counties')
    .option('--from <YYYY-MM-DD>', 'alerts last seen on or after this day')
    .option('--to <YYYY-MM-DD>', 'alerts last seen on or before this day')
    .option('--category <c[,c]>', `categories: ${CATEGORIES.join(', ')}`)
    .option('--status <s[,s]>', `statuses: ${STATUSES.join(', ')}`)
    .option('--lang <zh|en>', 'language of the PDF report and of KML names', 'zh')
    .option('--crs <crs>', 'Shapefile coordinates: wgs84, or cgcs2000-gk (3-degree Gauss-Krüger zone chosen from the data; cgcs2000-gk:38 to name it)', 'wgs84')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .option('--out <file>', 'file to write (the Shapefile as a .zip); the manifest goes to <file>.manifest.json')
    .option('--as-user <username>', 'export only what this user may see (their jurisdiction, as in the triage app)')
    .option('--quiet', 'print nothing on success')
    .action(async (flags: ExportFlags) => {
      const t0 = performance.now();
      const req = parseExportFlags(flags);
      const { out, manifestPath, manifest } = await runExport(req);
      if (flags.quiet) return;
      const crs = manifest.crs.zone === undefined ? '' : `, ${manifest.crs.name}, EPSG:${manifest.crs.epsg}`;
      const size = manifest.files[0].bytes;
      process.stdout.write(`exported ${manifest.alert_count} alert(s) as ${manifest.format}${crs} to ${out} ` +
        `(${size < 10_240 ? `${size} B` : `${(size / 1024).toFixed(0)} KiB`}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
        `manifest: ${manifestPath} (sha256 ${manifest.files[0].sha256.slice(0, 16)}…)\n`);
    });

  program
    .command('evidence')
    .description('check exported evidence')
    .command('verify')
    .description('check every export manifest in DIR (recursively): each file listed is OK, CHANGED or MISSING; exit 0 only when all are OK')
    .argument('<dir>', 'folder holding exports and their .manifest.json (or one manifest file)')
    .action((dir: string) => {
      const report = verifyEvidence(dir);
      const root = statSync(dir).isDirectory() ? dir : dirname(dir);
      const lines: string[] = [];
      let ok = 0, bad = 0;
      for (const m of report.manifests) {
        const where = relative(root, dirname(m.path)) || '.';
        if (m.problem !== undefined) {
          lines.push(`INVALID  ${relative(root, m.path)}: ${m.problem}`);
          bad++;
          continue;
        }
        for (const c of m.checks) {
          lines.push(`${c.status.padEnd(8)} ${join(where, c.path)}${c.status === 'OK' ? '' : `: ${c.detail}`}`);
          if (c.status === 'OK') ok++; else bad++;
        }
      }
      if (report.manifests.length === 0) {
        process.stderr.write(`orewatch: no *${MANIFEST_SUFFIX} found in ${dir}: nothing to verify\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`${lines.join('\n')}\n${report.manifests.length} manifest(s): ${ok} file(s) OK, ${bad} not\n`);
      process.exitCode = report.ok ? 0 : 2;
    });
}
