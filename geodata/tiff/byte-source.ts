/**
 * Where the bytes of a scene come from: a local file or an http(s) URL, read by byte ranges only,
 * so that a small window of a large cloud-optimized GeoTIFF costs a few requests and not the file.
 *
 * Also adapts a source to geotiff.js's source interface (`fetch(slices)`), so that geotiff.js
 * parses tags through the same reads (and the same HTTP block cache) as our own guard.
 */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { OrewatchError, inputError } from '../../errors/index.js';

/** Random access to the bytes of one file. */
export interface ByteSource {
  /** Path or URL as given. */
  readonly uri: string;
  /** Size of the file in bytes, when known (local files: always; HTTP: from Content-Range). */
  readonly size: number | null;
  /** Bytes read from the file or the network so far (for tests and logs). */
  readonly bytesRead: number;
  /**
   * Bytes [offset, offset + length). Shorter only when the file ends first; never longer.
   * @param offset byte offset, ≥ 0
   * @param length bytes wanted, ≥ 0
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * The same read, synchronously, where the source can: local files, where a pread served from
   * the page cache costs less than `read`'s round trip through libuv's thread pool (the decode
   * worker has nothing else to do meanwhile). Absent for HTTP.
   * @param into where to read (at least `length` bytes); the result is then a view of it.
   */
  readSync?(offset: number, length: number, into?: Uint8Array): Uint8Array;
  close(): Promise<void>;
}

export interface ByteSourceOptions {
  /** Limit for one HTTP request, in milliseconds (default 30 000). */
  requestTimeoutMs?: number;
  /** Largest body accepted from a server that ignores Range requests (default 64 MiB). */
  maxFullDownloadBytes?: number;
}

/** True for http:// and https:// URIs. */
export function isHttpUri(uri: string): boolean {
  return /^https?:\/\//i.test(uri);
}

/** Opens a local path or an http(s) URL. Errors name the path or URL. */
export async function openByteSource(uri: string, options: ByteSourceOptions = {}): Promise<ByteSource> {
  if (isHttpUri(uri)) return HttpByteSource.open(uri, options);
  let path = uri;
  if (uri.startsWith('file:')) {
    try {
      path = fileURLToPath(uri);
    } catch (error) {
      throw inputError('SCENE.NOT_FOUND', `Scene ${uri} is not a usable file URL`, uri, error);
    }
  }
  return FileByteSource.open(uri, path);
}

class FileByteSource implements ByteSource {
  bytesRead = 0;

  private constructor(
    readonly uri: string,
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(uri: string, path: string): Promise<FileByteSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw fileOpenError(uri, error);
    }
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      await handle.close();
      throw inputError('SCENE.NOT_FOUND', `Scene ${uri} is a directory, not a GeoTIFF file`, uri);
    }
    return new FileByteSource(uri, handle, stat.size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const buffer = new Uint8Array(end - offset);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) break; // the file shrank under us
      filled += bytesRead;
    }
    this.bytesRead += filled;
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  }

  readSync(offset: number, length: number, into?: Uint8Array): Uint8Array {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    // Not zeroed first (the read overwrites it; only the bytes read are returned), and never a
    // slice of Node's shared pool.
    const buffer = into && into.length >= end - offset ? into.subarray(0, end - offset) : Buffer.allocUnsafeSlow(end - offset);
    let filled = 0;
    while (filled < buffer.length) {
      const bytesRead = readSync(this.handle.fd, buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) break; // the file shrank under us
      filled += bytesRead;
    }
    this.bytesRead += filled;
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function fileOpenError(uri: string, error: unknown): OrewatchError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return inputError('SCENE.NOT_FOUND', `Scene file ${uri} does not exist`, uri, error);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return inputError('SCENE.NOT_READABLE', `Scene file ${uri} cannot be read (permission denied)`, uri, error);
  }
  if (code === 'EMFILE' || code === 'ENFILE' || code === 'EIO') {
    return new OrewatchError('SCENE.IO', `Scene file ${uri} could not be opened (${code})`, { kind: 'transient', file: uri, cause: error });
  }
  return inputError('SCENE.NOT_READABLE', `Scene file ${uri} cannot be opened (${code ?? String(error)})`, uri, error);
}

/** Small reads go through a cache of aligned blocks: TIFF headers, IFDs and tag arrays are tiny. */
const BLOCK_SIZE = 64 * 1024;
const CACHE_BLOCKS = 64;

class HttpByteSource implements ByteSource {
  bytesRead = 0;
  size: number | null = null;
  /** The whole body, when the server ignored the Range header and the file was small enough. */
  private whole: Uint8Array | null = null;
  private readonly cache = new Map<number, Promise<Uint8Array>>();

  private constructor(
    readonly uri: string,
    private readonly requestTimeoutMs: number,
    private readonly maxFullDownloadBytes: number,
  ) {}

