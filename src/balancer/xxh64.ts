/**
 * XXH64 (xxHash, 64-bit) written with 32-bit arithmetic only.
 *
 * A 64-bit value travels as two 32-bit words, `hi` and `lo`, held in plain numbers.
 * BigInt would be simpler but allocates on every operation; pickers hash on every pick, so the
 * hot path stays in numbers. Words are kept as signed 32-bit integers, which V8 passes and
 * returns without boxing; the helpers return the low word and leave the high word in
 * `register[0]`, so no object is built per operation.
 *
 * The algorithm follows the xxHash specification (stripes of 32 bytes into four lanes, then
 * 8-, 4- and 1-byte tails, then the avalanche); it is checked in the tests against published
 * vectors and against a BigInt transcription of the specification.
 */

// The five 64-bit primes of the specification, split into words.
const P1_HI = 0x9e3779b1 | 0;
const P1_LO = 0x85ebca87 | 0;
const P2_HI = 0xc2b2ae3d | 0;
const P2_LO = 0x27d4eb4f | 0;
const P3_HI = 0x165667b1 | 0;
const P3_LO = 0x9e3779f9 | 0;
const P4_HI = 0x85ebca77 | 0;
const P4_LO = 0xc2b2ae63 | 0;
const P5_HI = 0x27d4eb2f | 0;
const P5_LO = 0x165667c5 | 0;

const TWO_POW_32 = 4294967296;

/**
 * High word of the last 64-bit result; the helpers return the low word. A typed array rather
 * than a module `let`, whose writes V8 may box as heap numbers.
 */
const register = new Int32Array(1);

function hiWord(): number {
  return register[0] as number;
}

/** `a + b` modulo 2^64. */
function add64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const lo = (aLo + bLo) | 0;
  register[0] = aHi + bHi + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0);
  return lo;
}

/** `a - b` modulo 2^64. */
function sub64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  register[0] = aHi - bHi - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0);
  return (aLo - bLo) | 0;
}

/** `a × b` modulo 2^64. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  // The high word of aLo × bLo needs the full 64-bit product: split into 16-bit halves so
  // every partial product stays exact; the cross terms only matter modulo 2^32, which
  // Math.imul gives directly.
  const a1 = aLo >>> 16;
  const a0 = aLo & 0xffff;
  const b1 = bLo >>> 16;
  const b0 = bLo & 0xffff;
  const low = Math.imul(a0, b0) >>> 16;
  const cross1 = Math.imul(a1, b0);
  const cross2 = Math.imul(a0, b1);
  const carry =
    (cross1 >>> 16) + (cross2 >>> 16) + (((cross1 & 0xffff) + (cross2 & 0xffff) + low) >>> 16);
  register[0] = Math.imul(a1, b1) + carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi);
  return Math.imul(aLo, bLo);
}

/** Rotate left by `bits`, 0 < bits < 32 (XXH64 never rotates by 32 or more). */
function rotl64(hi: number, lo: number, bits: number): number {
  register[0] = (hi << bits) | (lo >>> (32 - bits));
  return (lo << bits) | (hi >>> (32 - bits));
}

/** One lane round: `rotl(acc + input × P2, 31) × P1`. */
function round(accHi: number, accLo: number, inHi: number, inLo: number): number {
  let lo = mul64(inHi, inLo, P2_HI, P2_LO);
  lo = add64(accHi, accLo, hiWord(), lo);
  lo = rotl64(hiWord(), lo, 31);
  return mul64(hiWord(), lo, P1_HI, P1_LO);
}

/** Folds one lane into the accumulator: `(acc ^ round(0, lane)) × P1 + P4`. */
function mergeRound(accHi: number, accLo: number, laneHi: number, laneLo: number): number {
  let lo = round(0, 0, laneHi, laneLo);
  lo = mul64(accHi ^ hiWord(), accLo ^ lo, P1_HI, P1_LO);
  return add64(hiWord(), lo, P4_HI, P4_LO);
}

function read32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at] as number) |
    ((bytes[at + 1] as number) << 8) |
    ((bytes[at + 2] as number) << 16) |
    ((bytes[at + 3] as number) << 24)
  );
}

/**
 * Hashes `bytes[0, length)` with XXH64 and writes the result to `out` as
 * `out[0]` = high word, `out[1]` = low word. Allocates nothing.
 *
 * @param seedHi - high word of the 64-bit seed (0 for the usual seed 0)
 * @param seedLo - low word of the 64-bit seed
 *
 * @example
 * ```ts
 * const out = new Uint32Array(2);
 * const bytes = new TextEncoder().encode('abc');
 * xxh64Into(bytes, bytes.length, out);
 * // out[0] === 0x44bc2cf5, out[1] === 0xad770999
 * ```
 */
export function xxh64Into(
  bytes: Uint8Array,
  length: number,
  out: Uint32Array,
  seedHi = 0,
  seedLo = 0,
): void {
  initLanes(seedHi | 0, seedLo | 0);
  const at = consumeStripes(bytes, 0, length);
  finish(bytes, at, length, length, seedHi | 0, seedLo | 0, out);
}

