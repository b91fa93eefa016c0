import type { Worker } from '../discovery/worker.js';
import {
  channels,
  publish,
  type AttemptStartMessage,
  type FanOutEndMessage,
  type FanOutStartMessage,
  type FragmentEndMessage,
  type RetryBudgetExhaustedMessage,
} from '../observability/channels.js';
import type { Outcome, StreamOutcome } from './fragment.js';
import type { FragmentRun } from './run-state.js';

// The dispatcher's messages on the diagnostics channels. Each helper builds its message only
// when someone subscribes, so a dispatcher nobody watches pays nothing for them.

/** The identity of one attempt on the channels, with the headers it will send. */
export interface AttemptToken {
  readonly headers: Record<string, string>;
}

/** True when anyone listens to attempts, so that an attempt token is worth making. */
export function attemptsWatched(): boolean {
  return channels.attemptStart.hasSubscribers || channels.attemptEnd.hasSubscribers;
}

/**
 * Publishes an attempt's start. Subscribers may add headers (trace context), so the
 * attempt then sends a copy of the fragment's headers that they can write to.
 */
export function announceAttempt(run: FragmentRun, worker: Worker, hedge: boolean): AttemptToken {
  const retryOf = run.lastAttempt;
  const token = { headers: { ...run.fragment.headers } };
  run.lastAttempt = token;
  publish(channels.attemptStart, (): AttemptStartMessage => ({
    attempt: token,
    fanOut: run.fanOut,
    fragmentIndex: run.index,
    attemptNumber: run.started,
    worker,
    cause: hedge ? 'hedge' : retryOf ? 'retry' : 'first',
    retryOf: hedge ? undefined : retryOf,
    headers: token.headers,
  }));
  return token;
}

/** Publishes a fragment's end; a streamed body is shown as empty, since it is still flowing. */
export function publishFragmentEnd(
  fanOut: object | undefined,
  outcome: Outcome | StreamOutcome,
  startedAt: number,
): void {
  publish(channels.fragmentEnd, (): FragmentEndMessage => ({
    fanOut,
    outcome: outcome.ok && !(outcome.body instanceof Uint8Array)
      ? { ...outcome, body: new Uint8Array(0) }
      : (outcome as Outcome),
    durationMs: performance.now() - startedAt,
  }));
}

/** Publishes the start of a fan-out of `fragments` fragments. */
export function publishFanOutStart(fanOut: object, fragments: number): void {
  publish(channels.fanOutStart, (): FanOutStartMessage => ({ fanOut, fragments }));
}

/** Publishes the end of a fan-out, with how many of its fragments were answered. */
export function publishFanOutEnd(
  fanOut: object,
  fragments: number,
  answered: number,
  startedAt: number,
): void {
  publish(channels.fanOutEnd, (): FanOutEndMessage => ({
    fanOut,
    answered,
    failed: fragments - answered,
    durationMs: performance.now() - startedAt,
  }));
}

/** Publishes that a fragment was refused a retry because the retry budget was spent. */
export function publishBudgetExhausted(run: FragmentRun): void {
  publish(channels.retryBudgetExhausted, (): RetryBudgetExhaustedMessage => ({
    fragmentIndex: run.index,
    worker: run.attempts.at(-1)?.worker,
  }));
}
