import type { Readable } from 'node:stream';
import type { Worker } from '../discovery/worker.js';
import { ConfigError } from '../errors.js';
import type { FailurePhase } from './classify.js';
import type { CallContext } from './call-context.js';
import { DispatcherClosedError, type RetryStop } from './errors.js';
import type { Attempt, AttemptResult, Fragment, Outcome } from './fragment.js';

// The state one fragment carries through its attempts, shared by the modules that run it.

/** A successful attempt: a whole body, or a body stream still being received. */
export interface Answer {
  readonly worker: Worker;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Uint8Array;
  readonly stream: Readable | undefined;
}

/** A failed attempt, thrown inside the retry loop. */
export class AttemptError extends Error {
  constructor(
    readonly result: AttemptResult,
    readonly phase: FailurePhase,
    readonly retryable: boolean,
    message: string,
    readonly stop?: RetryStop,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Everything known about one fragment while it runs. */
export interface FragmentRun {
  readonly fragment: Fragment;
  readonly attempts: Attempt[];
  readonly tried: Set<string>;
  /** The call's signal: the caller, the query deadline, fail-fast and early exits. */
  readonly signal: AbortSignal;
  /** The fragment's deadline on the `performance.now()` clock (fragment or query limit). */
  readonly deadlineAt: number;
  /** Which limit `deadlineAt` is. */
  readonly deadlineScope: 'fragment' | 'query';
  readonly streaming: boolean;
  /** The position of the fragment in its call, for outcomes and channel messages. */
  readonly index: number;
  /** The fan-out's identity token on the diagnostics channels; undefined for a dispatch. */
  readonly fanOut: object | undefined;
  started: number;
  /** The token of the latest attempt started, for `retryOf` on the diagnostics channels. */
  lastAttempt: object | undefined;
  stop: RetryStop | undefined;
  releaseRetry: (() => void) | undefined;
}

/** True when the body can be sent again: text, bytes or a stream factory. */
export function replayable(fragment: Fragment): boolean {
  const body = fragment.body;
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array ||
    typeof body === 'function';
}

/**
 * Milliseconds left before the fragment's deadline, for the timers of its waits. Waits clear
 * their timers when they end: a pending 60 s timer per wait adds up at high concurrency.
 */
export function remainingMs(run: FragmentRun): number {
  return Math.max(1, Math.ceil(run.deadlineAt - performance.now()));
}

/** True once the fragment's deadline has passed (timers may fire a millisecond early). */
export function expired(run: FragmentRun): boolean {
  return performance.now() >= run.deadlineAt - 2;
}

/** The reason given to the attempt that lost a hedge race. */
export class HedgeLost extends Error {
  constructor() {
    super('another copy of the fragment answered first');
  }
}

/** The state of a fragment about to run, with its deadline: the fragment's or the query's. */
export function newRun(
  fragment: Fragment,
  index: number,
  context: CallContext,
  fragmentTimeoutMs: number,
): FragmentRun {
  // No timer per fragment: undici enforces the deadline on each request through its
  // timeouts, and a timer is only made when the fragment has to wait for a slot or a worker.
  const fragmentDeadlineAt = performance.now() + fragmentTimeoutMs;
  return {
    fragment,
    attempts: [],
    tried: new Set(),
    signal: context.signal,
    deadlineAt: Math.min(context.queryDeadlineAt, fragmentDeadlineAt),
    deadlineScope: context.queryDeadlineAt < fragmentDeadlineAt ? 'query' : 'fragment',
    streaming: context.streaming,
    index,
    fanOut: context.fanOut,
    lastAttempt: undefined,
    started: 0,
    stop: undefined,
    releaseRetry: undefined,
  };
}

/**
 * The failed outcome of a fragment that is not even tried: the dispatcher was closed as its
 * call came in, or its path is not one a request can carry. Undefined when it may run.
 */
export function refusal(
  fragment: Fragment,
  index: number,
  admitted: boolean,
): Outcome | undefined {
  if (!admitted) {
    return { ok: false, index, fragment, error: new DispatcherClosedError(), attempts: [] };
  }
  if (typeof fragment.path !== 'string' || !fragment.path.startsWith('/')) {
    const error = new ConfigError(
      'fragment.path',
      `fragment ${index}: path must start with "/", got ${JSON.stringify(fragment.path)}`,
    );
    return { ok: false, index, fragment, error, attempts: [] };
  }
  return undefined;
}