/**
 * The XXH64 state (seed 0) after the whole 32-byte stripes of a prefix, so that many inputs
 * sharing that prefix — one key followed by each worker's identity — skip those stripes.
 *
 * @example
 * ```ts
 * const prefix = new Xxh64Prefix();
 * xxh64Prefix(keyBytes, keyLength, prefix);
 * // buffer = key bytes then identity bytes:
 * xxh64FromPrefix(prefix, buffer, keyLength + identityLength, out);
 * ```
 */
export class Xxh64Prefix {
  /** The four lanes as (hi, lo) pairs. */
  readonly lanes = new Int32Array(8);
  /** How many leading bytes the lanes have consumed: a multiple of 32. */
  consumed = 0;
  /**
   * The converged lanes (hi, lo), valid when `consumed` > 0. When what follows the prefix is
   * under 32 bytes no further stripe changes the lanes, so convergence is done once here.
   */
  readonly converged = new Int32Array(2);
}

/**
 * Runs XXH64 (seed 0) over the whole stripes of `bytes[0, length)` and stores the state in
 * `prefix`.
 *
 * @example
 * ```ts
 * xxh64Prefix(keyBytes, keyBytes.length, prefix);
 * ```
 */
export function xxh64Prefix(bytes: Uint8Array, length: number, prefix: Xxh64Prefix): void {
  initLanes(0, 0);
  prefix.consumed = consumeStripes(bytes, 0, length);
  prefix.lanes.set(lanes);

  if (prefix.consumed > 0) {
    converge();
    prefix.converged[0] = hiWord();
    prefix.converged[1] = lanes[1] as number;
  }
}

/**
 * XXH64 (seed 0) of `bytes[0, length)`, whose first `prefix.consumed` bytes are the prefix
 * given to {@link xxh64Prefix}: the same result as {@link xxh64Into}, with less work.
 *
 * @example
 * ```ts
 * xxh64FromPrefix(prefix, buffer, keyLength + identityLength, out);
 * ```
 */
export function xxh64FromPrefix(
  prefix: Xxh64Prefix,
  bytes: Uint8Array,
  length: number,
  out: Uint32Array,
): void {
  if (prefix.consumed > 0 && length - prefix.consumed < 32) {
    finishConverged(bytes, prefix.consumed, length, prefix.converged, out);
    return;
  }

  lanes.set(prefix.lanes);
  const at = consumeStripes(bytes, prefix.consumed, length);
  finish(bytes, at, length, length, 0, 0, out);
}

/** Lane state: v1..v4 as (hi, lo) pairs. */
const lanes = new Int32Array(8);

function initLanes(seedHi: number, seedLo: number): void {
  lanes[1] = add64(seedHi, seedLo, P1_HI, P1_LO);
  lanes[0] = hiWord();
  lanes[1] = add64(lanes[0] as number, lanes[1] as number, P2_HI, P2_LO);
  lanes[0] = hiWord();
  lanes[3] = add64(seedHi, seedLo, P2_HI, P2_LO);
  lanes[2] = hiWord();
  lanes[5] = seedLo;
  lanes[4] = seedHi;
  lanes[7] = sub64(seedHi, seedLo, P1_HI, P1_LO);
  lanes[6] = hiWord();
}

/** Feeds whole 32-byte stripes of `bytes[start, end)` to the lanes; returns where it stopped. */
function consumeStripes(bytes: Uint8Array, start: number, end: number): number {
  let at = start;
  for (; at + 32 <= end; at += 32) {
    for (let lane = 0; lane < 8; lane += 2) {
      const offset = at + lane * 4;
      lanes[lane + 1] = round(
        lanes[lane] as number,
        lanes[lane + 1] as number,
        read32(bytes, offset + 4),
        read32(bytes, offset),
      );
      lanes[lane] = hiWord();
    }
  }
  return at;
}

/**
 * Everything after the stripes: converge the lanes (or start from seed + P5 for inputs under
 * 32 bytes), add the total length, fold in the tail `bytes[at, end)`, avalanche.
 *
 * Few call sites here, each to a small helper: V8 inlines the 64-bit arithmetic into each
 * helper, but not into one large function with dozens of calls (its inlining budget runs
 * out), and every call left over costs more than the arithmetic it does.
 */
function finish(
  bytes: Uint8Array,
  start: number,
  end: number,
  totalLength: number,
  seedHi: number,
  seedLo: number,
  out: Uint32Array,
): void {
  let hLo: number;
  if (totalLength >= 32) {
    converge();
    hLo = lanes[1] as number;
  } else {
    hLo = add64(seedHi, seedLo, P5_HI, P5_LO);
  }

  tails(bytes, start, end, totalLength, hiWord(), hLo, out);
}

