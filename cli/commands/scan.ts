/** `orewatch scan`: the public one-shot contract of DESIGN.md. */
import type { Command } from 'commander';
import { inputError } from '../../errors/index.js';
import type { Detector } from '../../models/detector.js';
import { createDetector, DEFAULT_DETECTOR, embeddedScanThreads } from '../../models/registry.js';
import { runScan, writeAtomically, type ScanOptions, type ScanOutcome } from '../../workers/scan-runner.js';
import { readAreaGeometry } from './aoi.js';
import { serverConfigFromEnv, serverModeRequested } from '../../workers/server/config.js';
import { openServer } from '../../workers/server/ops.js';
import { queueScan, scanOutcome, waitForScan } from '../../workers/server/submit.js';
import { createProgress } from '../progress.js';
import { formatAlertTable } from '../format.js';

export interface ScanFlags {
  before: string;
  after: string;
  permits: string;
  closedSites?: string;
  protectedAreas?: string;
  jurisdictions?: string;
  beforeDate?: string;
  afterDate?: string;
  bands?: string;
  permitsCrs?: string;
  dataDir: string;
  out?: string;
  mmuHa?: string;
  detector: string;
  /** --model: an ONNX model file with manifest.json beside it (onnx detector). */
  model?: string;
  quiet?: boolean;
  windowSize?: string;
  /** --aoi: scan only the windows this area (GeoJSON, EPSG:4326) touches. */
  aoi?: string;
  /** --timings: write the per-stage seconds as JSON. */
  timings?: string;
  /** Server mode: print the scan id and return instead of waiting (commander's --no-wait). */
  wait: boolean;
}

function parseBands(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw inputError('SCAN.BAD_BANDS', `--bands: expected comma-separated band names (e.g. B02,B03,B04,B08) but received "${value}"`);
  return names;
}

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('scan a before/after scene pair against reference layers and open or update alerts')
    .requiredOption('--before <scene>', 'earlier scene: GeoTIFF/COG path or http(s) URL')
    .requiredOption('--after <scene>', 'later scene: GeoTIFF/COG path or http(s) URL')
    .requiredOption('--permits <file>', 'mining and exploration permits: GeoJSON, KML, zipped Shapefile or CGCS2000 corner-point CSV')
    .option('--closed-sites <file>', 'closed (banned) mining sites')
    .option('--protected-areas <file>', 'ecological red lines, nature reserves')
    .option('--jurisdictions <file>', 'administrative divisions with `code` and `name` (alerts are routed to the county)')
    .option('--before-date <YYYY-MM-DD>', 'acquisition date of the earlier scene (else from the file)')
    .option('--after-date <YYYY-MM-DD>', 'acquisition date of the later scene (else from the file)')
    .option('--bands <names>', 'band names in file order when the file has no band descriptions, e.g. B02,B03,B04,B08')
    .option('--permits-crs <EPSG:NNNN>', 'CRS of permit corner coordinates without a zone prefix, e.g. EPSG:4547')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .option('--out <alerts.geojson>', 'write the alerts of this scan as GeoJSON (EPSG:4326)')
    .option('--mmu-ha <ha>', 'minimum mapping unit in hectares', undefined)
    .option('--detector <name>', 'change detector: onnx (the trained network, default) or spectral', DEFAULT_DETECTOR)
    .option('--model <file.onnx>', 'onnx detector: another model file, with its manifest.json beside it')
    .option('--quiet', 'no progress bar or table; only the summary line')
    .option('--window-size <px>', 'side of the detection windows in pixels (one server job each)', '512')
    .option('--aoi <area.geojson>', 'scan only the windows this area touches (a Polygon or MultiPolygon in EPSG:4326); over http(s) only its tiles are fetched')
    .option('--timings <file.json>', 'write the seconds of each stage (read, mask, detect, vectorize, classify, store) as JSON')
    .option('--no-wait', 'server mode (REDIS_URL and DATABASE_URL set): print the scan id and return at once')
    .action(async (flags: ScanFlags) => {
      if (flags.detector !== 'spectral' && flags.detector !== 'onnx') throw inputError('SCAN.BAD_DETECTOR', `--detector: expected "spectral" or "onnx" but received "${flags.detector}"`);
      if (flags.model !== undefined && flags.detector !== 'onnx') throw inputError('SCAN.BAD_MODEL', `--model: applies to --detector onnx only, but the detector is "${flags.detector}"`);
      if (flags.model !== undefined && serverModeRequested()) throw inputError('SCAN.BAD_MODEL', '--model: server workers run the model of their own release; install the model there instead of passing --model');
      const mmu = flags.mmuHa === undefined ? undefined : Number(flags.mmuHa);
      if (mmu !== undefined && !(mmu > 0)) throw inputError('SCAN.BAD_MMU', `--mmu-ha: expected a positive number of hectares but received "${flags.mmuHa}"`);
      const windowSize = Number(flags.windowSize ?? 512);
      if (!Number.isInteger(windowSize) || windowSize < 64 || windowSize > 8192) throw inputError('SCAN.BAD_WINDOW_SIZE', `--window-size: expected an integer from 64 to 8192 pixels but received "${flags.windowSize}"`);
      const detector = createDetector(flags.detector, {
        modelPath: flags.model, ...(flags.detector === 'onnx' && !serverModeRequested() ? { threads: embeddedScanThreads() } : {}),
      });
      const options: ScanOptions = {
        before: flags.before, after: flags.after, permits: flags.permits, closedSites: flags.closedSites,
        protectedAreas: flags.protectedAreas, jurisdictions: flags.jurisdictions, beforeDate: flags.beforeDate,
        afterDate: flags.afterDate, bands: parseBands(flags.bands), permitsCrs: flags.permitsCrs, dataDir: flags.dataDir,
        databaseUrl: process.env.DATABASE_URL || undefined, dbSchema: process.env.OREWATCH_DB_SCHEMA || undefined, out: flags.out, rules: mmu === undefined ? {} : { mmuHa: mmu }, windowSize,
        region: flags.aoi === undefined ? null : readAreaGeometry(flags.aoi, '--aoi'),
      };
      if (serverModeRequested()) {
        await scanOnServer(options, detector, flags);
        return;
      }
      const progress = flags.quiet ? undefined : createProgress('scan');
      let outcome: ScanOutcome;
      try {
        outcome = await runScan(options, detector, progress?.update);
      } finally {
        progress?.stop();
      }
      printScanSummary(outcome, Boolean(flags.quiet));
      if (flags.timings) writeTimings(flags.timings, outcome);
    });
}

