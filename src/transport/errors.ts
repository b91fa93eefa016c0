import { LakerunnerError } from '../errors.js';
import type { Attempt } from './fragment.js';
import { workerAddress } from '../discovery/worker.js';

/**
 * Why the dispatcher stopped trying a fragment: the answer to "why was this not retried?".
 *
 * - `not-retryable`: the last failure is of a kind that is not retried (a `500`, a body too
 *   large, an unknown error).
 * - `max-attempts`: the fragment used every attempt `maxAttempts` allows.
 * - `retry-budget`: the dispatcher-wide retry budget was spent (many failures at once).
 * - `not-idempotent`: the request may have reached a worker and the fragment says
 *   `idempotent: false`.
 * - `one-shot-body`: the body is a one-shot stream that cannot be sent twice.
 * - `no-other-worker`: every known worker was already tried.
 * - `no-workers`: discovery knows no worker.
 * - `deadline`: the fragment or query deadline passed.
 * - `aborted`: the caller's signal fired, or a fail-fast fan-out was cancelled.
 *
 * @example
 * ```ts
 * if (!outcome.ok && outcome.error instanceof FragmentFailedError) {
 *   if (outcome.error.stoppedBy === 'retry-budget') alert('many workers are failing');
 * }
 * ```
 */
export type RetryStop =
  | 'not-retryable'
  | 'max-attempts'
  | 'retry-budget'
  | 'not-idempotent'
  | 'one-shot-body'
  | 'no-other-worker'
  | 'no-workers'
  | 'deadline'
  | 'aborted';

/**
 * Describes the workers tried, in order, for error messages: `id (ip:port): reason`.
 *
 * @example
 * ```ts
 * describeAttempts(outcome.attempts);
 * // 'w1 (10.0.0.7:7101): refused [connect ECONNREFUSED 10.0.0.7:7101]; w2 (…): answered 200'
 * ```
 */
export function describeAttempts(attempts: readonly Attempt[]): string {
  if (attempts.length === 0) return 'no worker was tried';

  return attempts
    .map((attempt) => {
      const why =
        attempt.status === undefined ? attempt.result : `${attempt.result} ${attempt.status}`;
      const detail = attempt.error === undefined ? '' : ` [${attempt.error.slice(0, 120)}]`;
      return `${attempt.worker.id} (${workerAddress(attempt.worker)}): ${why}${detail}`;
    })
    .join('; ');
}

/**
 * A fragment ended without an answer. The message names every worker tried and why each
 * attempt failed, and {@link FragmentFailedError.stoppedBy} says why no further attempt was
 * made.
 *
 * @example
 * ```ts
 * const outcome = await dispatcher.dispatch(fragment);
 * if (!outcome.ok && outcome.error instanceof FragmentFailedError) {
 *   console.error(outcome.error.stoppedBy, outcome.error.workersTried);
 * }
 * ```
 */
export class FragmentFailedError extends LakerunnerError {
  /** Why the dispatcher gave up on the fragment. */
  readonly stoppedBy: RetryStop;
  /** Every attempt, in order. */
  readonly attempts: readonly Attempt[];
  /** The ids of the workers tried, in order, without repeats. */
  readonly workersTried: readonly string[];

  constructor(
    stoppedBy: RetryStop,
    summary: string,
    attempts: readonly Attempt[],
    options?: ErrorOptions,
  ) {
    super(
      'ERR_LAKERUNNER_FRAGMENT_FAILED',
      `${summary} (stopped by: ${stoppedBy}). Tried: ${describeAttempts(attempts)}`,
      options,
    );
    this.stoppedBy = stoppedBy;
    this.attempts = attempts;
    this.workersTried = [...new Set(attempts.map((attempt) => attempt.worker.id))];
  }
}

/**
 * The dispatcher's queue of waiting fragments is full; the fragment was not accepted. Slow
 * down, raise `maxQueued`, or raise `maxInFlight` if the workers can take more.
 *
 * @example
 * ```ts
 * const outcome = await dispatcher.dispatch(fragment);
 * if (!outcome.ok && outcome.error instanceof QueueFullError) await backOff();
 * ```
 */
export class QueueFullError extends LakerunnerError {
  /** The queue length that was reached (the `maxQueued` option). */
  readonly maxQueued: number;

  constructor(maxQueued: number) {
    super(
      'ERR_LAKERUNNER_QUEUE_FULL',
      `the dispatcher queue is full: ${maxQueued} fragments are already waiting ` +
        `(option maxQueued=${maxQueued}); retry later or raise maxQueued or maxInFlight`,
    );
    this.maxQueued = maxQueued;
  }
}

/**
 * The dispatcher was closed (or is closing) and takes no new fragments.
 *
 * @example
 * ```ts
 * await dispatcher.close();
 * const outcome = await dispatcher.dispatch(fragment); // outcome.error is DispatcherClosedError
 * ```
 */
export class DispatcherClosedError extends LakerunnerError {
  constructor(message = 'the fragment dispatcher is closed and takes no new fragments') {
    super('ERR_LAKERUNNER_DISPATCHER_CLOSED', message);
  }
}

/**
 * A fragment's own timeout (`fragmentTimeoutMs`) or the query's deadline (`timeoutMs` of the
 * call) passed before any worker answered.
 *
 * @example
 * ```ts
 * const outcomes = await dispatcher.fanOut(fragments, { timeoutMs: 5_000 });
 * const late = outcomes.filter((o) => !o.ok && o.error instanceof DeadlineExceededError);
 * ```
 */
export class DeadlineExceededError extends LakerunnerError {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** Which limit: the fragment's own or the whole query's. */
  readonly scope: 'fragment' | 'query';

  constructor(scope: 'fragment' | 'query', timeoutMs: number) {
    const option = scope === 'fragment' ? 'fragmentTimeoutMs' : 'timeoutMs';
    super(
      'ERR_LAKERUNNER_DEADLINE',
      `the ${scope} deadline of ${timeoutMs} ms passed before a worker answered ` +
        `(option ${option}=${timeoutMs})`,
    );
    this.scope = scope;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A worker's response body was larger than `maxBodyBytes`. The read stopped there, so memory
 * stays bounded; use `dispatchStream` for large results.
 *
 * @example
 * ```ts
 * if (!outcome.ok && outcome.error.cause instanceof BodyTooLargeError) useStreaming();
 * ```
 */
export class BodyTooLargeError extends LakerunnerError {
  /** The limit that was exceeded (the `maxBodyBytes` option). */
  readonly maxBodyBytes: number;

  constructor(maxBodyBytes: number) {
    super(
      'ERR_LAKERUNNER_BODY_TOO_LARGE',
      `the response body exceeded maxBodyBytes=${maxBodyBytes}; raise the option or consume ` +
        'the response as a stream with dispatchStream()',
    );
    this.maxBodyBytes = maxBodyBytes;
  }
}