/** {@link finish} for a prefix whose converged lanes are already known. */
function finishConverged(
  bytes: Uint8Array,
  start: number,
  end: number,
  converged: Int32Array,
  out: Uint32Array,
): void {
  tails(bytes, start, end, end, converged[0] as number, converged[1] as number, out);
}

/** Adds the total length to `h`, folds in `bytes[start, end)`, avalanches, writes `out`. */
function tails(
  bytes: Uint8Array,
  start: number,
  end: number,
  totalLength: number,
  startHi: number,
  startLo: number,
  out: Uint32Array,
): void {
  let at = start;

  // The length is below 2^53, so its high word is the integer part of length / 2^32.
  let hLo = add64(startHi, startLo, Math.floor(totalLength / TWO_POW_32), totalLength | 0);
  let hHi = hiWord();

  for (; at + 8 <= end; at += 8) {
    hLo = tail8(hHi, hLo, read32(bytes, at + 4), read32(bytes, at));
    hHi = hiWord();
  }

  if (at + 4 <= end) {
    hLo = tail4(hHi, hLo, read32(bytes, at));
    hHi = hiWord();
    at += 4;
  }

  for (; at < end; at += 1) {
    hLo = tail1(hHi, hLo, bytes[at] as number);
    hHi = hiWord();
  }

  hLo = avalanche(hHi, hLo);
  out[0] = hiWord();
  out[1] = hLo;
}

const ROTATIONS = [0, 7, 12, 18];

/** Adds the rotated lanes together, then folds each lane in again. */
function converge(): void {
  let hLo = rotl64(lanes[0] as number, lanes[1] as number, 1);
  let hHi = hiWord();
  for (let lane = 2; lane < 8; lane += 2) {
    const tLo = rotl64(lanes[lane] as number, lanes[lane + 1] as number, ROTATIONS[lane >> 1]!);
    hLo = add64(hHi, hLo, hiWord(), tLo);
    hHi = hiWord();
  }

  for (let lane = 0; lane < 8; lane += 2) {
    hLo = mergeRound(hHi, hLo, lanes[lane] as number, lanes[lane + 1] as number);
    hHi = hiWord();
  }

  lanes[1] = hLo;
  register[0] = hHi;
}

/** One 8-byte step of the tail: `h = rotl(h ^ round(0, k), 27) × P1 + P4`. */
function tail8(hHi: number, hLo: number, kHi: number, kLo: number): number {
  const roundLo = round(0, 0, kHi, kLo);
  let lo = rotl64(hHi ^ hiWord(), hLo ^ roundLo, 27);
  lo = mul64(hiWord(), lo, P1_HI, P1_LO);
  return add64(hiWord(), lo, P4_HI, P4_LO);
}

/** The 4-byte step of the tail: `h = rotl(h ^ (k × P1), 23) × P2 + P3`. */
function tail4(hHi: number, hLo: number, word: number): number {
  const kLo = mul64(0, word, P1_HI, P1_LO);
  let lo = rotl64(hHi ^ hiWord(), hLo ^ kLo, 23);
  lo = mul64(hiWord(), lo, P2_HI, P2_LO);
  return add64(hiWord(), lo, P3_HI, P3_LO);
}

/** One 1-byte step of the tail: `h = rotl(h ^ (byte × P5), 11) × P1`. */
function tail1(hHi: number, hLo: number, byte: number): number {
  const kLo = mul64(0, byte, P5_HI, P5_LO);
  const lo = rotl64(hHi ^ hiWord(), hLo ^ kLo, 11);
  return mul64(hiWord(), lo, P1_HI, P1_LO);
}

/** The final mix, so every input bit reaches every output bit. */
function avalanche(hHi: number, hLo: number): number {
  let lo = hLo ^ (hHi >>> 1);
  lo = mul64(hHi, lo, P2_HI, P2_LO);
  let hi = hiWord();
  lo ^= (lo >>> 29) | (hi << 3);
  hi ^= hi >>> 29;
  lo = mul64(hi, lo, P3_HI, P3_LO);
  hi = hiWord();
  register[0] = hi;
  return lo ^ hi;
}

const encoder = new TextEncoder();
const scratchOut = new Uint32Array(2);

/**
 * XXH64 of a string's UTF-8 bytes (or of raw bytes) as an unsigned BigInt. Convenient for
 * reports and tests; pickers use {@link xxh64Into}, which allocates nothing.
 *
 * @example
 * ```ts
 * xxh64('abc'); // 0x44bc2cf5ad770999n
 * xxh64('', 0n); // 0xef46db3751d8e999n
 * ```
 */
export function xxh64(input: string | Uint8Array, seed = 0n): bigint {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  const seed64 = BigInt.asUintN(64, seed);
  xxh64Into(bytes, bytes.length, scratchOut, Number(seed64 >> 32n), Number(seed64 & 0xffffffffn));
  return (BigInt(scratchOut[0] as number) << 32n) | BigInt(scratchOut[1] as number);
}
