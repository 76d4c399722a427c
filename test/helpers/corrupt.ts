/** A copy of a scene whose header is intact but whose pixel blocks in the middle are garbage. */
import { readFileSync, writeFileSync } from 'node:fs';

export function corruptPixelData(src: string, dst: string, share = 0.5, length = 20_000): void {
  const bytes = readFileSync(src);
  const start = Math.floor(bytes.length * share);
  for (let i = start; i < Math.min(bytes.length, start + length); i++) bytes[i] = (i * 7919) % 251;
  writeFileSync(dst, bytes);
}
