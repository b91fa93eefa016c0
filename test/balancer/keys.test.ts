import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { segmentIdKey, segmentKey } from '../../src/balancer/keys.js';

describe('segment keys', () => {
  it('formats segment ids in decimal from numbers, bigints and strings', () => {
    expect(segmentIdKey(0)).toBe('0');
    expect(segmentIdKey(42)).toBe('42');
    expect(segmentIdKey(9_223_372_036_854_775_807n)).toBe('9223372036854775807');
    expect(segmentIdKey('9007199254740993')).toBe('9007199254740993');
  });

  it('rejects ids that are not non-negative int64 decimals, naming the option', () => {
    const bad = [-1, 1.5, 2 ** 60, '007', '1e3', ' 1', '-1', '', 2n ** 63n, -1n];
    for (const value of bad) {
      expect(() => segmentIdKey(value), String(value)).toThrow(ConfigError);
    }
    expect(() => segmentIdKey('x')).toThrow(/segmentId "x"/);
  });

  it('joins the segment id and the lowercased organisation UUID', () => {
    expect(segmentKey(1, '00000000-0000-0000-0000-000000000001'))
      .toBe('1:00000000-0000-0000-0000-000000000001');
    expect(segmentKey('7', '0190A9C2-5B5E-7C3D-9F00-1234567890AB'))
      .toBe('7:0190a9c2-5b5e-7c3d-9f00-1234567890ab');
  });

  it('rejects malformed organisation ids, naming the option', () => {
    for (const org of ['', 'not-a-uuid', '00000000000000000000000000000001', '{0000-}']) {
      try {
        segmentKey(1, org);
        expect.fail(`accepted ${org}`);
      } catch (error) {
        expect((error as ConfigError).setting).toBe('orgId');
      }
    }
  });
});
