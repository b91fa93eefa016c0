import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { LoadTracker } from '../balancer/load-tracker.js';
import type { WorkerSource } from '../discovery/cache.js';
import type { Worker } from '../discovery/worker.js';
import type { Logger } from '../logger.js';
import {
  channels,
  publish,
  type AttemptEndMessage,
  type EjectionMessage,
} from '../observability/channels.js';
import { readWhole } from './body.js';
import { errorCode, retryAfterMs } from '../error-details.js';
import { classifyError } from './classify.js';
import { announceAttempt, attemptsWatched, type AttemptToken } from './diagnostics.js';
import type { AttemptResult } from './fragment.js';
import type { WorkerHealth } from './health.js';
import type { WorkerPools } from './pools.js';
import type { RetryBudget } from './retry-budget.js';
import { AttemptError, HedgeLost, type Answer, type FragmentRun } from './run-state.js';
import type { WorkerLease } from './worker-choice.js';

/** Records how an attempt ended in `run.attempts`; returns the attempt's duration. */
type Recorder = (result: AttemptResult, extra?: { status?: number; error?: string }) => number;

/** What {@link AttemptSender} needs from the dispatcher. */
export interface AttemptSenderOptions {
  readonly source: WorkerSource;
  readonly pools: WorkerPools;
  readonly tracker: LoadTracker;
  readonly health: WorkerHealth;
  readonly budget: RetryBudget;
  readonly logger: Logger;
  /** Statuses that mean "try another worker". */
  readonly retryStatuses: ReadonlySet<number>;
  readonly attemptTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** How many workers are known now, which bounds how many may be ejected. */
  readonly workerCount: () => number;
}

/**
 * The recorder of the attempt just started: it times the attempt from now, and on its end
 * adds it to `run.attempts` and publishes it.
 */
function recorder(
  run: FragmentRun,
  worker: Worker,
  hedge: boolean,
  token: AttemptToken | undefined,
): Recorder {
  const attemptNumber = run.started;
  const startedAt = performance.now();
  return (result, extra = {}) => {
    const durationMs = performance.now() - startedAt;
    const attempt = { worker, result, startedAt, durationMs, ...extra };
    run.attempts.push(hedge ? { ...attempt, hedge } : attempt);
    publish(channels.attemptEnd, (): AttemptEndMessage => ({
      ...attempt,
      attempt: token ?? {},
      attemptNumber,
    }));
    return durationMs;
  };
}

const tlsCodePattern = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/;

/**
 * Sends one attempt of a fragment to one worker and classifies how it ended: an answer, or an
 * {@link AttemptError} saying whether another worker may be tried. Every ending feeds the
 * worker's health and the retry budget.
 */
export class AttemptSender {
  readonly #options: AttemptSenderOptions;

  constructor(options: AttemptSenderOptions) {
    this.#options = options;
  }

