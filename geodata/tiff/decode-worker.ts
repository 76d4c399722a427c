/**
 * Entry point of the decode worker thread: holds one open scene and answers open / read / close
 * messages from scene-reader.ts. Untrusted files are parsed and decoded only here, so a file that
 * hangs or exhausts memory takes down this thread, never the main process.
 *
 * Pixels are written straight into shared memory the caller passed (`readInto`: one worker
 * filling a window, or several filling its horizontal bands).
 */
import { parentPort } from 'node:worker_threads';
import { OrewatchError, type ErrorKind } from '../../errors/index.js';
import type { PixelWindow, SceneInfo } from '../types.js';
import { TiffScene, type RawWindow } from './tiff-reader.js';

export type WorkerRequest =
  | { id: number; op: 'open'; uri: string; bandNames?: string[]; requestTimeoutMs: number }
  /** A read whose pixels go into `into`: views of SharedArrayBuffers the caller also holds. */
  | { id: number; op: 'readInto'; window: PixelWindow; bands: number[]; overview: number | null; into: RawWindow }
  | { id: number; op: 'close' };

export interface SerializedError {
  code: string;
  message: string;
  kind: ErrorKind;
  file?: string;
}

export type WorkerResponse =
  | { id: number; ok: true; op: 'open'; info: SceneInfo; blockHeights: number[]; bytesRead: number }
  | { id: number; ok: true; op: 'readInto'; bytesRead: number }
  | { id: number; ok: true; op: 'close' }
  | { id: number; ok: false; error: SerializedError };

let scene: TiffScene | null = null;
let currentUri = '';

function serialize(error: unknown): SerializedError {
  if (error instanceof OrewatchError) {
    return { code: error.code, message: error.message, kind: error.kind, ...(error.file ? { file: error.file } : {}) };
  }
  // Anything else thrown while parsing an untrusted file (geotiff.js RangeErrors and the like)
  // is taken as a sign of a malformed file, reported with the file named.
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'SCENE.CORRUPT',
    message: `${currentUri || 'scene'} cannot be read: ${message}`,
    kind: 'input',
    ...(currentUri ? { file: currentUri } : {}),
  };
}

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.op) {
    case 'open': {
      currentUri = request.uri;
      if (scene) await scene.close();
      scene = await TiffScene.open(request.uri, {
        ...(request.bandNames ? { bandNames: request.bandNames } : {}),
        requestTimeoutMs: request.requestTimeoutMs,
      });
      // Block rows of the full resolution and of each overview: where a window may be split
      // between decode workers without decoding a block twice.
      const opened = scene;
      const blockHeights = [opened.blockHeight(null), ...opened.info.overviews.map((_, i) => opened.blockHeight(i))];
      return { id: request.id, ok: true, op: 'open', info: scene.info, blockHeights, bytesRead: scene.bytesRead };
    }
    case 'readInto': {
      if (!scene) throw new OrewatchError('SCENE.CLOSED', 'No scene is open in this decode worker', { kind: 'internal' });
      await scene.readWindow(request.window, request.bands, request.overview, request.into);
      return { id: request.id, ok: true, op: 'readInto', bytesRead: scene.bytesRead };
    }
    case 'close': {
      if (scene) await scene.close();
      scene = null;
      return { id: request.id, ok: true, op: 'close' };
    }
  }
}

const port = parentPort;
if (port) {
  port.on('message', (request: WorkerRequest) => {
    handle(request).then(
      (response) => port.postMessage(response),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, error: serialize(error) } satisfies WorkerResponse),
    );
  });
}
