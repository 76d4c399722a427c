/**
 * Private, throw-away Redis and PostgreSQL servers for fault tests.
 *
 * Fault tests stop, restart, kill and flush servers in the middle of work, so they must never run
 * against the machine's shared servers (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379).
 * `startRedis()` runs `redis-server` as a child process and `startPostgres()` runs a fresh cluster
 * (`initdb`, `postgres`, `pg_ctl stop` of the highest version under /usr/lib/postgresql) — each on a
 * spare port of 127.0.0.1 and in a temporary directory of its own, which `cleanup()` removes.
 *
 * PostgreSQL refuses to run as root: when the tests run as root the cluster directory is handed to
 * the `postgres` system user and `initdb`/`postgres`/`pg_ctl` are spawned with that user's uid/gid
 * (Node's `spawn` does the switch, as `runuser`/`setpriv` would); as a normal user nothing is
 * switched. The postmaster is a direct child of the test process (not started by `pg_ctl start`,
 * which detaches it): PID 1 here does not reap, so detached postmasters would end up as zombies.
 *
 * Nothing is left behind: a process 'exit' hook kills whatever is still running, and each server has
 * a small detached shell watchdog that kills it and removes its directory once the test process is
 * gone (also when that process was SIGKILLed and no hook could run). `serversAvailable()` says whether
 * the binaries (and the user switch) are there, for `describe.skipIf`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/** How long a server may take to come up (or go down) before the harness gives up. */
export const SERVER_TIMEOUT_MS = 20_000;
const SHARED_PORTS = new Set([5432, 6379]);
const POSTGRES_ROOT = '/usr/lib/postgresql';

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks the OS for a free TCP port on 127.0.0.1 (never one of the shared servers' ports). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const found = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port > 0 && !SHARED_PORTS.has(port)) return port;
  }
}

/** The last `lines` lines of a log file, or a note saying it could not be read. */
function logTailOf(file: string, lines = 30): string {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 8192);
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const text = buffer.toString('utf8').trimEnd();
      return text === '' ? '(log is empty)' : text.split('\n').slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `(no log: ${(error as Error).message})`;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when `pid` is a live process (a zombie counts as dead: PID 1 may not reap here). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Blocks the thread (exit hook only, where nothing asynchronous runs any more). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface RunResult { code: number | null; output: string }

/** Runs a command to completion (stdout and stderr together), killing it after `timeoutMs`. */
function run(command: string, args: string[], options: { cwd?: string; user?: SystemUser; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid, env: { ...process.env, HOME: options.cwd ?? '/', USER: options.user.name, LOGNAME: options.user.name } } : {}),
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms. Output:\n${output}`));
    }, options.timeoutMs);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

// ---------------------------------------------------------------------------------------------
// Leftover protection: exit hook + watchdogs
// ---------------------------------------------------------------------------------------------

const exitKillers = new Set<() => void>();
let exitHookInstalled = false;

function onProcessExit(killer: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const kill of exitKillers) {
        try {
          kill();
        } catch {
          // keep going: kill the others
        }
      }
    });
  }
  exitKillers.add(killer);
  return () => { exitKillers.delete(killer); };
}

/**
 * A detached shell that waits for this process to disappear, then signals the process named in
 * `pidFile` (only if its command name is `comm`: the pid may be stale), waits a little, SIGKILLs it
 * and removes `dir`. Returns a function that stops the watchdog.
 */
function startWatchdog(pidFile: string, comm: string, firstSignal: 'TERM' | 'QUIT' | 'KILL', dir: string): () => void {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'if [ -f "$2" ]; then',
    '  pid=$(head -n 1 "$2")',
    '  if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$3" ]; then',
    '    kill -"$4" "$pid" 2>/dev/null',
    '    i=0; while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
    '    kill -KILL "$pid" 2>/dev/null',
    '  fi',
    'fi',
    'rm -rf "$5"',
  ].join('\n');
  const watchdog = spawn('/bin/sh', ['-c', script, 'orewatch-watchdog', String(process.pid), pidFile, comm, firstSignal, dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  return () => {
    if (watchdog.pid !== undefined && watchdog.exitCode === null) signal(watchdog.pid, 'SIGKILL');
  };
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

interface SystemUser { name: string; uid: number; gid: number }

function systemUser(name: string): SystemUser | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[0] === name && fields.length >= 4) return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  } catch {
    // no /etc/passwd
  }
  return undefined;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The bin directory of the highest PostgreSQL version under /usr/lib/postgresql, if any. */
export function postgresBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(POSTGRES_ROOT);
  } catch {
    return undefined;
  }
  const usable = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .filter((v) => ['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(POSTGRES_ROOT, v, 'bin', tool))))
    .sort((a, b) => Number(b) - Number(a));
  return usable[0] === undefined ? undefined : join(POSTGRES_ROOT, usable[0], 'bin');
}

/** Whether private servers can be started here; `reason` says what is missing. */
export function serversAvailable(): { redis: boolean; postgres: boolean; reason?: string } {
  const reasons: string[] = [];
  const redis = findOnPath('redis-server') !== undefined;
  if (!redis) reasons.push('redis-server is not on PATH');
  let postgres = postgresBinDir() !== undefined;
  if (!postgres) reasons.push(`no initdb/pg_ctl under ${POSTGRES_ROOT}/*/bin`);
  if (postgres && isRoot() && systemUser('postgres') === undefined) {
    postgres = false;
    reasons.push('running as root and there is no "postgres" system user to run PostgreSQL as');
  }
  return reasons.length === 0 ? { redis, postgres } : { redis, postgres, reason: reasons.join('; ') };
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

export interface RedisOptions {
  /** AOF with `appendfsync always` (data survives restarts and kills); default: no persistence. */
  appendonly?: boolean;
  /** `maxmemory-policy`; default `noeviction`. */
  maxmemoryPolicy?: string;
  /** Optional `maxmemory` (e.g. `'2mb'`), so eviction/OOM faults can be provoked. */
  maxmemory?: string;
}

