/** `orewatch aoi add|list|remove|run`: watched areas and their scheduled scans (server mode). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Geometry } from 'geojson';
import { inputError } from '../../errors/index.js';
import { addAoi, getAoi, listAois, removeAoi, type AoiSources } from '../../pipeline/store/aoi-store.js';
import { serverConfigFromEnv } from '../../workers/server/config.js';
import { syncSchedules } from '../../workers/server/discover-job.js';
import { openServer, runDiscoveryNow, waitForJob } from '../../workers/server/ops.js';
import { waitForScan } from '../../workers/server/submit.js';
import { formatTable } from '../format.js';

const GEOMETRY_TYPES = ['Polygon', 'MultiPolygon'];

/** The area's geometry from a GeoJSON file: a Polygon/MultiPolygon, a Feature, or a FeatureCollection of one feature. */
export function readAreaGeometry(file: string, flag = '--geometry'): Geometry {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw inputError('AOI.BAD_GEOMETRY', `${flag} ${file}: cannot read GeoJSON: ${(error as Error).message}`, file, error);
  }
  const obj = json as { type?: string; geometry?: Geometry; features?: { geometry?: Geometry }[] };
  const geometry = obj.type === 'FeatureCollection'
    ? (obj.features?.length === 1 ? obj.features[0].geometry : undefined)
    : obj.type === 'Feature' ? obj.geometry : (json as Geometry);
  if (obj.type === 'FeatureCollection' && obj.features?.length !== 1) {
    throw inputError('AOI.BAD_GEOMETRY', `${flag} ${file}: expected one feature but the collection has ${obj.features?.length ?? 0}`, file);
  }
  if (!geometry || !GEOMETRY_TYPES.includes(geometry.type)) {
    throw inputError('AOI.BAD_GEOMETRY', `${flag} ${file}: expected a Polygon or MultiPolygon in lon/lat (EPSG:4326) but found ${geometry?.type ?? 'none'}`, file);
  }
  return geometry;
}

