import pRetry from 'p-retry';
import type { CallContext } from './call-context.js';
import { AbortedError } from '../errors.js';
import { publishBudgetExhausted } from './diagnostics.js';
import { DeadlineExceededError, type RetryStop } from './errors.js';
import type { RetryBudget } from './retry-budget.js';
import {
  AttemptError,
  expired,
  replayable,
  type Answer,
  type FragmentRun,
} from './run-state.js';

/** The limits that decide whether a fragment gets another round. */
export interface RetryLimits {
  readonly budget: RetryBudget;
  /** Attempts per fragment, hedges included. */
  readonly maxAttempts: number;
}

/** Why a fragment ended without an answer, and how to say so in its error. */
export interface StopReason {
  readonly reason: RetryStop;
  readonly cause: Error | undefined;
  readonly summary: (index: number) => string;
}

/**
 * The retry loop: runs `round` until it answers or a retry is refused. A refusal is noted in
 * `run.stop`, and a granted retry holds a retry-budget token in `run.releaseRetry`.
 */
export async function retrying(
  run: FragmentRun,
  limits: RetryLimits,
  round: (run: FragmentRun) => Promise<Answer>,
): Promise<Answer> {
  // The first attempt runs inline: most fragments succeed at once and need no retry loop.
  try {
    return await round(run);
  } catch (error) {
    if (run.signal.aborted || !mayRetry(run, error as Error, limits)) throw error;
  }

  return pRetry(
    async () => {
      try {
        return await round(run);
      } finally {
        run.releaseRetry?.();
        run.releaseRetry = undefined;
      }
    },
    {
      // The real bound is checked in shouldRetry: hedges count as attempts too.
      retries: limits.maxAttempts - 1,
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      signal: run.signal,
      shouldRetry: ({ error }) => mayRetry(run, error, limits),
    },
  );
}

function mayRetry(run: FragmentRun, error: Error, limits: RetryLimits): boolean {
  const stop = whyNotRetry(run, error, limits.maxAttempts);
  if (stop) {
    run.stop = stop;
    return false;
  }

  // The budget is asked last, so a refusal really means "many failures right now".
  const release = limits.budget.tryAcquire();
  if (!release) {
    run.stop = 'retry-budget';
    publishBudgetExhausted(run);
    return false;
  }
  run.releaseRetry = release;
  return true;
}

function whyNotRetry(run: FragmentRun, error: Error, maxAttempts: number): RetryStop | undefined {
  if (!(error instanceof AttemptError)) return 'not-retryable';
  if (error.stop) return error.stop;
  if (!error.retryable) return 'not-retryable';
  if (expired(run)) return 'deadline';
  if (!replayable(run.fragment)) return 'one-shot-body';
  if (run.fragment.idempotent === false && error.phase !== 'connect') return 'not-idempotent';
  if (run.started >= maxAttempts) return 'max-attempts';
  return undefined;
}

/** Works out why a fragment ended without an answer. */
export function stopReason(
  run: FragmentRun,
  error: unknown,
  context: CallContext,
  fragmentTimeoutMs: number,
): StopReason {
  const last = run.attempts.at(-1);
  const lastWhy = last ? `last attempt: ${last.result}` : 'no attempt was made';

  if (context.queryTimeout?.aborted && !context.caller?.aborted) {
    const cause = new DeadlineExceededError('query', context.queryTimeoutMs ?? 0);
    return { reason: 'deadline', cause, summary: (i) => `fragment ${i}: ${cause.message}` };
  }
  const cancelled = context.cancel.signal;
  if (cancelled.aborted) {
    const reason: unknown = cancelled.reason;
    const cause = reason instanceof Error ? reason : new AbortedError(String(reason));
    return { reason: 'aborted', cause, summary: (i) => `fragment ${i} was cancelled` };
  }
  if (run.stop === 'deadline' || expired(run)) {
    const cause =
      run.deadlineScope === 'query'
        ? new DeadlineExceededError('query', context.queryTimeoutMs ?? 0)
        : new DeadlineExceededError('fragment', fragmentTimeoutMs);
    return { reason: 'deadline', cause, summary: (i) => `fragment ${i}: ${cause.message}` };
  }

  const reason =
    run.stop ?? (error instanceof AttemptError ? error.stop : undefined) ?? 'max-attempts';
  const cause = error instanceof Error ? error : undefined;
  const hint = reason === 'one-shot-body'
    ? '; its body is a one-shot stream, which cannot be sent twice: pass a function ' +
      'returning a fresh stream to allow retries'
    : '';
  return {
    reason,
    cause,
    summary: (i) => `fragment ${i} got no answer after ${run.attempts.length} attempt(s), ` +
      lastWhy + hint,
  };
}
