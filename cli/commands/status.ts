/** `orewatch status` and `orewatch retry`: server-mode operations. */
import type { Command } from 'commander';
import { serverConfigFromEnv } from '../../workers/server/config.js';
import { openServer, retryFailed, serverStatus, type StatusReport } from '../../workers/server/ops.js';
import { formatTable } from '../format.js';

function age(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  return seconds < 120 ? `${Math.round(seconds)} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

export function formatStatus(r: StatusReport): string {
  const parts: string[] = [];
  parts.push('Queues', formatTable(['queue', 'waiting', 'active', 'delayed', 'failed', 'completed'],
    Object.entries(r.queues).map(([q, c]) => [q, String((c.waiting ?? 0) + (c.prioritized ?? 0)), String(c.active ?? 0), String(c.delayed ?? 0), String(c.failed ?? 0), String(c.completed ?? 0)])));
  parts.push('', `Running scans (${r.running.length})`, r.running.length === 0 ? '  none' : formatTable(['scan', 'status', 'windows', 'started', 'after scene'],
    r.running.map((s) => [s.scan_id, s.status, `${s.windows_done}/${s.windows_total}`, s.started_at.slice(0, 19), s.after_uri])));
  parts.push('', `Workers (${r.workers.filter((w) => w.alive).length} alive)`, r.workers.length === 0 ? '  none registered' : formatTable(['worker', 'alive', 'concurrency', 'heartbeat', 'canary', 'jobs'],
    r.workers.map((w) => [w.worker_id, w.alive ? 'yes' : 'no', String(w.concurrency), `${age(w.heartbeat_age_s)} ago`, w.canary_age_s === null ? '-' : `${age(w.canary_age_s)} ago`, String(w.jobs_done)])));
  if (r.failedJobs.length > 0) {
    parts.push('', `Failed jobs (${r.failedJobs.length}; retry with \`orewatch retry\`)`, formatTable(['queue', 'job', 'attempts', 'reason'],
      r.failedJobs.map((j) => [j.queue, j.id, String(j.attempts), j.reason])));
  }
  if (r.failedScans.length > 0) {
    parts.push('', 'Failed scans', formatTable(['scan', 'code', 'reason'], r.failedScans.map((s) => [s.scan_id, s.error?.code ?? '-', s.error?.message ?? '-'])));
  }
  if (r.failedPairs.length > 0 || r.rejectedScenes.length > 0) {
    parts.push('', 'Watched areas: scenes that could not be used', formatTable(['area', 'scene', 'reason'], [
      ...r.failedPairs.map((p) => [p.aoi, p.scene_key, p.reason]),
      ...r.rejectedScenes.map((s) => [s.aoi, s.uri, `${s.error.message} [${s.error.code}]`]),
    ]));
  }
  return `${parts.join('\n')}\n`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('server mode: queue depths, running scans with progress, workers, failed jobs and their reasons')
    .option('--json', 'print the report as JSON')
    .action(async (flags: { json?: boolean }) => {
      const server = await openServer(serverConfigFromEnv());
      try {
        const report = await serverStatus(server);
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
      } finally {
        await server.close();
      }
    });
  program
    .command('retry')
    .description('server mode: retry failed jobs and resume failed scans (one scan with --scan, else all that failed for a transient reason)')
    .option('--scan <id>', 'retry this scan only')
    .action(async (flags: { scan?: string }) => {
      const server = await openServer(serverConfigFromEnv());
      try {
        const r = await retryFailed(server, flags.scan);
        process.stdout.write(`retried ${r.jobs} job(s); resumed ${r.scans.length} scan(s)${r.scans.length ? `: ${r.scans.join(', ')}` : ''}\n`);
      } finally {
        await server.close();
      }
    });
}
