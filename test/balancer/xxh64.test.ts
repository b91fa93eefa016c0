import { describe, expect, it } from 'vitest';
import {
  Xxh64Prefix,
  xxh64,
  xxh64FromPrefix,
  xxh64Into,
  xxh64Prefix,
} from '../../src/balancer/xxh64.js';
import { encodeUtf8Into, maxUtf8Length } from '../../src/balancer/utf8.js';
import { referenceXxh64, seededRandom } from './helpers.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('xxh64', () => {
  it('matches the published test vectors', () => {
    expect(xxh64('')).toBe(0xef46db3751d8e999n);
    expect(xxh64('a')).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxh64('abc')).toBe(0x44bc2cf5ad770999n);
  });

  it('the BigInt reference matches the same vectors', () => {
    expect(referenceXxh64(text(''))).toBe(0xef46db3751d8e999n);
    expect(referenceXxh64(text('a'))).toBe(0xd24ec4f1a98c6e5bn);
    expect(referenceXxh64(text('abc'))).toBe(0x44bc2cf5ad770999n);
  });

  it('agrees with the BigInt reference on random inputs, lengths and seeds', () => {
    const random = seededRandom(0x5eed);

    // Lengths 0-99 cover every tail path (8-, 4- and 1-byte) with and without stripes.
    for (let round = 0; round < 3000; round += 1) {
      const length = round < 200 ? round % 100 : Math.floor(random() * 300);
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i += 1) bytes[i] = Math.floor(random() * 256);
      const seed = round % 3 === 0 ? 0n : BigInt(Math.floor(random() * 2 ** 32)) << 32n |
        BigInt(Math.floor(random() * 2 ** 32));

      expect(xxh64(bytes, seed)).toBe(referenceXxh64(bytes, seed));
    }
  });

  it('gives the same hash when resuming from a prefix state', () => {
    const random = seededRandom(77);
    const prefix = new Xxh64Prefix();
    const out = new Uint32Array(2);

    for (let round = 0; round < 2000; round += 1) {
      const length = Math.floor(random() * 200);
      const prefixLength = Math.floor(random() * (length + 1));
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i += 1) bytes[i] = Math.floor(random() * 256);

      xxh64Prefix(bytes, prefixLength, prefix);
      xxh64FromPrefix(prefix, bytes, length, out);
      const resumed = (BigInt(out[0] as number) << 32n) | BigInt(out[1] as number);
      expect(resumed).toBe(referenceXxh64(bytes));
    }
  });

  it('hashes only the first `length` bytes of the buffer', () => {
    const out = new Uint32Array(2);
    const buffer = text('abcXYZ');
    xxh64Into(buffer, 3, out);
    expect(out[0]).toBe(0x44bc2cf5);
    expect(out[1]).toBe(0xad770999);
  });
});

describe('utf8', () => {
  it('encodes like TextEncoder, lone surrogates included', () => {
    const samples = ['', 'abc', 'héllo', '€uro', '𝄞 clef', 'a\ud800b', 'x\udc00', '\ud83d'];
    for (const sample of samples) {
      const buffer = new Uint8Array(maxUtf8Length(sample));
      const end = encodeUtf8Into(sample, buffer, 0);
      expect([...buffer.subarray(0, end)]).toEqual([...text(sample)]);
    }
  });
});
