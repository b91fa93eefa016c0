/**
 * XXH64 (xxHash, 64-bit) written with 32-bit arithmetic only.
 *
 * A 64-bit value travels as two unsigned 32-bit words, `hi` and `lo`, held in plain numbers.
 * BigInt would be simpler but allocates on every operation; pickers hash on every pick, so the
 * hot path stays in numbers. The helpers below return the low word and leave the high word in
 * `carryHi`, a module-level register, so no object is built per operation.
 *
 * The algorithm follows the xxHash specification (stripes of 32 bytes into four lanes, then
 * 8-, 4- and 1-byte tails, then the avalanche); it is checked in the tests against published
 * vectors and against a BigInt transcription of the specification.
 */

// The five 64-bit primes of the specification, split into words.
const P1_HI = 0x9e3779b1;
const P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d;
const P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1;
const P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77;
const P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f;
const P5_LO = 0x165667c5;

const TWO_POW_32 = 4294967296;

/** High word of the last 64-bit result; the helpers return the low word. */
let carryHi = 0;

/** `a + b` modulo 2^64. */
function add64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const lo = aLo + bLo;
  carryHi = (aHi + bHi + (lo >= TWO_POW_32 ? 1 : 0)) >>> 0;
  return lo >>> 0;
}

/** `a - b` modulo 2^64. */
function sub64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const lo = aLo - bLo;
  carryHi = (aHi - bHi - (lo < 0 ? 1 : 0)) >>> 0;
  return lo >>> 0;
}

/** `a × b` modulo 2^64. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  // The high word of aLo × bLo needs the full 64-bit product: split into 16-bit halves so
  // every partial product stays below 2^53 and is exact in a double.
  const a1 = aLo >>> 16;
  const a0 = aLo & 0xffff;
  const b1 = bLo >>> 16;
  const b0 = bLo & 0xffff;
  const middle = a1 * b0 + a0 * b1;
  const carry = Math.floor((middle * 65536 + a0 * b0) / TWO_POW_32);

  // The cross terms only matter modulo 2^32, which Math.imul gives directly.
  carryHi = (a1 * b1 + carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
  return Math.imul(aLo, bLo) >>> 0;
}

/** Rotate left by `bits`, 0 < bits < 32 (XXH64 never rotates by 32 or more). */
function rotl64(hi: number, lo: number, bits: number): number {
  carryHi = ((hi << bits) | (lo >>> (32 - bits))) >>> 0;
  return ((lo << bits) | (hi >>> (32 - bits))) >>> 0;
}

/** One lane round: `rotl(acc + input × P2, 31) × P1`. */
function round(accHi: number, accLo: number, inHi: number, inLo: number): number {
  let lo = mul64(inHi, inLo, P2_HI, P2_LO);
  lo = add64(accHi, accLo, carryHi, lo);
  lo = rotl64(carryHi, lo, 31);
  return mul64(carryHi, lo, P1_HI, P1_LO);
}

/** Folds one lane into the accumulator: `(acc ^ round(0, lane)) × P1 + P4`. */
function mergeRound(accHi: number, accLo: number, laneHi: number, laneLo: number): number {
  let lo = round(0, 0, laneHi, laneLo);
  lo = mul64((accHi ^ carryHi) >>> 0, (accLo ^ lo) >>> 0, P1_HI, P1_LO);
  return add64(carryHi, lo, P4_HI, P4_LO);
}

