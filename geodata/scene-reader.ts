/**
 * Opening a scene (GeoTIFF / COG, local path or http(s) URL) and reading pixel windows from it.
 *
 * Every scene gets its own worker thread (tiff/decode-worker.ts), or several (`decodeThreads`),
 * each with a heap limit, and every call a time limit: a hostile or broken file can make a worker
 * loop, crash or run out of memory, but the caller only ever sees an OrewatchError naming the
 * file. Workers decode straight into SharedArrayBuffers allocated here (no copy, nothing moved
 * between threads). With several workers, a window that spans several block rows is cut at
 * block-row boundaries into one horizontal band per worker, which the workers decode in parallel
 * (no stitching); a window within one block row goes whole to the least busy worker. A worker that
 * was stopped for taking too long is replaced on the next call; workers of closed scenes are kept
 * briefly for the next openScene (starting one costs far more than a file).
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OrewatchError, inputError } from '../errors/index.js';
import {
  DEFAULT_DECODE_THREADS,
  DEFAULT_MEMORY_LIMIT_MB,
  DEFAULT_TIMEOUT_MS,
  MAX_DECODE_THREADS,
  positiveIntegerOption,
  positiveOption,
  validateWindow,
} from './scene-options.js';
import type { PixelWindow, SceneInfo, WindowPixels } from './types.js';
import type { SerializedError, WorkerRequest, WorkerResponse } from './tiff/decode-worker.js';
import { STAC_URI_PREFIX, openStacItemScene } from './stac-item-scene.js';

export interface OpenSceneOptions {
  /**
   * The CLI's --bands. Rule (DESIGN.md: descriptions first, else --bands): when every band of the
   * file has a distinct GDAL description, the descriptions are the band names and the names given
   * must all be among them (SCENE.BAND_NAMES otherwise); without descriptions the names given
   * name the bands in file order and must match the band count (SCENE.BAND_COUNT otherwise);
   * with neither, bands are "1", "2", ….
   */
  bandNames?: string[];
  /** Limit for opening and for each readWindow call, in milliseconds (default 60 000). */
  timeoutMs?: number;
  /**
   * JavaScript heap limit of each decode worker, and the largest window output, in MiB
   * (default 1024).
   */
  memoryLimitMb?: number;
  /**
   * Decode worker threads for this scene (default 1, at most 16). More than one splits each
   * window that spans several block rows between them. (With any number, the arrays a read
   * returns are views of SharedArrayBuffers, shared with no one once the read returns: they can
   * be shared but not transferred.) Worth it when one scene is read at a time and cores are idle. A scan reads its
   * two dates at once, one worker each, which already keeps two cores busy, so the default
   * stays 1.
   */
  decodeThreads?: number;
}

export interface ReadWindowOptions {
  /** Index into `info.overviews`: read that overview at its own resolution. */
  overview?: number;
  /**
   * Pixels of an earlier read of this scene that the caller is done with (as rasterio's `out=`):
   * when they have the same size and bands, this read fills their arrays instead of allocating
   * new ones and returns them, so the earlier result changes. Reading window after window into
   * the same memory spares the page faults and garbage collection of ~17 MB of fresh arrays per
   * megapixel of 4 bands, which with two decode workers cost a third of the throughput. Ignored
   * when they do not fit (other sizes or bands, or not the shared arrays a read returns).
   */
  reuse?: WindowPixels;
}

export interface Scene {
  /**
   * What the file holds. `metadata` has the GDAL dataset items by name, and per-band items without
   * a role (e.g. BOA_ADD_OFFSET) as "NAME:band name".
   */
  info: SceneInfo;
  /**
   * Pixels of `window` (in the pixel coordinates of the image read: full resolution, or the
   * overview asked for). Windows may extend past the image; pixels outside are invalid.
   * @param bands band names to return (default: all, in file order).
   * @returns band-sequential Float32 arrays of window.width × window.height (row-major) per band
   *   and `valid` (1 where every returned band has data).
   */
  readWindow(window: PixelWindow, bands?: string[], options?: ReadWindowOptions): Promise<WindowPixels>;
  /** Releases the file and the worker. Further reads reject with SCENE.CLOSED. */
  close(): Promise<void>;
}