/** Server mode: queue the scan for the workers, then (unless --no-wait) wait and write --out. */
async function scanOnServer(options: ScanOptions, detector: Detector, flags: ScanFlags): Promise<void> {
  const started = performance.now();
  const server = await openServer(serverConfigFromEnv());
  try {
    const queued = await queueScan(server.db, server.queues, options, detector);
    if (!flags.wait) {
      process.stdout.write(`${queued.scanId}\n`);
      return;
    }
    if (!flags.quiet) process.stderr.write(`scan ${queued.scanId} ${queued.existing ? 'is already running; waiting for it' : 'queued; waiting for the workers'}\n`);
    const progress = flags.quiet ? undefined : createProgress('scan', 0);
    let scan;
    try {
      scan = await waitForScan(server.db, queued.scanId, {
        progress: progress?.update,
        warn: (message) => process.stderr.write(`orewatch: ${message}\n`),
      });
    } finally {
      progress?.stop();
    }
    const outcome = await scanOutcome(server.db, scan, options.out, (performance.now() - started) / 1000);
    printScanSummary(outcome, Boolean(flags.quiet));
    if (flags.timings) writeTimings(flags.timings, outcome);
  } finally {
    await server.close();
  }
}

/**
 * --timings: seconds per stage. Embedded: wall seconds of each stage on the scan's thread, with
 * `read` the reads' own time (they overlap detection) and `read_wait` what the scan waited for
 * them. Server mode: read, mask and detect summed over all window jobs, then vectorize, classify
 * and store of the finalize job; `total` is the wall time seen by this command.
 */
function writeTimings(file: string, o: ScanOutcome): void {
  writeAtomically(file, `${JSON.stringify({ scanId: o.scanId, grid: o.grid, windows: o.windows, seconds: o.seconds }, null, 2)}\n`);
}

export function printScanSummary(o: ScanOutcome, quiet: boolean): void {
  if (!quiet && o.alerts.length > 0) process.stdout.write(`${formatAlertTable(o.alerts)}\n`);
  const masked = Object.entries(o.maskCounts).filter(([k, v]) => k !== 'clear' && v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  process.stdout.write(
    `scan ${o.scanId}: ${o.grid.width}×${o.grid.height} px in ${o.windows} windows, ${o.sitesFound} change sites → ` +
    `${o.alerts.length} alerts (${o.opened} new, ${o.updated} updated), ${o.licensed} licensed activity` +
    `${masked ? `; masked px: ${masked}` : ''}; ${o.seconds.total.toFixed(1)} s` +
    `${o.out ? `\nalerts written to ${o.out}` : ''}\n`,
  );
}
