// Digests of what TiffScene reads from files (every band subset and window given), for tests that
// compare decode paths chosen at module load: the native binding against OREWATCH_NATIVE=0 (the
// JavaScript fallback), in a child process. Run as a script it prints the digests as JSON:
//   node --import tsx test/helpers/decode-digest.ts '<JSON of DigestJob[]>'
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TiffScene } from '../../geodata/tiff/tiff-reader.js';
import type { PixelWindow } from '../../geodata/types.js';

export interface DigestJob {
  file: string;
  windows: PixelWindow[];
  subsets: number[][];
}

/** One SHA-256 per job over every window and subset's bands and valid mask. */
export async function decodeDigests(jobs: DigestJob[]): Promise<string[]> {
  const out: string[] = [];
  for (const job of jobs) {
    const hash = createHash('sha256');
    const scene = await TiffScene.open(job.file);
    try {
      for (const window of job.windows) {
        for (const bands of job.subsets) {
          const px = await scene.readWindow(window, bands);
          for (const band of px.bands) hash.update(new Uint8Array(band.buffer, band.byteOffset, band.byteLength));
          hash.update(px.valid);
        }
      }
    } finally {
      await scene.close();
    }
    out.push(hash.digest('hex'));
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const jobs = JSON.parse(process.argv[2] ?? '[]') as DigestJob[];
  process.stdout.write(`${JSON.stringify(await decodeDigests(jobs))}\n`);
}
