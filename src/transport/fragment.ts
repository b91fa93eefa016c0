import type { Readable } from 'node:stream';
import type { Worker } from '../discovery/worker.js';

/**
 * The body of a fragment. Text and bytes are replayable, and so is a function returning a
 * fresh stream for each attempt; a bare `AsyncIterable` is a one-shot stream and is never
 * retried.
 *
 * @example
 * ```ts
 * const replayable: FragmentBody = () => createReadStream('query.json');
 * const oneShot: FragmentBody = createReadStream('query.json'); // never retried
 * ```
 */
export type FragmentBody =
  | string
  | Uint8Array
  | AsyncIterable<Uint8Array>
  | (() => AsyncIterable<Uint8Array>);

/**
 * One piece of a query, sent to one worker as one HTTP request.
 *
 * @example
 * ```ts
 * const fragment: Fragment = {
 *   key: 'segment-1042',
 *   path: '/api/v1/fragment',
 *   body: JSON.stringify({ segment: 1042, query: 'sum(bytes)' }),
 *   headers: { 'content-type': 'application/json' },
 * };
 * ```
 */
export interface Fragment {
  /** The consistent-hashing key (a segment id, say); fragments without one are spread evenly. */
  readonly key?: string | undefined;
  /** The request path on the worker, starting with `/`. */
  readonly path: string;
  /** The HTTP method; `POST` by default. */
  readonly method?: string | undefined;
  /** The request body. */
  readonly body?: FragmentBody | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Whether the fragment may be sent again after a request may have reached a worker.
   * Queries have no side effects, so the default is `true`.
   */
  readonly idempotent?: boolean | undefined;
}

/**
 * Why an attempt ended the way it did.
 *
 * - `refused`, `unreachable`, `connect-timeout`: no connection; nothing reached the worker.
 * - `reset`: the connection closed after the request was sent, before a response.
 * - `timeout`: the worker took longer than `attemptTimeoutMs` to answer.
 * - `unavailable`: the worker answered `502`, `503`, `504` or `429`.
 * - `truncated`: the connection failed in the middle of the response body.
 * - `too-large`: the body exceeded `maxBodyBytes`.
 * - `hedge-lost`: a hedged copy answered first and this attempt was cancelled.
 * - `aborted`: the caller, a deadline or a fail-fast fan-out cancelled the attempt.
 *
 * @example
 * ```ts
 * const refusals = outcome.attempts.filter((attempt) => attempt.result === 'refused');
 * ```
 */
export type AttemptResult =
  | 'answered'
  | 'refused'
  | 'unreachable'
  | 'reset'
  | 'connect-timeout'
  | 'timeout'
  | 'unavailable'
  | 'truncated'
  | 'too-large'
  | 'hedge-lost'
  | 'aborted'
  | 'error';

/**
 * One try of a fragment on one worker.
 *
 * @example
 * ```ts
 * for (const attempt of outcome.attempts) {
 *   console.log(attempt.worker.id, attempt.result, attempt.status, attempt.durationMs);
 * }
 * ```
 */
export interface Attempt {
  /** The worker this attempt went to. */
  readonly worker: Worker;
  /** How the attempt ended. */
  readonly result: AttemptResult;
  /** The HTTP status, when a response arrived. */
  readonly status?: number | undefined;
  /** A short description of the failure, when there was one. */
  readonly error?: string | undefined;
  /** When the attempt was sent, on the `performance.now()` clock. */
  readonly startedAt: number;
  /** Milliseconds from sending to the end of the attempt. */
  readonly durationMs: number;
  /** True for a hedged copy sent while an earlier attempt was still running. */
  readonly hedge?: boolean | undefined;
}

/**
 * A fragment that a worker answered (any HTTP status counts as an answer).
 *
 * @example
 * ```ts
 * if (outcome.ok) console.log(outcome.worker.id, outcome.status, outcome.body.byteLength);
 * ```
 */
export interface AnsweredOutcome {
  readonly ok: true;
  /** The position of the fragment in the fan-out's input. */
  readonly index: number;
  readonly fragment: Fragment;
  /** The worker whose answer this is. */
  readonly worker: Worker;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /** Every attempt, in order; the last one is the answer. */
  readonly attempts: readonly Attempt[];
}

/**
 * A fragment that no worker answered; `error` says why and which workers were tried.
 *
 * @example
 * ```ts
 * if (!outcome.ok) console.error(`fragment ${outcome.index}: ${outcome.error.message}`);
 * ```
 */
export interface FailedOutcome {
  readonly ok: false;
  readonly index: number;
  readonly fragment: Fragment;
  readonly error: Error;
  readonly attempts: readonly Attempt[];
}

/**
 * What became of one fragment: answered or failed, never dropped.
 *
 * @example
 * ```ts
 * const outcomes: Outcome[] = await dispatcher.fanOut(fragments);
 * const answered = outcomes.filter((outcome) => outcome.ok).length;
 * ```
 */
export type Outcome = AnsweredOutcome | FailedOutcome;

/**
 * A fragment answered with a body still arriving, from `dispatchStream`. Read `body` to the
 * end (or destroy it): the worker's slot is held until then. If the worker dies part-way,
 * the stream fails with an error rather than ending early.
 *
 * @example
 * ```ts
 * const outcome = await dispatcher.dispatchStream(fragment);
 * if (outcome.ok) await pipeline(outcome.body, createWriteStream('result.bin'));
 * ```
 */
export interface StreamedOutcome extends Omit<AnsweredOutcome, 'body'> {
  /** The response body as it arrives; it errors, never ends early, if the worker dies. */
  readonly body: Readable;
}

/**
 * What `dispatchStream` resolves with.
 *
 * @example
 * ```ts
 * const outcome: StreamOutcome = await dispatcher.dispatchStream(fragment);
 * if (!outcome.ok) throw outcome.error;
 * ```
 */
export type StreamOutcome = StreamedOutcome | FailedOutcome;