/**
 * Where the worker starts. From compiled JavaScript: tiff/decode-worker.js beside this file.
 * From TypeScript sources (vitest, tsx), Node 20 does not pass `--import tsx` hooks on to worker
 * threads, so the worker starts from a two-line ES module that registers tsx and then imports
 * tiff/decode-worker.ts.
 */
function workerEntry(): URL {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new URL('./tiff/decode-worker.js', self);
  const require = createRequire(self);
  const packagePath = require.resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(packagePath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const apiPath = manifest.exports['./esm/api']?.import?.default;
  if (!apiPath) throw new OrewatchError('SCENE.WORKER', 'Cannot locate tsx/esm/api to start the decode worker from sources', { kind: 'config' });
  const api = pathToFileURL(join(dirname(packagePath), apiPath)).href;
  const entry = new URL('./tiff/decode-worker.ts', self).href;
  const code = `import { register } from ${JSON.stringify(api)};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}


function revive(error: SerializedError): OrewatchError {
  return new OrewatchError(error.code, error.message, { kind: error.kind, ...(error.file ? { file: error.file } : {}) });
}

/** A request without its id (`Omit` that keeps the union apart). */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(response: WorkerResponse): void;
  reject(error: OrewatchError): void;
}

/** One worker thread and the calls in flight to it. */
class DecodeWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  dead = false;

  /** Scene the worker is serving, named in errors. */
  uri: string;
  idleTimer: NodeJS.Timeout | null = null;

  constructor(uri: string, readonly memoryLimitMb: number) {
    this.uri = uri;
    this.worker = new Worker(workerEntry(), {
      // Not the parent's flags: a parent started by the tsx CLI would load tsx twice.
      execArgv: [],
      // geotiff.js loads the `web-worker` package, which takes any worker thread whose
      // workerData is undefined for one of its own and crashes; an empty object opts out.
      workerData: {},
      resourceLimits: {
        maxOldGenerationSizeMb: memoryLimitMb,
        maxYoungGenerationSizeMb: Math.min(64, Math.max(8, Math.floor(memoryLimitMb / 8))),
      },
    });
    this.worker.on('message', (response: WorkerResponse) => {
      const pending = this.pending.get(response.id);
      if (!pending) return;
      this.pending.delete(response.id);
      if (response.ok) pending.resolve(response);
      else pending.reject(revive(response.error));
    });
    this.worker.on('error', (error: Error & { code?: string }) => {
      const outOfMemory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(outOfMemory
        ? inputError('SCENE.DECODE_MEMORY', `Decoding ${this.uri} exceeded the decoder's memory limit (${memoryLimitMb} MiB); the file is too large for the limit, corrupt or hostile`, this.uri, error)
        : inputError('SCENE.DECODE_FAILED', `Decoding ${this.uri} crashed the decode worker (${error.message})`, this.uri, error));
    });
    this.worker.on('exit', (code) => {
      this.fail(inputError('SCENE.DECODE_FAILED', `The decode worker for ${this.uri} stopped unexpectedly (exit code ${code})`, this.uri));
    });
    // A forgotten close() must not keep the process alive; calls in flight hold their own timer.
    // (After the listeners: adding a 'message' listener refs the worker's port again.)
    this.worker.unref();
  }

  /** Calls in flight. */
  get load(): number {
    return this.pending.size;
  }

  private fail(error: OrewatchError): void {
    this.dead = true;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** Sends one request; on timeout the worker is terminated and every call in flight rejected. */
  call(request: RequestBody, timeoutMs: number, what: string): Promise<WorkerResponse> {
    if (this.dead) return Promise.reject(inputError('SCENE.DECODE_FAILED', `The decode worker for ${this.uri} is no longer running`, this.uri));
    const id = this.nextId++;
    return new Promise<WorkerResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(inputError('SCENE.DECODE_TIMEOUT', `${what} ${this.uri} took longer than ${timeoutMs} ms and was stopped; the file may be corrupt, hostile or too slow to reach`, this.uri));
        void this.worker.terminate();
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  async terminate(): Promise<void> {
    this.dead = true;
    this.pending.clear();
    await this.worker.terminate();
  }
}

/** Output arrays of a read, in the order of the bands read. */
interface RawPixels {
  bands: Float32Array[];
  valid: Uint8Array;
}

/**
 * The arrays of `pixels` (ReadWindowOptions.reuse) in the order of `names`, when it has every one
 * of them and all hold `size` values; else null (a fresh read).
 */
function reusable(pixels: WindowPixels | undefined, names: string[], size: number): RawPixels | null {
  if (!pixels || pixels.valid.length !== size) return null;
  const bands: Float32Array[] = [];
  for (const name of names) {
    const band = pixels.bands[name];
    if (!(band instanceof Float32Array) || band.length !== size) return null;
    bands.push(band);
  }
  return { bands, valid: pixels.valid };
}

function isShared(pixels: RawPixels): boolean {
  return pixels.valid.buffer instanceof SharedArrayBuffer && pixels.bands.every((b) => b.buffer instanceof SharedArrayBuffer);
}

/**
 * Workers whose scene was closed, kept for the next openScene: starting a worker (and, from
 * sources, tsx) costs far more than opening a file. Idle workers are unref'd and stopped after a
 * while.
 */
const idleWorkers: DecodeWorker[] = [];
const MAX_IDLE_WORKERS = 2;
const IDLE_WORKER_MS = 30_000;

function acquireWorker(uri: string, memoryLimitMb: number): DecodeWorker {
  const index = idleWorkers.findIndex((w) => !w.dead && w.memoryLimitMb === memoryLimitMb);
  if (index >= 0) {
    const [worker] = idleWorkers.splice(index, 1);
    if (worker) {
      if (worker.idleTimer) clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
      worker.uri = uri;
      return worker;
    }
  }
  return new DecodeWorker(uri, memoryLimitMb);
}

function releaseWorker(worker: DecodeWorker): void {
  if (worker.dead) return;
  if (idleWorkers.length >= MAX_IDLE_WORKERS) {
    void worker.terminate().catch(() => undefined);
    return;
  }
  worker.idleTimer = setTimeout(() => {
    const index = idleWorkers.indexOf(worker);
    if (index >= 0) idleWorkers.splice(index, 1);
    void worker.terminate().catch(() => undefined);
  }, IDLE_WORKER_MS);
  worker.idleTimer.unref();
  idleWorkers.push(worker);
}


/**
 * Stops the decode workers kept idle for the next openScene now, instead of after IDLE_WORKER_MS:
 * for a process done reading scenes (each idle worker keeps its own heap, tens of MB).
 */
export async function stopIdleDecodeWorkers(): Promise<void> {
  const idle = idleWorkers.splice(0);
  for (const worker of idle) if (worker.idleTimer) clearTimeout(worker.idleTimer);
  await Promise.all(idle.map((worker) => worker.terminate().catch(() => undefined)));
}

/**
 * Opens a GeoTIFF or COG (local path or http(s) URL with range requests) in a decode worker and
 * reads its description. `stac:<URL or path of a STAC Item>` opens a Sentinel-2 L2A item as one
 * scene whose bands are its single-band COG assets (stac-item-scene.ts).
 * @throws OrewatchError — input errors naming the file: SCENE.NOT_FOUND, SCENE.NOT_TIFF,
 *   SCENE.TRUNCATED, SCENE.CORRUPT, SCENE.UNSUPPORTED_COMPRESSION, SCENE.UNSUPPORTED_FORMAT,
 *   SCENE.NO_GEOREFERENCE, CRS.UNSUPPORTED, SCENE.BAND_COUNT, SCENE.BAND_NAMES,
 *   SCENE.DECODE_TIMEOUT, SCENE.DECODE_MEMORY; transient SCENE.NETWORK.
 */
export async function openScene(uri: string, options: OpenSceneOptions = {}): Promise<Scene> {
  if (typeof uri !== 'string' || uri.trim() === '') {
    throw inputError('SCENE.NOT_FOUND', `Expected a path or URL for the scene but received ${JSON.stringify(uri)}`);
  }
  if (uri.startsWith(STAC_URI_PREFIX)) return openStacItemScene(uri.slice(STAC_URI_PREFIX.length), options, openScene);
  const timeoutMs = positiveOption('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const memoryLimitMb = positiveOption('memoryLimitMb', options.memoryLimitMb, DEFAULT_MEMORY_LIMIT_MB);
  const threads = positiveIntegerOption('decodeThreads', options.decodeThreads, DEFAULT_DECODE_THREADS, MAX_DECODE_THREADS);
  const openRequest: RequestBody = {
    op: 'open',
    uri,
    ...(options.bandNames ? { bandNames: [...options.bandNames] } : {}),
    requestTimeoutMs: Math.max(1000, Math.floor(timeoutMs * 0.8)),
  };

  /** A worker with the scene open, and what the scene is. */
  const openIn = async (worker: DecodeWorker): Promise<{ info: SceneInfo; blockHeights: number[] }> => {
    try {
      const response = await worker.call(openRequest, timeoutMs, 'Opening');
      if (!response.ok || response.op !== 'open') throw new OrewatchError('SCENE.PROTOCOL', 'Unexpected answer from the decode worker', { kind: 'internal' });
      return { info: response.info, blockHeights: response.blockHeights };
    } catch (error) {
      // A file that was refused leaves the worker healthy; one that timed out or crashed does not.
      releaseWorker(worker);
      throw error;
    }
  };

  // Every worker opens the file at once; the first answer describes the scene.
  const workers = Array.from({ length: threads }, () => acquireWorker(uri, memoryLimitMb));
  const opened = await Promise.allSettled(workers.map(openIn));
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const first = opened[0];
  if (failed || !first || first.status !== 'fulfilled') {
    for (const [i, o] of opened.entries()) {
      const worker = workers[i];
      if (o.status === 'fulfilled' && worker) await worker.call({ op: 'close' }, Math.min(timeoutMs, 5000), 'Closing').then(() => releaseWorker(worker), () => undefined);
    }
    throw failed ? failed.reason : new OrewatchError('SCENE.PROTOCOL', 'No decode worker opened the scene', { kind: 'internal' });
  }
  const { info, blockHeights } = first.value;
  let closed = false;

  /** Replacements being opened, per slot: calls that find the same dead worker share one. */
  const replacing = new Map<number, Promise<DecodeWorker>>();

  /** Worker `slot` alive with the scene open: replaces one that was stopped (timeout, crash). */
  const live = (slot: number): Promise<DecodeWorker> => {
    const current = workers[slot];
    if (current && !current.dead) return Promise.resolve(current);
    let pending = replacing.get(slot);
    if (!pending) {
      const fresh = acquireWorker(uri, memoryLimitMb);
      pending = openIn(fresh).then(() => {
        workers[slot] = fresh;
        return fresh;
      }).finally(() => replacing.delete(slot));
      replacing.set(slot, pending);
    }
    return pending;
  };

  /** Slots ordered from the least busy (a dead worker counts as idle: it is replaced first). */
  const leastBusy = (): number[] => workers
    .map((w, slot) => ({ slot, load: w.dead ? 0 : w.load }))
    .sort((a, b) => a.load - b.load || a.slot - b.slot)
    .map((s) => s.slot);

  /**
   * Reads `window` as the horizontal bands `parts`, each in another worker (one part: the least
   * busy worker), straight into shared memory: no copy of the pixels on this thread, which stays
   * free while the workers decode, and no buffers moved between threads. (Moving a window's
   * buffers to a worker and back made V8 count them as new external memory of the worker's heap
   * every window, and run a full garbage collection there every few windows: a quarter of its
   * time.)
   */
  const readShared = async (window: PixelWindow, parts: PixelWindow[], indices: number[], overview: number | null, reuse: RawPixels | null): Promise<{ bands: Float32Array[]; valid: Uint8Array }> => {
    const size = window.width * window.height;
    const shared = reuse && isShared(reuse) ? reuse : null;
    const bands = shared ? shared.bands : indices.map(() => new Float32Array(new SharedArrayBuffer(size * 4)));
    const valid = shared ? shared.valid : new Uint8Array(new SharedArrayBuffer(size));
    const slots = leastBusy();
    await Promise.all(parts.map(async (part, i) => {
      const at = (part.row - window.row) * window.width;
      const end = at + part.width * part.height;
      const into = { bands: bands.map((b) => b.subarray(at, end)), valid: valid.subarray(at, end) };
      const worker = await live(slots[i % slots.length] ?? 0);
      const response = await worker.call({ op: 'readInto', window: { ...part }, bands: indices, overview, into }, timeoutMs, 'Reading a window of');
      if (!response.ok || response.op !== 'readInto') throw new OrewatchError('SCENE.PROTOCOL', 'Unexpected answer from the decode worker', { kind: 'internal' });
    }));
    return { bands, valid };
  };

  const bandIndex = new Map(info.bands.map((name, i) => [name, i] as const));

  return {
    info,
    async readWindow(window: PixelWindow, bands?: string[], readOptions: ReadWindowOptions = {}): Promise<WindowPixels> {
      if (closed) throw inputError('SCENE.CLOSED', `Scene ${uri} was closed`, uri);
      validateWindow(uri, window);
      const names = bands && bands.length > 0 ? [...new Set(bands)] : info.bands;
      const indices = names.map((name) => {
        const index = bandIndex.get(name);
        if (index === undefined) {
          throw inputError('SCENE.UNKNOWN_BAND', `${uri} has no band "${name}"; its bands are ${info.bands.join(', ')}`, uri);
        }
        return index;
      });
      const overview = readOptions.overview ?? null;
      if (overview !== null && (!Number.isInteger(overview) || overview < 0 || overview >= info.overviews.length)) {
        throw inputError('SCENE.UNKNOWN_OVERVIEW', `${uri} has ${info.overviews.length} overview(s); overview ${String(overview)} does not exist`, uri);
      }
      // Output buffers live outside the workers' heap limit: bound them here.
      const pixels = window.width * window.height;
      if (pixels * (indices.length * 4 + 1) > memoryLimitMb * 1024 * 1024) {
        throw inputError('SCENE.WINDOW_TOO_LARGE', `A window of ${window.width} × ${window.height} pixels × ${indices.length} bands of ${uri} exceeds the ${memoryLimitMb} MiB limit; read it in smaller windows`, uri);
      }
      const imageHeight = overview === null ? info.grid.height : (info.overviews[overview]?.height ?? info.grid.height);
      const blockHeight = blockHeights[overview === null ? 0 : overview + 1] ?? imageHeight;
      const parts = splitRows(window, blockHeight, imageHeight, workers.length);
      const reuse = reusable(readOptions.reuse, names, pixels);
      const whole = await readShared(window, parts, indices, overview, reuse);
      const out: Record<string, Float32Array> = {};
      names.forEach((name, i) => {
        const values = whole.bands[i];
        if (values) out[name] = values;
      });
      return { window: { ...window }, width: window.width, height: window.height, bands: out, valid: whole.valid };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(workers.map(async (worker) => {
        if (worker.dead) return;
        try {
          await worker.call({ op: 'close' }, Math.min(timeoutMs, 5000), 'Closing');
          releaseWorker(worker);
        } catch {
          await worker.terminate().catch(() => undefined);
        }
      }));
    },
  };
}

/**
 * Cuts `window` into at most `parts` horizontal bands of whole block rows (of `blockHeight` rows
 * in an image of `imageHeight` rows), as even as the block rows allow. Rows above or below the
 * image go with the first or last band. One band when the window lies within one block row.
 */
export function splitRows(window: PixelWindow, blockHeight: number, imageHeight: number, parts: number): PixelWindow[] {
  const top = Math.max(0, window.row);
  const bottom = Math.min(imageHeight, window.row + window.height);
  if (parts <= 1 || bottom - top <= 0 || blockHeight <= 0) return [window];
  const firstBlock = Math.floor(top / blockHeight);
  const blockRows = Math.floor((bottom - 1) / blockHeight) - firstBlock + 1;
  const count = Math.min(parts, blockRows);
  if (count <= 1) return [window];
  const out: PixelWindow[] = [];
  let row = window.row;
  for (let i = 1; i <= count; i++) {
    const end = i === count ? window.row + window.height : (firstBlock + Math.round((i * blockRows) / count)) * blockHeight;
    out.push({ col: window.col, row, width: window.width, height: end - row });
    row = end;
  }
  return out;
}
