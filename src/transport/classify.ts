import { errorCode } from '../error-details.js';
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