function read32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
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
  let at = 0;
  let hHi: number;
  let hLo: number;

  if (length >= 32) {
    // Four lanes, each seeded differently, consume 32-byte stripes.
    let v1Lo = add64(seedHi, seedLo, P1_HI, P1_LO);
    let v1Hi = carryHi;
    v1Lo = add64(v1Hi, v1Lo, P2_HI, P2_LO);
    v1Hi = carryHi;
    let v2Lo = add64(seedHi, seedLo, P2_HI, P2_LO);
    let v2Hi = carryHi;
    let v3Lo = seedLo;
    let v3Hi = seedHi;
    let v4Lo = sub64(seedHi, seedLo, P1_HI, P1_LO);
    let v4Hi = carryHi;

    const lastStripe = length - 32;
    while (at <= lastStripe) {
      v1Lo = round(v1Hi, v1Lo, read32(bytes, at + 4), read32(bytes, at));
      v1Hi = carryHi;
      v2Lo = round(v2Hi, v2Lo, read32(bytes, at + 12), read32(bytes, at + 8));
      v2Hi = carryHi;
      v3Lo = round(v3Hi, v3Lo, read32(bytes, at + 20), read32(bytes, at + 16));
      v3Hi = carryHi;
      v4Lo = round(v4Hi, v4Lo, read32(bytes, at + 28), read32(bytes, at + 24));
      v4Hi = carryHi;
      at += 32;
    }

    // Converge the lanes, then fold each one in again.
    hLo = rotl64(v1Hi, v1Lo, 1);
    hHi = carryHi;
    let tLo = rotl64(v2Hi, v2Lo, 7);
    hLo = add64(hHi, hLo, carryHi, tLo);
    hHi = carryHi;
    tLo = rotl64(v3Hi, v3Lo, 12);
    hLo = add64(hHi, hLo, carryHi, tLo);
    hHi = carryHi;
    tLo = rotl64(v4Hi, v4Lo, 18);
    hLo = add64(hHi, hLo, carryHi, tLo);
    hHi = carryHi;

    hLo = mergeRound(hHi, hLo, v1Hi, v1Lo);
    hHi = carryHi;
    hLo = mergeRound(hHi, hLo, v2Hi, v2Lo);
    hHi = carryHi;
    hLo = mergeRound(hHi, hLo, v3Hi, v3Lo);
    hHi = carryHi;
    hLo = mergeRound(hHi, hLo, v4Hi, v4Lo);
    hHi = carryHi;
  } else {
    hLo = add64(seedHi, seedLo, P5_HI, P5_LO);
    hHi = carryHi;
  }

  // The length is below 2^53, so its high word is the integer part of length / 2^32.
  hLo = add64(hHi, hLo, Math.floor(length / TWO_POW_32), length >>> 0);
  hHi = carryHi;

  while (at + 8 <= length) {
    const kLo = round(0, 0, read32(bytes, at + 4), read32(bytes, at));
    hLo = rotl64((hHi ^ carryHi) >>> 0, (hLo ^ kLo) >>> 0, 27);
    hLo = mul64(carryHi, hLo, P1_HI, P1_LO);
    hLo = add64(carryHi, hLo, P4_HI, P4_LO);
    hHi = carryHi;
    at += 8;
  }

  if (at + 4 <= length) {
    const kLo = mul64(0, read32(bytes, at), P1_HI, P1_LO);
    hLo = rotl64((hHi ^ carryHi) >>> 0, (hLo ^ kLo) >>> 0, 23);
    hLo = mul64(carryHi, hLo, P2_HI, P2_LO);
    hLo = add64(carryHi, hLo, P3_HI, P3_LO);
    hHi = carryHi;
    at += 4;
  }

  while (at < length) {
    const kLo = mul64(0, bytes[at] as number, P5_HI, P5_LO);
    hLo = rotl64((hHi ^ carryHi) >>> 0, (hLo ^ kLo) >>> 0, 11);
    hLo = mul64(carryHi, hLo, P1_HI, P1_LO);
    hHi = carryHi;
    at += 1;
  }

  // Avalanche: every input bit reaches every output bit.
  hLo = (hLo ^ (hHi >>> 1)) >>> 0;
  hLo = mul64(hHi, hLo, P2_HI, P2_LO);
  hHi = carryHi;
  hLo = (hLo ^ ((hLo >>> 29) | (hHi << 3))) >>> 0;
  hHi = (hHi ^ (hHi >>> 29)) >>> 0;
  hLo = mul64(hHi, hLo, P3_HI, P3_LO);
  hHi = carryHi;
  hLo = (hLo ^ hHi) >>> 0;

  out[0] = hHi;
  out[1] = hLo;
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
