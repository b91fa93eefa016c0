import { encodeUtf8Into, maxUtf8Length } from './utf8.js';
import { Xxh64Prefix, xxh64FromPrefix, xxh64Into, xxh64Prefix } from './xxh64.js';

const encoder = new TextEncoder();

/**
 * Hashes one key, alone or followed by a worker's identity bytes, into {@link KeyHasher.out}.
 * Each picker owns one, so its scratch buffer is reused across picks and nothing is
 * allocated unless a key longer than any before it arrives.
 */
export class KeyHasher {
  /** The last hash: `out[0]` high word, `out[1]` low word. */
  readonly out = new Uint32Array(2);
  #buffer = new Uint8Array(512);
  #keyLength = 0;
  /** The key's whole stripes, hashed once per key instead of once per worker. */
  readonly #prefix = new Xxh64Prefix();
  /** Whether {@link #prefix} belongs to the current key; computed on first `hashWith`. */
  #prefixReady = false;

  /**
   * The UTF-8 bytes of `text`, for identities encoded once per picker.
   *
   * @example
   * ```ts
   * const identity = KeyHasher.bytes('pod-uid-a');
   * ```
   */
  static bytes(text: string): Uint8Array {
    return encoder.encode(text);
  }

  /** Makes `key` the prefix of the following hashes. */
  setKey(key: string): void {
    this.#reserve(maxUtf8Length(key));
    this.#keyLength = encodeUtf8Into(key, this.#buffer, 0);

    // Hashing policies that hash the key alone never need the prefix state: skip its cost.
    this.#prefixReady = false;
  }

  /** XXH64 of the key's bytes alone, with a seed given as two words. */
  hashKey(seedHi = 0, seedLo = 0): void {
    xxh64Into(this.#buffer, this.#keyLength, this.out, seedHi, seedLo);
  }

  /** XXH64 (seed 0) of the key's bytes followed directly by `suffix`. */
  hashWith(suffix: Uint8Array): void {
    const length = this.#keyLength + suffix.length;
    this.#reserve(length);
    this.#buffer.set(suffix, this.#keyLength);
    if (!this.#prefixReady) {
      xxh64Prefix(this.#buffer, this.#keyLength, this.#prefix);
      this.#prefixReady = true;
    }
    xxh64FromPrefix(this.#prefix, this.#buffer, length, this.out);
  }

  /** XXH64 of `bytes` alone with a seed given as two words, for per-worker hashes. */
  hashBytes(bytes: Uint8Array, seedHi = 0, seedLo = 0): void {
    xxh64Into(bytes, bytes.length, this.out, seedHi, seedLo);
  }

  /** A number in [0, 1) drawn from the key alone, for per-key decisions such as slow start. */
  keyFraction(): number {
    this.hashKey(0, 1);
    return (this.out[0] as number) / 4294967296;
  }

  /** The last hash modulo `modulus` (below 2^24), computed exactly from both words. */
  modulo(modulus: number): number {
    const hi = this.out[0] as number;
    const lo = this.out[1] as number;
    return (((hi % modulus) * (4294967296 % modulus)) + (lo % modulus)) % modulus;
  }

  #reserve(length: number): void {
    if (length <= this.#buffer.length) return;

    // Grow geometrically, keeping the key bytes already written.
    const grown = new Uint8Array(Math.max(length, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#keyLength));
    this.#buffer = grown;
  }
}