  /** One HTTP request to one worker, recorded in `run.attempts` however it ends. */
  async send(
    run: FragmentRun,
    lease: WorkerLease,
    signal: AbortSignal,
    hedge: boolean,
  ): Promise<Answer> {
    const { worker } = lease;
    run.started += 1;
    run.tried.add(worker.id);
    const token = attemptsWatched() ? announceAttempt(run, worker, hedge) : undefined;
    const record = recorder(run, worker, hedge, token);
    const healthStartedAt = this.#options.health.now();

    let inBody = false;
    const endLoad = this.#options.tracker.start(worker.id);
    let release: (() => void) | undefined = () => {
      endLoad();
      lease.release();
    };
    try {
      const response = await this.#options.pools
        .get(worker)
        .request(this.#request(run, signal, token?.headers));
      const status = response.statusCode;
      if (this.#options.retryStatuses.has(status)) {
        throw await this.#unavailable(worker, response, record);
      }

      if (run.streaming) {
        // The worker's slot is held until the caller has finished with the body.
        response.body.once('close', release);
        release = undefined;
        const durationMs = record('answered', { status });
        this.#answered(worker, durationMs);
        endLoad(durationMs);
        const empty = new Uint8Array(0);
        return { worker, status, headers: response.headers, body: empty, stream: response.body };
      }

      inBody = true;
      const body = await readWhole(response, this.#options.maxBodyBytes);
      const durationMs = record('answered', { status });
      this.#answered(worker, durationMs);
      endLoad(durationMs);
      return { worker, status, headers: response.headers, body, stream: undefined };
    } catch (error) {
      if (error instanceof AttemptError) throw error;
      throw this.#failed(worker, error, inBody, signal, record, healthStartedAt);
    } finally {
      release?.();
    }
  }

  #answered(worker: Worker, durationMs: number): void {
    this.#options.health.recordSuccess(worker.id, durationMs);
    this.#options.budget.recordSuccess();
  }

  #request(
    run: FragmentRun,
    signal: AbortSignal,
    headers: Record<string, string> | undefined,
  ): Dispatcher.RequestOptions {
    const fragment = run.fragment;
    const remaining = Math.max(1, Math.floor(run.deadlineAt - performance.now()));
    const timeout = Math.min(this.#options.attemptTimeoutMs, remaining);
    const source = typeof fragment.body === 'function' ? fragment.body() : fragment.body;
    const body =
      source === undefined || typeof source === 'string' || source instanceof Uint8Array
        ? source
        : Readable.from(source, { objectMode: false });
    return {
      path: fragment.path,
      method: (fragment.method ?? 'POST') as Dispatcher.HttpMethod,
      headers: headers ?? fragment.headers ?? {},
      body: body ?? null,
      signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    };
  }

  /** A 502/503/504/429: honour Retry-After by keeping the worker out of picks, then retry. */
  async #unavailable(
    worker: Worker,
    response: Dispatcher.ResponseData,
    record: Recorder,
  ): Promise<AttemptError> {
    await response.body.dump().catch(() => undefined);
    const status = response.statusCode;
    record('unavailable', { status });

    const holdMs = retryAfterMs(response.headers['retry-after'], Date.now());
    if (holdMs !== undefined && holdMs > 0) this.#options.health.holdOff(worker.id, holdMs);
    if (status === 502 || status === 504) this.#workerFailed(worker, 'bad gateway or timeout');
    this.#options.budget.recordFailure();
    return new AttemptError('unavailable', 'request', true, `worker answered ${status}`);
  }

  #failed(
    worker: Worker,
    error: unknown,
    inBody: boolean,
    signal: AbortSignal,
    record: Recorder,
    healthStartedAt: number,
  ): AttemptError {
    const message = attemptMessage(error);
    if (signal.aborted) {
      // Cancelled from outside: a lost hedge race, a deadline or the caller. Never retried.
      const result: AttemptResult = signal.reason instanceof HedgeLost ? 'hedge-lost' : 'aborted';
      record(result, { error: message });
      // A worker that loses a race and has answered nothing at all meanwhile is stuck, not
      // slow: count it, or hedging would hide its timeouts and it would never be ejected. A
      // busy worker that answers other fragments while losing a few races is left alone.
      const health = this.#options.health;
      if (result === 'hedge-lost' && !health.answeredSince(worker.id, healthStartedAt)) {
        this.#workerFailed(worker, 'lost a hedge race and answered nothing meanwhile');
      }
      return new AttemptError(result, 'request', false, message, 'aborted', { cause: error });
    }

    const failure = classifyError(error, inBody);
    record(failure.result, { error: message });
    if (failure.retryable) this.#options.budget.recordFailure();
    if (failure.countsAgainstWorker) this.#workerFailed(worker, failure.result);
    if (failure.phase === 'connect') {
      this.#options.source.requestRefresh(`worker ${worker.id} ${failure.result}`);
    }
    return new AttemptError(failure.result, failure.phase, failure.retryable, message, undefined, {
      cause: error,
    });
  }

  #workerFailed(worker: Worker, why: string): void {
    const ejected = this.#options.health.recordFailure(worker.id, this.#options.workerCount());
    if (!ejected) return;

    const state = this.#options.health.state(worker.id);
    const ejectedForMs = state.lastEjectionMs;
    this.#options.logger.warn({ worker: worker.id, why, ejectedForMs }, 'worker ejected');
    publish(channels.ejection, (): EjectionMessage => ({
      worker,
      ejectedForMs,
      ejections: state.ejections,
    }));
  }
}

/**
 * An attempt's error as text. A TLS failure says so and what to check, since the bare OpenSSL
 * wording ("unable to verify the first certificate") does not mention TLS options at all.
 */
function attemptMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  if (code === undefined || !tlsCodePattern.test(code)) return message;
  // describeAttempts keeps 120 characters of this: the code and the hint come first.
  return `TLS failed (${code}; check tls.ca, tls.servername, tls.cert): ${message}`;
}
