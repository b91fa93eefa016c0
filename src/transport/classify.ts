import type { AttemptResult } from './fragment.js';

/**
 * Where a failure happened, which decides whether a retry is safe:
 * `connect` means nothing reached the worker; `request` means the request may have reached it;
 * `body` means a response had started.
 *
 * @example
 * ```ts
 * if (classifyError(error, false).phase === 'connect') retryEvenIfNotIdempotent();
 * ```
 */
export type FailurePhase = 'connect' | 'request' | 'body';

/**
 * A failed attempt, classified. Pure data, so the rules are tested without sockets.
 *
 * @example
 * ```ts
 * const failure: FailureClass = classifyError(error, inBody);
 * if (failure.countsAgainstWorker) health.recordFailure(worker.id, workers.length);
 * ```
 */
export interface FailureClass {
  readonly result: AttemptResult;
  readonly phase: FailurePhase;
  /** True when another worker may well answer: the failure belongs to this worker. */
  readonly retryable: boolean;
  /** True when the failure says the worker (not the fragment) is unwell. */
  readonly countsAgainstWorker: boolean;
}

const noConnection: Readonly<Record<string, AttemptResult>> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connect-timeout',
  // A pool retired between the pick and the send: nothing was sent.
  UND_ERR_CLOSED: 'refused',
  UND_ERR_DESTROYED: 'refused',
};

const connectionLost = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

const timedOut = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The `code` of an error or of its cause (undici wraps some socket errors).
 *
 * @example
 * ```ts
 * errorCode(new Error('fetch failed', { cause: { code: 'ECONNRESET' } })); // 'ECONNRESET'
 * ```
 */
export function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; depth < 4; depth += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Classifies an error thrown by an attempt. `inBody` says whether the response headers had
 * arrived: a lost connection then means a truncated body, never a short success.
 *
 * @example
 * ```ts
 * classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), false);
 * // { result: 'refused', phase: 'connect', retryable: true, countsAgainstWorker: true }
 * ```
 */
export function classifyError(error: unknown, inBody: boolean): FailureClass {
  const code = errorCode(error) ?? '';

  const refused = noConnection[code];
  if (refused !== undefined) {
    return { result: refused, phase: 'connect', retryable: true, countsAgainstWorker: true };
  }
  if (connectionLost.has(code)) {
    const result: AttemptResult = inBody ? 'truncated' : 'reset';
    const phase: FailurePhase = inBody ? 'body' : 'request';
    return { result, phase, retryable: true, countsAgainstWorker: true };
  }
  if (timedOut.has(code)) {
    const phase: FailurePhase = inBody ? 'body' : 'request';
    return { result: 'timeout', phase, retryable: true, countsAgainstWorker: true };
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE' || code === 'ERR_LAKERUNNER_BODY_TOO_LARGE') {
    return { result: 'too-large', phase: 'body', retryable: false, countsAgainstWorker: false };
  }
  return {
    result: 'error',
    phase: inBody ? 'body' : 'request',
    retryable: false,
    countsAgainstWorker: false,
  };
}

/**
 * The statuses retried on another worker by default: overloaded, draining or a bad hop.
 *
 * @example
 * ```ts
 * new FragmentDispatcher(cache, {
 *   picker: 'rendezvous',
 *   retryStatuses: [...defaultRetryStatuses, 500],
 * });
 * ```
 */
export const defaultRetryStatuses: readonly number[] = Object.freeze([429, 502, 503, 504]);

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