const CRON = /^(\S+\s+){4}\S+$|^(\S+\s+){5}\S+$/;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function registerAoi(program: Command): void {
  const aoi = program.command('aoi').description('watched areas: scenes are discovered and scanned on a schedule (server mode)');
  aoi.command('add')
    .description('watch an area: discover new scenes on a schedule and scan each against the best earlier clear scene')
    .argument('<name>', 'a name for the area')
    .requiredOption('--geometry <file>', 'GeoJSON Polygon/MultiPolygon (or a Feature) in lon/lat')
    .option('--cron <expr>', 'when to look for new scenes (cron, 5 or 6 fields)', '0 2 * * *')
    .option('--tz <zone>', 'time zone of the schedule', 'Asia/Shanghai')
    .option('--stac <url>', 'STAC API to search (Sentinel-2 L2A items with COG assets)')
    .option('--collections <ids>', 'STAC collections, comma-separated', 'sentinel-2-l2a')
    .option('--watch <dir>', 'a folder where new GeoTIFF scenes are dropped')
    .option('--max-cloud <percent>', 'largest scene cloud cover to use', '20')
    .option('--max-gap-days <days>', 'oldest earlier scene to pair with, in days before the new one', '400')
    .action(async (name: string, flags: { geometry: string; cron: string; tz: string; stac?: string; collections: string; watch?: string; maxCloud: string; maxGapDays: string }) => {
      if (!/^[\p{L}\p{N}_. -]{1,80}$/u.test(name)) throw inputError('AOI.BAD_NAME', `Expected a name of letters, digits, space, _ . - (up to 80) but received "${name}"`);
      const geometry = readAreaGeometry(flags.geometry);
      if (!CRON.test(flags.cron.trim())) throw inputError('AOI.BAD_CRON', `--cron: expected a cron expression with 5 or 6 fields (e.g. "0 2 * * *") but received "${flags.cron}"`);
      if (!validTimeZone(flags.tz)) throw inputError('AOI.BAD_TZ', `--tz: unknown time zone "${flags.tz}" (e.g. Asia/Shanghai)`);
      const maxCloud = Number(flags.maxCloud);
      if (!(maxCloud >= 0 && maxCloud <= 100)) throw inputError('AOI.BAD_CLOUD', `--max-cloud: expected a percentage 0–100 but received "${flags.maxCloud}"`);
      const maxGapDays = Number(flags.maxGapDays);
      if (!(Number.isInteger(maxGapDays) && maxGapDays >= 1 && maxGapDays <= 3650)) throw inputError('AOI.BAD_GAP', `--max-gap-days: expected whole days 1–3650 but received "${flags.maxGapDays}"`);
      if (!flags.stac && !flags.watch) throw inputError('AOI.NO_SOURCE', 'Give at least one scene source: --stac URL and/or --watch DIR');
      const sources: AoiSources = {};
      if (flags.stac) {
        if (!/^https?:\/\//.test(flags.stac)) throw inputError('AOI.BAD_STAC', `--stac: expected an http(s) URL but received "${flags.stac}"`);
        sources.stac = { url: flags.stac, collections: flags.collections.split(',').map((s) => s.trim()).filter(Boolean) };
      }
      if (flags.watch) sources.folder = flags.watch;
      const server = await openServer(serverConfigFromEnv());
      try {
        const area = await addAoi(server.db, { name, geometry, cron: flags.cron.trim(), timezone: flags.tz, sources, max_cloud: maxCloud, max_gap_days: maxGapDays });
        await syncSchedules(server.db, server.queues);
        process.stdout.write(`watching "${area.name}" (id ${area.aoi_id}): ${area.cron} ${area.timezone}; sources: ${[sources.stac ? `STAC ${sources.stac.url}` : '', sources.folder ? `folder ${sources.folder}` : ''].filter(Boolean).join(', ')}\n`);
      } finally {
        await server.close();
      }
    });
  aoi.command('list')
    .description('list watched areas and their last run')
    .action(async () => {
      const server = await openServer(serverConfigFromEnv());
      try {
        const areas = await listAois(server.db);
        process.stdout.write(`${formatTable(['id', 'name', 'schedule', 'sources', 'last run', 'queued', 'failed'], areas.map((a) => [
          String(a.aoi_id), a.name, `${a.cron} ${a.timezone}`, [a.sources.stac ? 'stac' : '', a.sources.folder ? 'folder' : ''].filter(Boolean).join('+'),
          a.last_run_at?.slice(0, 19) ?? 'never', String((a.last_run?.queued as unknown[] | undefined)?.length ?? '-'), String((a.last_run?.failed as unknown[] | undefined)?.length ?? '-'),
        ]))}\n`);
      } finally {
        await server.close();
      }
    });
  aoi.command('remove')
    .description('stop watching an area (its alerts stay)')
    .argument('<name>')
    .action(async (name: string) => {
      const server = await openServer(serverConfigFromEnv());
      try {
        if (!await removeAoi(server.db, name)) throw inputError('AOI.UNKNOWN', `No watched area named "${name}"`);
        await syncSchedules(server.db, server.queues);
        process.stdout.write(`no longer watching "${name}"\n`);
      } finally {
        await server.close();
      }
    });
  aoi.command('run')
    .description('look for new scenes of an area now (as its schedule would), and queue their scans')
    .argument('<name>')
    .option('--wait', 'wait for the discovery and for the scans it queued; exit 2 if any pair failed')
    .action(async (name: string, flags: { wait?: boolean }) => {
      const server = await openServer(serverConfigFromEnv());
      try {
        const area = await getAoi(server.db, name);
        if (!area) throw inputError('AOI.UNKNOWN', `No watched area named "${name}"`);
        const jobId = await runDiscoveryNow(server, area.aoi_id);
        if (!flags.wait) {
          process.stdout.write(`discovery queued: ${jobId}\n`);
          return;
        }
        const summary = (await waitForJob(server.queues.discover, jobId)) as { found: number; queued: string[]; failed: { scene: string; message: string }[]; skipped: unknown[]; waiting: unknown[]; rejected: { file: string; message: string }[] };
        const failed: string[] = [...summary.failed.map((f) => `${f.scene}: ${f.message}`), ...summary.rejected.map((r) => `${r.file}: ${r.message}`)];
        let done = 0;
        for (const scanId of summary.queued) {
          try {
            await waitForScan(server.db, scanId, { warn: (m) => process.stderr.write(`orewatch: ${m}\n`) });
            done++;
          } catch (error) {
            failed.push(`${scanId}: ${(error as Error).message}`);
          }
        }
        process.stdout.write(`"${name}": ${summary.found} scenes found, ${summary.queued.length} scans queued, ${done} done, ${failed.length} failed, ${summary.skipped.length} skipped, ${summary.waiting.length} waiting for an earlier scene\n`);
        for (const f of failed) process.stdout.write(`  failed: ${f}\n`);
        if (failed.length > 0) process.exitCode = 2;
      } finally {
        await server.close();
      }
    });
}
