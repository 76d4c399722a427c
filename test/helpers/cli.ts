/** Runs the built `orewatch` command (dist/, built by `npm test`) as a user would. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SHARED_DATA = resolve(ROOT, '..', 'shared', 'data');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Asynchronous on purpose: a blocking spawnSync would starve vitest's worker RPC for the length
 * of a scan.
 */
export function orewatch(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 300_000): Promise<CliResult> {
  const e: Record<string, string | undefined> = { ...process.env, ...env };
  if (!('DATABASE_URL' in env)) delete e.DATABASE_URL;
  if (!('REDIS_URL' in env)) delete e.REDIS_URL;
  const t0 = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'bin', 'orewatch.mjs'), ...args], { env: e, cwd: ROOT, timeout: timeoutMs });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('close', (status) => resolvePromise({ status, stdout, stderr, ms: Date.now() - t0 }));
  });
}