  static async open(uri: string, options: ByteSourceOptions): Promise<HttpByteSource> {
    const source = new HttpByteSource(uri, options.requestTimeoutMs ?? 30_000, options.maxFullDownloadBytes ?? 64 * 1024 * 1024);
    // The first block tells the size (Content-Range) and whether ranges work at all.
    await source.block(0);
    return source;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = this.size === null ? offset + length : Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    if (this.whole) return this.whole.subarray(offset, end);
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((end - 1) / BLOCK_SIZE);
    if (last - first > 1) return this.fetchRange(offset, end - offset);
    const out = new Uint8Array(end - offset);
    let filled = 0;
    for (let index = first; index <= last; index++) {
      const block = await this.block(index);
      // The server may have answered with the whole file instead of a range.
      const whole = this.wholeBody();
      if (whole) return whole.subarray(offset, end);
      const from = Math.max(0, offset - index * BLOCK_SIZE);
      const to = Math.min(block.length, end - index * BLOCK_SIZE);
      if (to <= from) break;
      out.set(block.subarray(from, to), filled);
      filled += to - from;
      if (to < BLOCK_SIZE) break; // end of file
    }
    return filled === out.length ? out : out.subarray(0, filled);
  }

  private wholeBody(): Uint8Array | null {
    return this.whole;
  }

  private block(index: number): Promise<Uint8Array> {
    const cached = this.cache.get(index);
    if (cached) {
      // Refresh its place in the LRU order.
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const request = this.fetchRange(index * BLOCK_SIZE, BLOCK_SIZE);
    request.catch(() => this.cache.delete(index));
    this.cache.set(index, request);
    while (this.cache.size > CACHE_BLOCKS) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return request;
  }

  private async fetchRange(offset: number, length: number): Promise<Uint8Array> {
    if (this.size !== null && offset >= this.size) return new Uint8Array(0);
    let response: Response;
    try {
      response = await fetch(this.uri, {
        headers: { Range: `bytes=${offset}-${offset + length - 1}` },
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError'
        ? `timed out after ${this.requestTimeoutMs} ms`
        : `failed (${describeCause(error)})`;
      throw new OrewatchError('SCENE.NETWORK', `Request for ${this.uri} ${reason}`, { kind: 'transient', file: this.uri, cause: error });
    }
    if (response.status === 206) {
      const total = parseContentRangeTotal(response.headers.get('content-range'));
      if (total !== null) this.size = total;
      const body = await this.body(response);
      this.bytesRead += body.length;
      return body.length > length ? body.subarray(0, length) : body;
    }
    if (response.status === 200) {
      // The server ignored the Range header: accept the whole body only when it is small.
      const declared = Number(response.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > this.maxFullDownloadBytes) {
        await response.body?.cancel();
        throw inputError('SCENE.NO_RANGE_SUPPORT', `Server for ${this.uri} does not support HTTP range requests and the file is ${declared} bytes (limit ${this.maxFullDownloadBytes})`, this.uri);
      }
      const body = await this.body(response, this.maxFullDownloadBytes);
      this.bytesRead += body.length;
      this.whole = body;
      this.size = body.length;
      return body.subarray(offset, Math.min(body.length, offset + length));
    }
    await response.body?.cancel();
    if (response.status === 416) {
      // Range not satisfiable: the offset lies past the end (an empty file when offset is 0).
      const total = parseContentRangeTotal(response.headers.get('content-range'));
      this.size = total ?? (offset === 0 ? 0 : this.size);
      return new Uint8Array(0);
    }
    if (response.status === 404 || response.status === 410) {
      throw inputError('SCENE.NOT_FOUND', `Scene ${this.uri} was not found (HTTP ${response.status})`, this.uri);
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      throw new OrewatchError('SCENE.NETWORK', `Server for ${this.uri} answered HTTP ${response.status}`, { kind: 'transient', file: this.uri });
    }
    throw inputError('SCENE.NOT_READABLE', `Scene ${this.uri} cannot be read (HTTP ${response.status})`, this.uri);
  }

  /** Reads a body, refusing one larger than `limit` bytes while it streams in. */
  private async body(response: Response, limit = Number.POSITIVE_INFINITY): Promise<Uint8Array> {
    if (!response.body) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body) {
        total += chunk.length;
        if (total > limit) {
          throw inputError('SCENE.NO_RANGE_SUPPORT', `Server for ${this.uri} does not support HTTP range requests and the file exceeds ${limit} bytes`, this.uri);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof OrewatchError) throw error;
      throw new OrewatchError('SCENE.NETWORK', `Reading from ${this.uri} failed (${describeCause(error)})`, { kind: 'transient', file: this.uri, cause: error });
    }
    if (chunks.length === 1 && chunks[0]) return chunks[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  async close(): Promise<void> {
    this.cache.clear();
    this.whole = null;
  }
}

function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? `: ${cause.message}` : '';
    return `${error.message}${causeText}`;
  }
  return String(error);
}

function parseContentRangeTotal(header: string | null): number | null {
  const match = header ? /\/(\d+)\s*$/.exec(header) : null;
  return match ? Number(match[1]) : null;
}

/** A slice as geotiff.js asks for it. */
interface Slice {
  offset: number;
  length: number;
}

/**
 * The shape geotiff.js expects of a source (`BaseSource`): reads come back as ArrayBuffers of
 * exactly the requested length, zero-filled past the end of the file as geotiff.js's own file
 * source does. Only used after the guard has validated every offset geotiff.js will follow.
 */
export class GeotiffSourceAdapter {
  constructor(private readonly source: ByteSource) {}

  async fetch(slices: Slice[]): Promise<ArrayBuffer[]> {
    return Promise.all(slices.map(async ({ offset, length }) => {
      const bytes = await this.source.read(offset, length);
      const out = new ArrayBuffer(length);
      new Uint8Array(out).set(bytes);
      return out;
    }));
  }

  get fileSize(): number | null {
    return this.source.size;
  }

  async close(): Promise<void> {
    // The byte source is closed by its owner.
  }
}
