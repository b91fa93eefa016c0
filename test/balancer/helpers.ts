import type { Worker } from '../../src/discovery/worker.js';

/** A small seeded generator (mulberry32): fixed seeds make every property test repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` ready workers with ids `w0…`, addresses 10.0.x.y and port 7101. */
export function makeWorkers(count: number, prefix = 'w'): Worker[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    ip: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    port: 7101,
    state: 'ready' as const,
  }));
}

/** A copy of `items` shuffled by `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
const lane = (acc: bigint, input: bigint): bigint =>
  (rotl((acc + input * P2) & MASK, 31n) * P1) & MASK;
const merge = (acc: bigint, value: bigint): bigint =>
  (((acc ^ lane(0n, value)) * P1) + P4) & MASK;

function readLE(bytes: Uint8Array, at: number, size: 4 | 8): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return size === 8 ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true));
}

/** XXH64 transcribed from the specification with BigInt: slow, obviously right. */
export function referenceXxh64(bytes: Uint8Array, seed = 0n): bigint {
  const length = bytes.length;
  let at = 0;
  let hash: bigint;

  if (length >= 32) {
    const lanes = [(seed + P1 + P2) & MASK, (seed + P2) & MASK, seed, (seed - P1) & MASK];
    for (; at + 32 <= length; at += 32) {
      for (let i = 0; i < 4; i += 1) {
        lanes[i] = lane(lanes[i] as bigint, readLE(bytes, at + i * 8, 8));
      }
    }
    const [v1, v2, v3, v4] = lanes as [bigint, bigint, bigint, bigint];
    hash = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    for (const value of lanes) hash = merge(hash, value);
  } else {
    hash = (seed + P5) & MASK;
  }

  hash = (hash + BigInt(length)) & MASK;
  for (; at + 8 <= length; at += 8) {
    hash ^= lane(0n, readLE(bytes, at, 8));
    hash = (rotl(hash, 27n) * P1 + P4) & MASK;
  }
  if (at + 4 <= length) {
    hash ^= (readLE(bytes, at, 4) * P1) & MASK;
    hash = (rotl(hash, 23n) * P2 + P3) & MASK;
    at += 4;
  }
  for (; at < length; at += 1) {
    hash ^= (BigInt(bytes[at] as number) * P5) & MASK;
    hash = (rotl(hash, 11n) * P1) & MASK;
  }

  hash ^= hash >> 33n;
  hash = (hash * P2) & MASK;
  hash ^= hash >> 29n;
  hash = (hash * P3) & MASK;
  hash ^= hash >> 32n;
  return hash;
}
