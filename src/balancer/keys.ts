import { ConfigError } from '../errors.js';

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_INT64 = 2n ** 63n - 1n;

/**
 * A segment id as lakerunner stores it: a non-negative 64-bit integer.
 *
 * @example
 * ```ts
 * const ids: SegmentId[] = [42, 9_007_199_254_740_993n, '18446744073709551615'];
 * const keys = ids.map((id) => segmentKey(id, orgId));
 * ```
 */
export type SegmentId = number | bigint | string;

/**
 * The bare decimal segment id used as a balancing key, as lakerunner's Go coordinators
 * format it (`strconv.FormatInt`): no sign, no leading zeros, no exponent.
 *
 * @throws ConfigError when the id is not a non-negative integer that fits in int64
 * @example
 * ```ts
 * segmentIdKey(42); // '42'
 * segmentIdKey(9007199254740993n); // '9007199254740993'
 * ```
 */
export function segmentIdKey(segmentId: SegmentId): string {
  let value: bigint;

  if (typeof segmentId === 'bigint') {
    value = segmentId;
  } else if (typeof segmentId === 'number') {
    // Past 2^53 a number has already lost digits; ask for a bigint or a string instead.
    if (!Number.isSafeInteger(segmentId)) {
      throw new ConfigError(
        'segmentId',
        `segmentId ${segmentId} is not a safe integer; pass a bigint or a decimal string`,
      );
    }
    value = BigInt(segmentId);
  } else if (typeof segmentId === 'string' && DECIMAL.test(segmentId)) {
    value = BigInt(segmentId);
  } else {
    throw new ConfigError(
      'segmentId',
      `segmentId ${JSON.stringify(segmentId)} is not a decimal integer such as "42"`,
    );
  }

  if (value < 0n || value > MAX_INT64) {
    throw new ConfigError(
      'segmentId',
      `segmentId ${value} is out of range; expected 0 to ${MAX_INT64}`,
    );
  }

  return value.toString(10);
}

/**
 * The key lakerunner's coordinators balance segment work by: `"<segmentId>:<orgId>"`, with
 * the segment id in decimal and the organisation id as a lowercase UUID.
 *
 * @throws ConfigError when the segment id or the organisation id is malformed
 * @example
 * ```ts
 * segmentKey(1, '00000000-0000-0000-0000-000000000001');
 * // '1:00000000-0000-0000-0000-000000000001'
 * ```
 */
export function segmentKey(segmentId: SegmentId, orgId: string): string {
  const segment = segmentIdKey(segmentId);
  const org = typeof orgId === 'string' ? orgId.toLowerCase() : '';

  if (!UUID.test(org)) {
    throw new ConfigError(
      'orgId',
      `orgId ${JSON.stringify(orgId)} is not a UUID such as ` +
        '"00000000-0000-0000-0000-000000000001"',
    );
  }

  return `${segment}:${org}`;
}
