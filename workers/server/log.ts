/**
 * Structured logs for server mode: one JSON object per line on stdout, with the fields operators
 * filter on (scanId, jobId, stage, durationMs, worker). Nothing else writes to stdout in a worker.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  scanId?: string;
  jobId?: string;
  job?: string;
  stage?: string;
  durationMs?: number;
  worker?: string;
  [key: string]: unknown;
}

let base: LogFields = {};

/** Fields added to every line of this process or thread (the worker id). */
export function setLogContext(fields: LogFields): void {
  base = { ...base, ...fields };
}

export function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  if (level === 'debug' && !process.env.OREWATCH_DEBUG) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, (_k, v: unknown) =>
    (v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v));
  process.stdout.write(`${line}\n`);
}
