/**
 * A window's detection result as bytes, so it can wait in the store (server mode) until every
 * window of the scan is done: the change mask deflated (mostly zeros, so a 512² window is a few
 * hundred bytes) and the probabilities of the change pixels only, as exact float32 — the merged
 * sites and their scores equal those of an embedded scan bit for bit.
 *
 * Layout: "OWW1", u32 width, u32 height, u32 changePixels, u32 deflated-mask length, mask bytes,
 * then changePixels float32 (little-endian) in row-major order of the change pixels.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { OrewatchError } from '../../errors/index.js';

const MAGIC = 0x3157574f; // "OWW1" little-endian

export function encodeWindowResult(width: number, height: number, mask: Uint8Array, prob: Float32Array): Buffer {
  const n = width * height;
  if (mask.length !== n || prob.length !== n) throw new OrewatchError('WINDOW.CODEC', `Window arrays must hold ${n} values`, { kind: 'internal' });
  let change = 0;
  for (let i = 0; i < n; i++) if (mask[i] !== 0) change++;
  const packedMask = deflateSync(mask, { level: 6 });
  const out = Buffer.alloc(20 + packedMask.length + change * 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(width, 4);
  out.writeUInt32LE(height, 8);
  out.writeUInt32LE(change, 12);
  out.writeUInt32LE(packedMask.length, 16);
  packedMask.copy(out, 20);
  let o = 20 + packedMask.length;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    out.writeFloatLE(prob[i], o);
    o += 4;
  }
  return out;
}

export function decodeWindowResult(bytes: Uint8Array): { width: number; height: number; mask: Uint8Array; prob: Float32Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new OrewatchError('WINDOW.CODEC', `Stored window result is damaged: ${why}`, { kind: 'internal' });
  if (buf.length < 20 || buf.readUInt32LE(0) !== MAGIC) throw bad('wrong header');
  const width = buf.readUInt32LE(4), height = buf.readUInt32LE(8), change = buf.readUInt32LE(12), packed = buf.readUInt32LE(16);
  if (buf.length !== 20 + packed + change * 4) throw bad('wrong length');
  const mask = new Uint8Array(inflateSync(buf.subarray(20, 20 + packed), { maxOutputLength: width * height }));
  if (mask.length !== width * height) throw bad('mask size');
  const prob = new Float32Array(width * height);
  let o = 20 + packed;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    prob[i] = buf.readFloatLE(o);
    o += 4;
  }
  return { width, height, mask, prob };
}
