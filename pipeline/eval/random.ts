/**
 * Seeded randomness for the scenario generator: a small PRNG for decisions taken once (where to
 * put a pit), and stateless hashes and value noise for per-pixel texture. Stateless functions of
 * (seed, position) keep every pixel the same whatever order strips are rendered in.
 */

/** Mixes a 32-bit integer (lowbias32 by Chris Wellons): cheap, and good avalanche. */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a seed and up to three integers → uint32. */
export function hash3(seed: number, a: number, b: number, c = 0): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(a | 0, 0x27d4eb2f));
  h = mix32(h ^ Math.imul(b | 0, 0x165667b1));
  if (c !== 0) h = mix32(h ^ Math.imul(c | 0, 0x61c88647));
  return h;
}

/** Hash → [0, 1). */
export function hashUnit(seed: number, a: number, b: number, c = 0): number {
  return hash3(seed, a, b, c) / 4294967296;
}

/** Hash of a string label → uint32 (FNV-1a), for deriving independent seeds by name. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** Approximately standard-normal value from one uint32 hash (Irwin–Hall of four bytes). */
export function gaussFromHash(h: number): number {
  const s = (h & 0xff) + ((h >>> 8) & 0xff) + ((h >>> 16) & 0xff) + (h >>> 24);
  // Four uniforms on [0, 255]: mean 510, variance 4 × (256² − 1) / 12.
  return (s - 510) / 147.8;
}

/** A seeded pseudo-random generator (sfc32). Deterministic for a seed on every platform. */
export interface Rng {
  /** [0, 1). */
  next(): number;
  /** [min, max). */
  range(min: number, max: number): number;
  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Standard normal. */
  normal(): number;
  /** An independent generator derived from this one's seed and a label (its own sequence). */
  fork(label: string): Rng;
  /** The seed this generator started from. */
  readonly seed: number;
}

/** Creates a seeded generator. */
export function createRng(seed: number): Rng {
  let a = mix32(seed ^ 0xa5a5a5a5);
  let b = mix32(seed + 0x3c6ef372);
  let c = mix32(seed ^ 0x1b873593);
  let d = 1;
  const nextU32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextU32();
  const rng: Rng = {
    seed,
    next: () => nextU32() / 4294967296,
    range: (min, max) => min + (max - min) * (nextU32() / 4294967296),
    int: (min, max) => min + Math.floor((nextU32() / 4294967296) * (max - min + 1)),
    chance: (p) => nextU32() / 4294967296 < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor((nextU32() / 4294967296) * items.length)]!;
    },
    normal: () => {
      const u = Math.max(nextU32() / 4294967296, 1e-12);
      const v = nextU32() / 4294967296;
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    fork: (label) => createRng(mix32(seed ^ hashString(label))),
  };
  return rng;
}

/**
 * Lattice hash for value noise → [0, 1): one multiply-xorshift round, several times cheaper than
 * {@link hash3}. Plenty for smooth noise, where neighbouring values are blended anyway.
 */
function latticeUnit(seed: number, x: number, y: number): number {
  let h = (Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ seed) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

/** Smooth value noise in [0, 1] on a unit lattice. */
export function valueNoise(seed: number, x: number, y: number): number {
  const xi = Math.floor(x);
  const yi = Math.floor(y);
  const tx = x - xi;
  const ty = y - yi;
  // Quintic fade (C2-continuous: no visible lattice creases in hillshade).
  const fx = tx * tx * tx * (tx * (tx * 6 - 15) + 10);
  const fy = ty * ty * ty * (ty * (ty * 6 - 15) + 10);
  const s = mix32(seed);
  const v00 = latticeUnit(s, xi, yi);
  const v10 = latticeUnit(s, xi + 1, yi);
  const v01 = latticeUnit(s, xi, yi + 1);
  const v11 = latticeUnit(s, xi + 1, yi + 1);
  const top = v00 + (v10 - v00) * fx;
  const bottom = v01 + (v11 - v01) * fx;
  return top + (bottom - top) * fy;
}

/** Fractal Brownian motion of value noise, normalised to [0, 1] (mean ≈ 0.5). */
export function fbm(seed: number, x: number, y: number, octaves: number, gain = 0.5): number {
  let sum = 0;
  let norm = 0;
  let amplitude = 1;
  let frequency = 1;
  for (let o = 0; o < octaves; o++) {
    // Offsetting each octave avoids lattice-aligned artefacts at the origin.
    sum += amplitude * valueNoise(seed + o * 1013, x * frequency + o * 17.31, y * frequency - o * 11.77);
    norm += amplitude;
    amplitude *= gain;
    frequency *= 2.03;
  }
  return sum / norm;
}

export const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
export const smoothstep = (e0: number, e1: number, v: number): number => {
  const t = clamp((v - e0) / (e1 - e0), 0, 1);
  return t * t * (3 - 2 * t);
};
export const lerp = (a: number, b: number, t: number): number => a + (b - a) * t;
