/**
 * Nightly scans of watched areas. At each area's scheduled time (cron, time zone; BullMQ job
 * schedulers) a discover job lists the scenes its sources offer — a STAC API search and/or a
 * watched folder — records them, pairs each scene not yet handled with the best earlier clear
 * scene (pipeline/discovery/pairing.ts), and queues a scan of the pair over the area. Each later
 * scene is claimed once per detector and rules version in the database, so it is never scanned
 * twice, whatever runs twice. A scene that cannot be read fails its own pair, with its reason;
 * the other pairs go on.
 */
import { isOrewatchError, OrewatchError } from '../../errors/index.js';
import { createDetector, DEFAULT_DETECTOR } from '../../models/registry.js';
import { planPairs } from '../../pipeline/discovery/pairing.js';
import { searchStac } from '../../pipeline/discovery/stac.js';
import type { SceneCandidate } from '../../pipeline/discovery/types.js';
import { listWatchedFolder } from '../../pipeline/discovery/watched-folder.js';
import {
  claimedScenes, claimScene, getAoi, knownScenes, listAois, recordAoiRun, recordRejectedScene, recordScenes, type Aoi, type SceneClaimKey,
} from '../../pipeline/store/aoi-store.js';
import type { Database } from '../../pipeline/store/database.js';
import { RULES_VERSION } from '../../pipeline/types.js';
import { log } from './log.js';
import type { Queues } from './queues.js';
import type { JobContext } from './scan-jobs.js';
import { queueScan } from './submit.js';

/** How far back, beyond the oldest usable pair gap, a STAC search looks for new scenes. */
const NEW_SCENE_DAYS = 60;

export interface DiscoverySummary {
  aoi: string;
  found: number;
  rejected: { file: string; code: string; message: string }[];
  queued: string[];
  failed: { scene: string; code: string; message: string }[];
  skipped: { scene: string; reason: string }[];
  waiting: { scene: string; reason: string }[];
}

class AlreadyClaimed extends Error {}

async function candidatesOf(aoi: Aoi): Promise<{ candidates: SceneCandidate[]; rejected: DiscoverySummary['rejected'] }> {
  const candidates: SceneCandidate[] = [];
  const rejected: DiscoverySummary['rejected'] = [];
  if (aoi.sources.stac) {
    const from = new Date(Date.now() - (aoi.max_gap_days + NEW_SCENE_DAYS) * 86_400_000);
    candidates.push(...await searchStac({
      apiUrl: aoi.sources.stac.url, collections: aoi.sources.stac.collections, intersects: aoi.geometry, datetime: { from }, maxCloudCover: aoi.max_cloud,
    }));
  }
  if (aoi.sources.folder) {
    const listed = await listWatchedFolder(aoi.sources.folder);
    candidates.push(...listed.candidates);
    rejected.push(...listed.rejected);
  }
  return { candidates, rejected };
}

/** One discovery run for one area: find, record, pair, claim, queue. */
export async function discoverForArea(ctx: Pick<JobContext, 'db' | 'queues'>, aoiId: number): Promise<DiscoverySummary> {
  const { db, queues } = ctx;
  const aoi = await getAoi(db, aoiId);
  if (!aoi) throw new OrewatchError('AOI.UNKNOWN', `No watched area with id ${aoiId}`, { kind: 'input' });
  const t0 = performance.now();
  const { candidates, rejected } = await candidatesOf(aoi);
  await recordScenes(db, aoi.aoi_id, candidates);
  for (const r of rejected) await recordRejectedScene(db, aoi.aoi_id, r.file, { code: r.code, message: r.message });
  const detector = createDetector(process.env.OREWATCH_DETECTOR || DEFAULT_DETECTOR);
  const key: SceneClaimKey = { aoiId: aoi.aoi_id, detector: detector.name, detectorVersion: detector.version, rulesVersion: RULES_VERSION };
  const history = await knownScenes(db, aoi.aoi_id);
  const claimed = await claimedScenes(db, key);
  const fresh = history.filter((s) => !claimed.has(s.key));
  const summary: DiscoverySummary = { aoi: aoi.name, found: candidates.length, rejected, queued: [], failed: [], skipped: [], waiting: [] };
  for (const pair of planPairs(fresh, history, aoi.geometry, { maxCloudCover: aoi.max_cloud, maxGapDays: aoi.max_gap_days })) {
    const scene = pair.after;
    if (pair.kind === 'skipped') {
      const reason = pair.skipped.message;
      // Too cloudy or outside the area is final; "no earlier scene yet" may change when an older scene turns up.
      if (pair.skipped.code !== 'no-before') {
        await claimScene(db, key, scene.key, { beforeKey: null, scanId: null, outcome: 'skipped', reason });
        summary.skipped.push({ scene: scene.key, reason });
      } else {
        summary.waiting.push({ scene: scene.key, reason });
      }
      continue;
    }
    const before = pair.before;
    try {
      const queued = await queueScan(db, queues, {
        before: before.uri, after: scene.uri, region: aoi.geometry, origin: 'schedule', aoiId: aoi.aoi_id,
      }, detector, async (tx, scanId) => {
        if (!await claimScene(tx, key, scene.key, { beforeKey: before.key, scanId, outcome: 'queued' })) throw new AlreadyClaimed();
      });
      summary.queued.push(queued.scanId);
      log('info', 'scan queued for a new scene', { stage: 'discover', aoi: aoi.name, scene: scene.key, before: before.key, scanId: queued.scanId });
    } catch (error) {
      if (error instanceof AlreadyClaimed) continue;
      if (isOrewatchError(error) && error.kind === 'input') {
        // This pair cannot be scanned (a corrupt or unreadable scene): record why, go on with the others.
        await claimScene(db, key, scene.key, { beforeKey: before.key, scanId: null, outcome: 'failed', reason: `${error.message} [${error.code}]` });
        summary.failed.push({ scene: scene.key, code: error.code, message: error.message });
        log('error', 'pair refused', { stage: 'discover', aoi: aoi.name, scene: scene.key, code: error.code, error: error.message });
        continue;
      }
      throw error;
    }
  }
  await recordAoiRun(db, aoi.aoi_id, { ...summary, seconds: (performance.now() - t0) / 1000 });
  log('info', 'discovery done', { stage: 'discover', aoi: aoi.name, found: summary.found, queued: summary.queued.length, failed: summary.failed.length, rejected: rejected.length, durationMs: Math.round(performance.now() - t0) });
  return summary;
}

/** BullMQ job schedulers ← the enabled areas in the store (added, changed, removed). */
export async function syncSchedules(db: Database, queues: Queues): Promise<void> {
  const areas = (await listAois(db)).filter((a) => a.enabled);
  const wanted = new Set<string>();
  for (const aoi of areas) {
    const id = `aoi-${aoi.aoi_id}`;
    wanted.add(id);
    await queues.discover.upsertJobScheduler(id, { pattern: aoi.cron, tz: aoi.timezone }, { name: 'discover', data: { aoiId: aoi.aoi_id, trigger: 'schedule' } });
  }
  for (const scheduler of await queues.discover.getJobSchedulers(0, 1000)) {
    if (scheduler.key && scheduler.key.startsWith('aoi-') && !wanted.has(scheduler.key)) await queues.discover.removeJobScheduler(scheduler.key);
  }
}