export interface PrivateRedis {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The server's own temporary directory (data, AOF, log). */
  dir: string;
  /** SHUTDOWN (SAVE when persistent, else NOSAVE) and wait for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL the server and wait for it to be gone. */
  kill(): Promise<void>;
  /** Start again on the same port and dir; waits until it answers PING. */
  start(): Promise<void>;
  /** stop(), wait `downMs` (default 0), start(). */
  restart(downMs?: number): Promise<void>;
  /** FLUSHALL. */
  flushAll(): Promise<void>;
  /** Stop if running and remove the dir; safe to call twice. */
  cleanup(): Promise<void>;
  /** The last lines of the server's log. */
  logTail(): string;
}

/** A connection used by the harness itself: no retries, no offline queue, errors never unhandled. */
async function withRedis<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
    retryStrategy: () => null, reconnectOnError: () => false, connectTimeout: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

export async function startRedis(options: RedisOptions = {}): Promise<PrivateRedis> {
  const binary = findOnPath('redis-server');
  if (binary === undefined) throw new Error('startRedis: redis-server is not on PATH');
  const persistent = options.appendonly === true;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orewatch-redis-'));
  const logFile = join(dir, 'redis.log');
  const pidFile = join(dir, 'redis.pid');
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--pidfile', pidFile,
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    ...(options.maxmemory !== undefined ? ['--maxmemory', options.maxmemory] : []),
    ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--save', '', '--appendonly', 'no']),
  ];

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let cleanedUp = false;
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const stopWatchdog = startWatchdog(pidFile, 'redis-server', 'KILL', dir);
  const forget = onProcessExit(() => {
    if (child?.pid !== undefined && running()) signal(child.pid, 'SIGKILL');
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* the watchdog retries */ }
  });

  const waitForExit = async (what: string): Promise<void> => {
    const timeout = sleep(SERVER_TIMEOUT_MS).then(() => 'timeout' as const);
    if ((await Promise.race([exited.then(() => 'exited' as const), timeout])) === 'timeout') {
      if (child?.pid !== undefined) signal(child.pid, 'SIGKILL');
      await exited;
      throw new Error(`Redis on 127.0.0.1:${port} did not exit within ${SERVER_TIMEOUT_MS} ms after ${what}; killed it. Log tail (${logFile}):\n${logTailOf(logFile)}`);
    }
  };

  const start = async (): Promise<void> => {
    if (cleanedUp) throw new Error(`Redis on 127.0.0.1:${port} was cleaned up; it cannot start again`);
    if (running()) return;
    appendFileSync(logFile, `--- orewatch harness: starting redis-server on 127.0.0.1:${port} ---\n`);
    const log = openSync(logFile, 'a');
    let current: ChildProcess;
    try {
      current = spawn(binary, args, { cwd: dir, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    child = current;
    current.unref(); // a forgotten server must not keep the test process alive; the exit hook kills it
    exited = new Promise<void>((resolve) => {
      if (current.exitCode !== null || current.signalCode !== null) resolve();
      current.once('exit', () => resolve());
      current.once('error', () => resolve());
    });
    let spawnError: Error | undefined;
    current.once('error', (error) => { spawnError = error; });

    const deadline = Date.now() + SERVER_TIMEOUT_MS;
    let lastError = 'no answer yet';
    for (;;) {
      if (spawnError !== undefined) throw new Error(`could not run ${binary}: ${spawnError.message}`);
      if (current.exitCode !== null || current.signalCode !== null) {
        throw new Error(`redis-server on 127.0.0.1:${port} exited (${current.exitCode ?? current.signalCode}) before it was ready. Log tail (${logFile}):\n${logTailOf(logFile)}`);
      }
      try {
        if ((await withRedis(port, (client) => client.ping())) === 'PONG') return;
      } catch (error) {
        lastError = errorMessage(error); // ECONNREFUSED while starting, LOADING while reading the AOF
      }
      if (Date.now() > deadline) {
        if (current.pid !== undefined) signal(current.pid, 'SIGKILL');
        throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${SERVER_TIMEOUT_MS} ms (last error: ${lastError}). Log tail (${logFile}):\n${logTailOf(logFile)}`);
      }
      await sleep(25);
    }
  };

  const stop = async (): Promise<void> => {
    if (!running()) return;
    try {
      await withRedis(port, (client) => client.call('SHUTDOWN', persistent ? 'SAVE' : 'NOSAVE'));
    } catch {
      // a successful SHUTDOWN closes the connection without a reply
    }
    await waitForExit('SHUTDOWN');
  };

  const kill = async (): Promise<void> => {
    if (!running()) return;
    if (child?.pid !== undefined) signal(child.pid, 'SIGKILL');
    await waitForExit('SIGKILL');
    rmSync(pidFile, { force: true }); // stale now: keep the watchdog from signalling a reused pid
  };

  const server: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    kill,
    start,
    restart: async (downMs = 0) => {
      await stop();
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    flushAll: async () => {
      await withRedis(port, (client) => client.flushall());
    },
    cleanup: async () => {
      if (cleanedUp) return;
      cleanedUp = true;
      try {
        await stop();
      } catch {
        await kill().catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
      stopWatchdog();
      forget();
    },
    logTail: () => logTailOf(logFile),
  };

  try {
    await start();
  } catch (error) {
    await server.cleanup().catch(() => undefined);
    throw error;
  }
  return server;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/test */
  url: string;
  port: number;
  /** The cluster's temporary directory (data/ and postgres.log; also holds the unix socket). */
  dir: string;
  /** `pg_ctl stop -m fast` and wait. */
  stop(): Promise<void>;
  /** Crash-like stop (`pg_ctl stop -m immediate`): the next start() runs crash recovery. */
  kill(): Promise<void>;
  /** Start the postmaster again (same port and dir) and wait until the `test` database answers. */
  start(): Promise<void>;
  /** stop(), wait `downMs` (default 0), start(). */
  restart(downMs?: number): Promise<void>;
  /** Stop if running and remove the dir; safe to call twice. */
  cleanup(): Promise<void>;
  /** The last lines of the server's log. */
  logTail(): string;
}

async function queryOnce(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(`startPostgres: no initdb/pg_ctl under ${POSTGRES_ROOT}/*/bin`);
  let user: SystemUser | undefined;
  if (isRoot()) {
    user = systemUser('postgres');
    if (user === undefined) throw new Error('startPostgres: running as root and there is no "postgres" system user to run PostgreSQL as');
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orewatch-pg-'));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const pidFile = join(dataDir, 'postmaster.pid');
  const url = `postgres://postgres@127.0.0.1:${port}/test`;
  const pgCtl = join(bin, 'pg_ctl');
  let cleanedUp = false;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const childRunning = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const stopWatchdog = startWatchdog(pidFile, 'postgres', 'QUIT', dir);
  /** The live postmaster: our child, or (should one survive it) the one named in postmaster.pid. */
  const postmasterPid = (): number | undefined => {
    if (child?.pid !== undefined && childRunning()) return child.pid;
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const forget = onProcessExit(() => {
    const pid = postmasterPid();
    if (pid !== undefined) {
      signal(pid, 'SIGQUIT'); // immediate shutdown: the postmaster takes its children down
      const deadline = Date.now() + 3000;
      while (isAlive(pid) && Date.now() < deadline) sleepSync(20);
      signal(pid, 'SIGKILL');
    }
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* the watchdog retries */ }
  });

  const fail = (what: string, detail: string): Error =>
    new Error(`PostgreSQL on 127.0.0.1:${port}: ${what}${detail === '' ? '' : `\n${detail.trimEnd()}`}\nLog tail (${logFile}):\n${logTailOf(logFile)}`);

  const pgCtlRun = (args: string[]): Promise<RunResult> =>
    run(pgCtl, ['-D', dataDir, ...args], { cwd: dir, user, timeoutMs: SERVER_TIMEOUT_MS + 5000 });

  /** Waits for our postmaster child to be gone (pg_ctl stop only waits for postmaster.pid to go). */
  const waitForChildExit = async (): Promise<void> => {
    const timeout = sleep(SERVER_TIMEOUT_MS).then(() => 'timeout' as const);
    if ((await Promise.race([exited.then(() => 'exited' as const), timeout])) === 'timeout') {
      if (child?.pid !== undefined) signal(child.pid, 'SIGKILL');
      await exited;
      throw fail(`the postmaster did not exit within ${SERVER_TIMEOUT_MS} ms after pg_ctl stop; killed it`, '');
    }
  };

  /**
   * Runs the postmaster as a child of this process rather than through `pg_ctl start`: pg_ctl
   * detaches it (setsid + reparenting), and where PID 1 does not reap, every stopped cluster would
   * stay behind as a zombie. Stopping still goes through `pg_ctl stop`.
   */
  const spawnPostmaster = async (): Promise<void> => {
    appendFileSync(logFile, `--- orewatch harness: starting postgres on 127.0.0.1:${port} ---\n`);
    if (user !== undefined) chownSync(logFile, user.uid, user.gid);
    const log = openSync(logFile, 'a');
    let current: ChildProcess;
    try {
      current = spawn(join(bin, 'postgres'), ['-D', dataDir], {
        cwd: dir,
        stdio: ['ignore', log, log],
        ...(user !== undefined ? { uid: user.uid, gid: user.gid, env: { ...process.env, HOME: dir, USER: user.name, LOGNAME: user.name } } : {}),
      });
    } finally {
      closeSync(log);
    }
    child = current;
    current.unref(); // a forgotten server must not keep the test process alive; the exit hook stops it
    exited = new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.once('error', () => resolve());
    });
    let spawnError: Error | undefined;
    current.once('error', (error) => { spawnError = error; });

    const deadline = Date.now() + SERVER_TIMEOUT_MS;
    let lastError = 'no answer yet';
    for (;;) {
      await sleep(50);
      if (spawnError !== undefined) throw fail(`could not run ${join(bin, 'postgres')}: ${spawnError.message}`, '');
      if (current.exitCode !== null || current.signalCode !== null) {
        throw fail(`the postmaster exited (${current.exitCode ?? current.signalCode}) before it was ready`, '');
      }
      try {
        await queryOnce(`postgres://postgres@127.0.0.1:${port}/postgres`, 'SELECT 1');
        return;
      } catch (error) {
        lastError = errorMessage(error); // ECONNREFUSED, then "the database system is starting up"
      }
      if (Date.now() > deadline) {
        if (current.pid !== undefined) signal(current.pid, 'SIGQUIT');
        throw fail(`did not accept connections within ${SERVER_TIMEOUT_MS} ms (last error: ${lastError})`, '');
      }
    }
  };

  const stopWith = async (mode: 'fast' | 'immediate'): Promise<void> => {
    if (postmasterPid() !== undefined) {
      const result = await pgCtlRun(['-m', mode, '-w', '-t', String(Math.ceil(SERVER_TIMEOUT_MS / 1000)), 'stop']);
      if (result.code !== 0 && postmasterPid() !== undefined) throw fail(`pg_ctl stop -m ${mode} failed (exit ${result.code})`, result.output);
    }
    await waitForChildExit();
  };

  const start = async (): Promise<void> => {
    if (cleanedUp) throw new Error(`PostgreSQL on 127.0.0.1:${port} was cleaned up; it cannot start again`);
    if (postmasterPid() === undefined) await spawnPostmaster();
    await queryOnce(url, 'SELECT 1').catch((error: unknown) => { throw fail(`the test database does not answer: ${errorMessage(error)}`, ''); });
  };

  const server: PrivatePostgres = {
    url,
    port,
    dir,
    stop: () => stopWith('fast'),
    kill: () => stopWith('immediate'),
    start,
    restart: async (downMs = 0) => {
      await stopWith('fast');
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    cleanup: async () => {
      if (cleanedUp) return;
      cleanedUp = true;
      try {
        await stopWith('fast');
      } catch {
        await stopWith('immediate').catch(() => undefined);
        const pid = postmasterPid();
        if (pid !== undefined) signal(pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
      stopWatchdog();
      forget();
    },
    logTail: () => logTailOf(logFile),
  };

  try {
    const init = await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'], {
      cwd: dir, user, timeoutMs: 60_000,
    });
    if (init.code !== 0) throw fail(`initdb failed (exit ${init.code})`, init.output);
    appendFileSync(join(dataDir, 'postgresql.conf'), [
      '',
      '# orewatch test harness: private, throw-away cluster',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir.replace(/'/g, "''")}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'));
    await spawnPostmaster();
    await queryOnce(`postgres://postgres@127.0.0.1:${port}/postgres`, 'CREATE DATABASE test');
    await start();
  } catch (error) {
    await server.cleanup().catch(() => undefined);
    throw error;
  }
  return server;
}
