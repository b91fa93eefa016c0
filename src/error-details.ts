/**
 * Reading details out of errors and responses that every layer needs alike: the system error
 * code behind a wrapped failure, and the wait a server asks for with `Retry-After`.
 */

/**
 * The `code` of an error or of the first cause that has one (undici and fetch wrap socket
 * errors, sometimes twice).
 *
 * @example
 * ```ts
 * errorCode(new Error('fetch failed', { cause: { code: 'ECONNRESET' } })); // 'ECONNRESET'
 * ```
 */
export function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; depth < 5; depth += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`; `undefined`
 * when absent or malformed. Negative waits become 0.
 *
 * @example
 * ```ts
 * retryAfterMs('5', Date.now()); // 5000
 * ```
 */
export function retryAfterMs(
  header: string | string[] | undefined,
  now: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;

  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
