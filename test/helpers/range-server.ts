/** A local HTTP server (127.0.0.1, random port) serving files of one folder with Range support. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, join } from 'node:path';

export interface RangeServer {
  url(name: string): string;
  bytesServed(): number;
  close(): Promise<void>;
}

/**
 * Answers a GET for `file` (which exists), honouring a single `bytes=a-b` Range (206, or 416 past
 * the end); `served` is told how many bytes go out.
 */
export function serveFile(req: IncomingMessage, res: ServerResponse, file: string, served: (bytes: number) => void): void {
  const size = statSync(file).size;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = Math.min(size - 1, range[2] ? Number(range[2]) : size - 1);
    if (start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
    served(end - start + 1);
    createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
  served(size);
  createReadStream(file).pipe(res);
}

export async function startRangeServer(folder: string): Promise<RangeServer> {
  let served = 0;
  const server: Server = createServer((req, res) => {
    const file = join(folder, basename(decodeURIComponent((req.url ?? '/').slice(1))));
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    serveFile(req, res, file, (n) => { served += n; });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    bytesServed: () => served,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
