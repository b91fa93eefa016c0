import { Readable } from 'node:stream';
import pRetry from 'p-retry';
import type { Dispatcher } from 'undici';
import { AbortedError, ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Picker } from '../balancer/picker.js';
import { LoadTracker } from '../balancer/load-tracker.js';
import type { PickerOptions } from '../balancer/options.js';
import { createPicker } from '../balancer/registry.js';
import type { WorkerSource } from '../discovery/cache.js';
import type { WorkerChange } from '../discovery/diff.js';
import type { Worker } from '../discovery/worker.js';
import {
  classifyError,
  errorCode,
  defaultRetryStatuses,
  retryAfterMs,
  type FailurePhase,
} from './classify.js';
import {
  BodyTooLargeError,
  DeadlineExceededError,
  DispatcherClosedError,
  FragmentFailedError,
  QueueFullError,
  type RetryStop,
} from './errors.js';
import type { Attempt, AttemptResult, Fragment, Outcome, StreamOutcome } from './fragment.js';
import { WorkerHealth, type WorkerHealthOptions } from './health.js';
import { Limiter } from './limiter.js';
import { WorkerPools } from './pools.js';
import {
  channels,
  publish,
  type AttemptEndMessage,
  type AttemptStartMessage,
  type EjectionMessage,
  type FanOutEndMessage,
  type FanOutStartMessage,
  type FragmentEndMessage,
  type RetryBudgetExhaustedMessage,
} from '../observability/channels.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';

/**
 * Builds a {@link Picker} from a worker set; called again on every change to the set.
 *
 * @example
 * ```ts
 * const policy: PickerPolicy = (workers) => createPicker('rendezvous', workers);
 * new FragmentDispatcher(cache, { picker: policy });
 * ```
 */
export type PickerPolicy = (workers: readonly Worker[]) => Picker;

/**
 * TLS to workers, for clusters that encrypt pod traffic. The worker's certificate is always
 * verified against `ca`; there is no switch to turn verification off.
 *
 * @example
 * ```ts
 * const tls: WorkerTlsOptions = {
 *   ca: readFileSync('/etc/lakerunner/worker-ca.pem', 'utf8'),
 *   cert: readFileSync('/etc/lakerunner/client.pem', 'utf8'),
 *   key: readFileSync('/etc/lakerunner/client-key.pem', 'utf8'),
 *   servername: 'query-worker.lake.svc',
 * };
 * ```
 */
export interface WorkerTlsOptions {
  /** PEM CA certificate(s) that issued the workers' certificates. Required. */
  readonly ca: string | Buffer | readonly (string | Buffer)[];
  /** PEM client certificate, for workers that demand mutual TLS. Needs `key`. */
  readonly cert?: string | Buffer | undefined;
  /** PEM private key of `cert`. Never logged nor put in an error. */
  readonly key?: string | Buffer | undefined;
  /**
   * The name the workers' certificates are checked against (and sent as SNI), such as the
   * workers' Service name, since pod IPs rarely appear in certificates. Default: the worker's
   * IP address, which its certificate must then list.
   */
  readonly servername?: string | undefined;
}

/**
 * Options for {@link FragmentDispatcher}. Times are in milliseconds.
 *
 * @example
 * ```ts
 * const options: FragmentDispatcherOptions = {
 *   picker: 'rendezvous',
 *   maxAttempts: 3,
 *   connectTimeoutMs: 1_000,
 *   hedgeAfterMs: 250,
 * };
 * ```
 */
export interface FragmentDispatcherOptions {
  /**
   * The balancing policy: a registered name (`'rendezvous'`, `'round-robin'`, …) or a
   * function building a picker for each worker set.
   */
  readonly picker: string | PickerPolicy;
  /** Options for a picker given by name (identity, slow start, zones…). */
  readonly pickerOptions?: Omit<PickerOptions, 'tracker'> | undefined;
  /**
   * Live per-worker load counters, written by the dispatcher for every request and read by
   * load-aware pickers. Default: a tracker of the dispatcher's own.
   */
  readonly tracker?: LoadTracker | undefined;
  /** Attempts per fragment, hedges included. Default 3. */
  readonly maxAttempts?: number | undefined;
  /** Connect timeout for pod addresses: a pod that is gone rarely answers. Default 1,500. */
  readonly connectTimeoutMs?: number | undefined;
  /** How long one attempt may wait for headers, and between body chunks. Default 30,000. */
  readonly attemptTimeoutMs?: number | undefined;
  /** A fragment's whole life, retries and waiting for workers included. Default 60,000. */
  readonly fragmentTimeoutMs?: number | undefined;
  /**
   * How long an idle keep-alive socket is kept. Below Node's server default (5 s), so the
   * client, not the server, closes idle sockets and fewer requests race a closing socket.
   * Default 4,000.
   */
  readonly keepAliveTimeoutMs?: number | undefined;
  /**
   * Speak HTTP/2 to workers (undici `allowH2`). Workers are reached over plain HTTP, so this
   * is h2c with prior knowledge: every worker must accept it. One connection per worker then
   * carries many fragments at once. Default false (HTTP/1.1 with keep-alive).
   */
  readonly allowH2?: boolean | undefined;
  /**
   * Reach workers over HTTPS, verifying their certificates against `tls.ca`, and present a
   * client certificate when `tls.cert` is set. A certificate that does not verify fails the
   * attempt at once (it is not retried on the same worker). Default: plain HTTP.
   */
  readonly tls?: WorkerTlsOptions | undefined;
  /** Statuses retried on another worker. Default 429, 502, 503, 504. */
  readonly retryStatuses?: readonly number[] | undefined;
  /** The largest response body read into memory. Default 64 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Fragments in flight at once across the dispatcher. Default 256. */
  readonly maxInFlight?: number | undefined;
  /** Requests in flight at once to one worker (its pool's connections). Default 64. */
  readonly maxPerWorker?: number | undefined;
  /** Fragments that may wait for a slot; more get a QueueFullError. Default 4,096. */
  readonly maxQueued?: number | undefined;
  /** With no worker known: `wait` (default) until the fragment's deadline, or `fail` at once. */
  readonly whenNoWorkers?: 'wait' | 'fail' | undefined;
  /** Send a copy to the next worker when a fragment has not answered after this. Default off. */
  readonly hedgeAfterMs?: number | undefined;
  /**
   * The most hedged copies in flight at once, as a share of `maxInFlight` (at least one), so
   * that hedging on an overloaded system cannot double its load. Default 0.1.
   */
  readonly maxHedgeShare?: number | undefined;
  /** The dispatcher-wide retry budget; see {@link RetryBudget}. */
  readonly retryBudget?: RetryBudgetOptions | undefined;
  /** Passive health (ejection) settings; see {@link WorkerHealth}. */
  readonly health?: Omit<WorkerHealthOptions, 'now'> | undefined;
  /** The clock for health and ejections. Default `performance.now`. */
  readonly now?: (() => number) | undefined;
  /** Where to log; silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * Options for one {@link FragmentDispatcher.dispatch} call.
 *
 * @example
 * ```ts
 * const outcome = await dispatcher.dispatch(fragment, {
 *   signal: request.signal,
 *   timeoutMs: 5_000,
 * });
 * ```
 */
export interface DispatchOptions {
  /** Cancels the fragment: in-flight requests are aborted and no retry follows. */
  readonly signal?: AbortSignal | undefined;
  /** The query's deadline, from the call; covers queueing, retries and waiting for workers. */
  readonly timeoutMs?: number | undefined;
}

/**
 * Options for {@link FragmentDispatcher.fanOut}.
 *
 * @example
 * ```ts
 * const outcomes = await dispatcher.fanOut(fragments, {
 *   concurrency: 32,
 *   timeoutMs: 10_000,
 *   failFast: true,
 * });
 * ```
 */
export interface FanOutOptions extends DispatchOptions {
  /** Fragments of this fan-out in flight at once. Default: the dispatcher's `maxInFlight`. */
  readonly concurrency?: number | undefined;
  /** Cancel the rest of the fan-out as soon as one fragment has failed for good. */
  readonly failFast?: boolean | undefined;
}

/** A successful attempt: a whole body, or a body stream still being received. */
interface Answer {
  readonly worker: Worker;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Uint8Array;
  readonly stream: Readable | undefined;
}

/** What every fragment of one call shares: its signals and deadline. */
interface CallContext {
  readonly signal: AbortSignal;
  readonly caller: AbortSignal | undefined;
  readonly queryTimeout: AbortSignal | undefined;
  readonly queryTimeoutMs: number | undefined;
  readonly queryDeadlineAt: number;
  readonly cancel: AbortController;
  readonly streaming: boolean;
  /** False when the dispatcher was already closed as the call came in. */
  readonly admitted: boolean;
  /** Stops following the caller's signal, so a long-lived signal gathers no listeners. */
  readonly dispose: () => void;
  /** The fan-out's identity token on the diagnostics channels. */
  readonly fanOut: object | undefined;
}

/** A failed attempt, thrown inside the retry loop. */
class AttemptError extends Error {
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
interface FragmentRun {
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

const defaults = {
  maxAttempts: 3,
  connectTimeoutMs: 1_500,
  attemptTimeoutMs: 30_000,
  fragmentTimeoutMs: 60_000,
  keepAliveTimeoutMs: 4_000,
  maxBodyBytes: 64 * 1024 * 1024,
  maxInFlight: 256,
  maxPerWorker: 64,
  maxQueued: 4_096,
};

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(name, `option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function positiveNumber(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(name, `option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** True when the body can be sent again: text, bytes or a stream factory. */
function replayable(fragment: Fragment): boolean {
  const body = fragment.body;
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array ||
    typeof body === 'function';
}

/**
 * Sends query fragments to workers over one undici pool per worker, retrying on another
 * worker when one fails, within a per-fragment attempt limit and a dispatcher-wide retry
 * budget. Every fragment ends with exactly one {@link Outcome}: answered, or failed with an
 * error naming every worker tried.
 *
 * @example
 * ```ts
 * await using dispatcher = new FragmentDispatcher(cache, {
 *   picker: (workers) => createPicker('rendezvous', workers),
 * });
 * const outcomes = await dispatcher.fanOut(fragments, { timeoutMs: 10_000 });
 * for (const outcome of outcomes) {
 *   if (outcome.ok) console.log(outcome.worker.id, outcome.status);
 *   else console.error(outcome.error.message);
 * }
 * ```
 */
export class FragmentDispatcher implements AsyncDisposable {
  readonly #source: WorkerSource;
  readonly #policy: PickerPolicy;
  readonly #tracker: LoadTracker;
  readonly #options: typeof defaults & { whenNoWorkers: 'wait' | 'fail' };
  readonly #hedgeAfterMs: number | undefined;
  readonly #maxHedges: number;
  #hedges = 0;
  readonly #retryStatuses: ReadonlySet<number>;
  readonly #logger: Logger;
  readonly #pools: WorkerPools;
  readonly #health: WorkerHealth;
  readonly #budget: RetryBudget;
  readonly #inFlight: Limiter;
  readonly #perWorker = new Map<string, Limiter>();
  readonly #workerWaiters = new Set<() => void>();
  readonly #unsubscribe: () => void;
  readonly #drained = new Set<() => void>();
  #picker: Picker;
  #running = 0;
  #calls = 0;
  #closed = false;

  constructor(source: WorkerSource, options: FragmentDispatcherOptions) {
    this.#source = source;
    this.#tracker = options.tracker ?? new LoadTracker();
    this.#policy = policyOf(options, this.#tracker);
    this.#options = validated(options);
    this.#hedgeAfterMs =
      options.hedgeAfterMs === undefined
        ? undefined
        : positiveNumber('hedgeAfterMs', options.hedgeAfterMs);
    const hedgeShare = options.maxHedgeShare ?? 0.1;
    if (!(hedgeShare >= 0 && hedgeShare <= 1)) {
      throw new ConfigError(
        'maxHedgeShare',
        `option maxHedgeShare must be between 0 and 1, got ${hedgeShare}`,
      );
    }
    this.#maxHedges = Math.max(1, Math.floor(this.#options.maxInFlight * hedgeShare));
    this.#retryStatuses = new Set(options.retryStatuses ?? defaultRetryStatuses);
    this.#logger = options.logger ?? silentLogger;

    const tls = validatedTls(options.tls);
    this.#pools = new WorkerPools({
      connections: this.#options.maxPerWorker,
      connectTimeout: this.#options.connectTimeoutMs,
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: this.#options.keepAliveTimeoutMs,
      ...(options.allowH2
        ? { allowH2: true, useH2c: tls === undefined, pipelining: 100 }
        : { allowH2: false }),
      ...(tls === undefined ? {} : { connect: tls }),
    }, tls === undefined ? 'http:' : 'https:');
    this.#health = new WorkerHealth({ ...options.health, now: options.now });
    this.#budget = new RetryBudget({
      maxTokens: this.#options.maxInFlight,
      ...options.retryBudget,
    });
    this.#inFlight = new Limiter(this.#options.maxInFlight, this.#options.maxQueued);

    this.#picker = this.#policy(source.workers());
    this.#unsubscribe = source.subscribe((change) => this.#onChange(change));
  }

  /** The dispatcher's passive health state, for inspection. */
  get health(): WorkerHealth {
    return this.#health;
  }

  /** The dispatcher-wide retry budget, for inspection. */
  get retryBudget(): RetryBudget {
    return this.#budget;
  }

  /** Worker pools open now and retired pools still finishing, for inspection. */
  get pools(): { open: number; retiring: number } {
    return { open: this.#pools.size, retiring: this.#pools.retiring };
  }

  /** Sends one fragment; resolves with its outcome and never rejects for a failed fragment. */
  async dispatch(fragment: Fragment, options: DispatchOptions = {}): Promise<Outcome> {
    const [outcome] = await this.fanOut([fragment], { ...options, concurrency: 1 });
    return outcome as Outcome;
  }

  /** Sends many fragments with bounded concurrency; one outcome per fragment, in input order. */
  async fanOut(fragments: Iterable<Fragment>, options: FanOutOptions = {}): Promise<Outcome[]> {
    const list = [...fragments];
    const outcomes = new Array<Outcome>(list.length);
    await this.#spread(list, options, (outcome) => {
      outcomes[outcome.index] = outcome;
    }).done;
    return outcomes;
  }

  /**
   * Sends many fragments and yields each outcome as it completes. Leaving the loop early
   * cancels the fragments still running.
   */
  async *fanOutStream(
    fragments: Iterable<Fragment>,
    options: FanOutOptions = {},
  ): AsyncGenerator<Outcome, void, undefined> {
    const list = [...fragments];
    const done: Outcome[] = [];
    let wake: (() => void) | undefined;
    const spread = this.#spread(list, options, (outcome) => {
      done.push(outcome);
      wake?.();
    });

    let yielded = 0;
    try {
      while (yielded < list.length) {
        if (done.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const outcome = done.shift();
        if (!outcome) continue;
        yielded += 1;
        yield outcome;
      }
    } finally {
      if (yielded < list.length) spread.cancel(new AbortedError('fan-out consumer stopped'));
      await spread.done;
    }
  }

  /**
   * Runs fragments with at most `concurrency` at once, reporting each outcome as it comes.
   * Everything is set up before the first await, so a call made before `close()` counts as
   * admitted.
   */
  #spread(
    list: readonly Fragment[],
    options: FanOutOptions,
    onOutcome: (outcome: Outcome) => void,
  ): { done: Promise<void>; cancel: (reason: Error) => void } {
    const concurrency = positiveInteger(
      'concurrency',
      options.concurrency ?? this.#options.maxInFlight,
    );
    const context = this.#context(options, false);
    const cancel = context.cancel;
    this.#calls += 1;
    const fanOut = context.fanOut ?? {};
    const startedAt = performance.now();
    let answered = 0;
    publish(channels.fanOutStart, (): FanOutStartMessage => ({
      fanOut,
      fragments: list.length,
    }));

    let next = 0;
    let running = 0;
    let finished = 0;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const settle = (outcome: Outcome): void => {
      running -= 1;
      finished += 1;
      if (outcome.ok) answered += 1;
      if (options.failFast && !outcome.ok && !cancel.signal.aborted) {
        cancel.abort(new AbortedError(`fan-out cancelled: fragment ${outcome.index} failed`));
      }
      onOutcome(outcome);
      if (finished === list.length) end();
      else launch();
    };
    const launch = (): void => {
      while (running < concurrency && next < list.length) {
        const index = next;
        next += 1;
        running += 1;
        void this.#runOne(list[index] as Fragment, index, context).then((result) =>
          settle(result as Outcome));
      }
    };
    const end = (): void => {
      publish(channels.fanOutEnd, (): FanOutEndMessage => ({
        fanOut,
        answered,
        failed: list.length - answered,
        durationMs: performance.now() - startedAt,
      }));
      context.dispose();
      this.#calls -= 1;
      this.#wakeDrain();
      resolveDone();
    };

    if (list.length === 0) end();
    else launch();
    return { done, cancel: (reason) => cancel.abort(reason) };
  }

  /**
   * Sends one fragment and resolves as soon as a worker's response headers arrive, with the
   * body as a stream, for results too large to hold in memory. Retries happen only before
   * the body starts; a worker that dies in the middle of the body makes the stream fail
   * with an error, never end early as if complete.
   *
   * @example
   * ```ts
   * const outcome = await dispatcher.dispatchStream(fragment, { timeoutMs: 60_000 });
   * if (outcome.ok) for await (const chunk of outcome.body) sink.write(chunk);
   * ```
   */
  async dispatchStream(fragment: Fragment, options: DispatchOptions = {}): Promise<StreamOutcome> {
    const context = this.#context(options, true);
    this.#calls += 1;
    try {
      const outcome = (await this.#runOne(fragment, 0, context)) as StreamOutcome;
      if (outcome.ok) outcome.body.once('close', context.dispose);
      else context.dispose();
      return outcome;
    } finally {
      this.#calls -= 1;
      this.#wakeDrain();
    }
  }

  /** Stops taking fragments, waits for those running, then closes every pool. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#unsubscribe();
      for (const wake of [...this.#workerWaiters]) wake();
    }
    // Calls that came in before close() still run to the end; then the pools close.
    while (this.#running > 0 || this.#calls > 0) {
      await new Promise<void>((resolve) => this.#drained.add(resolve));
    }
    await this.#pools.close();
  }

  #wakeDrain(): void {
    if (this.#running > 0 || this.#calls > 0) return;
    for (const resolve of [...this.#drained]) resolve();
    this.#drained.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #onChange(change: WorkerChange): void {
    this.#picker = this.#policy(change.workers);
    this.#pools.sync(change);
    for (const worker of change.added) this.#health.readmit(worker.id);
    for (const worker of change.removed) this.#perWorker.delete(worker.id);
    for (const wake of [...this.#workerWaiters]) wake();
  }

  #context(options: DispatchOptions, streaming: boolean): CallContext {
    // One plain controller per call, fed by the caller's signal and the query deadline: a
    // composite AbortSignal.any costs a walk of its sources on every listener added, and
    // every request adds one.
    const cancel = new AbortController();
    const queryTimeout =
      options.timeoutMs === undefined
        ? undefined
        : AbortSignal.timeout(positiveNumber('timeoutMs', options.timeoutMs));
    const unfollow: Array<() => void> = [];
    for (const source of [options.signal, queryTimeout]) {
      if (!source) continue;
      if (source.aborted) cancel.abort(source.reason);
      const follow = (): void => cancel.abort(source.reason);
      source.addEventListener('abort', follow, { once: true });
      unfollow.push(() => source.removeEventListener('abort', follow));
    }

    return {
      signal: cancel.signal,
      caller: options.signal,
      queryTimeout,
      queryTimeoutMs: options.timeoutMs,
      queryDeadlineAt:
        options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs,
      cancel,
      streaming,
      admitted: !this.#closed,
      dispose: () => {
        for (const remove of unfollow) remove();
      },
      fanOut: streaming ? undefined : {},
    };
  }

  async #runOne(
    fragment: Fragment,
    index: number,
    context: CallContext,
  ): Promise<Outcome | StreamOutcome> {
    const startedAt = performance.now();
    const outcome = await this.#settle(fragment, index, context);
    publish(channels.fragmentEnd, (): FragmentEndMessage => ({
      fanOut: context.fanOut,
      outcome: outcome.ok && !(outcome.body instanceof Uint8Array)
        ? { ...outcome, body: new Uint8Array(0) }
        : (outcome as Outcome),
      durationMs: performance.now() - startedAt,
    }));
    return outcome;
  }

  async #settle(
    fragment: Fragment,
    index: number,
    context: CallContext,
  ): Promise<Outcome | StreamOutcome> {
    if (!context.admitted) {
      return { ok: false, index, fragment, error: new DispatcherClosedError(), attempts: [] };
    }
    if (typeof fragment.path !== 'string' || !fragment.path.startsWith('/')) {
      const error = new ConfigError(
        'fragment.path',
        `fragment ${index}: path must start with "/", got ${JSON.stringify(fragment.path)}`,
      );
      return { ok: false, index, fragment, error, attempts: [] };
    }

    this.#running += 1;
    // No timer per fragment: undici enforces the deadline on each request through its
    // timeouts, and a timer is only made when the fragment has to wait for a slot or a worker.
    const fragmentDeadlineAt = performance.now() + this.#options.fragmentTimeoutMs;
    const run: FragmentRun = {
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

    let releaseSlot: (() => void) | undefined;
    let finish = (): void => {
      releaseSlot?.();
      this.#running -= 1;
      this.#wakeDrain();
    };
    try {
      releaseSlot =
        this.#inFlight.tryAcquire() ??
        (await this.#inFlight.acquire(run.signal, remainingMs(run)));
      const { stream, body, ...answer } = await this.#retrying(run);
      if (!stream) return { ok: true, index, fragment, ...answer, body, attempts: run.attempts };

      // A streamed body keeps its slot until the caller has read it (or dropped it).
      const finishLater = finish;
      finish = () => undefined;
      stream.once('close', finishLater);
      return { ok: true, index, fragment, ...answer, body: stream, attempts: run.attempts };
    } catch (error) {
      const stop = this.#stopReason(run, error, context);
      const failure =
        error instanceof QueueFullError
          ? error
          : new FragmentFailedError(stop.reason, stop.summary(index), run.attempts, {
            cause: stop.cause ?? error,
          });
      return { ok: false, index, fragment, error: failure, attempts: run.attempts };
    } finally {
      run.releaseRetry?.();
      finish();
    }
  }

  /** Works out why a fragment ended without an answer. */
  #stopReason(
    run: FragmentRun,
    error: unknown,
    context: CallContext,
  ): { reason: RetryStop; cause: Error | undefined; summary: (index: number) => string } {
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
          : new DeadlineExceededError('fragment', this.#options.fragmentTimeoutMs);
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

  /** The retry loop: each round picks a worker (and maybe a hedge) and tries once. */
  async #retrying(run: FragmentRun): Promise<Answer> {
    // The first attempt runs inline: most fragments succeed at once and need no retry loop.
    try {
      return await this.#round(run);
    } catch (error) {
      if (run.signal.aborted || !this.#mayRetry(run, error as Error)) throw error;
    }

    return pRetry(
      async () => {
        try {
          return await this.#round(run);
        } finally {
          run.releaseRetry?.();
          run.releaseRetry = undefined;
        }
      },
      {
        // The real bound is checked in shouldRetry: hedges count as attempts too.
        retries: this.#options.maxAttempts - 1,
        minTimeout: 0,
        maxTimeout: 0,
        factor: 1,
        signal: run.signal,
        shouldRetry: ({ error }) => this.#mayRetry(run, error),
      },
    );
  }

  #mayRetry(run: FragmentRun, error: Error): boolean {
    const stop = this.#whyNotRetry(run, error);
    if (stop) {
      run.stop = stop;
      return false;
    }

    // The budget is asked last, so a refusal really means "many failures right now".
    const release = this.#budget.tryAcquire();
    if (!release) {
      run.stop = 'retry-budget';
      publish(channels.retryBudgetExhausted, (): RetryBudgetExhaustedMessage => ({
        fragmentIndex: run.index,
        worker: run.attempts.at(-1)?.worker,
      }));
      return false;
    }
    run.releaseRetry = release;
    return true;
  }

  #whyNotRetry(run: FragmentRun, error: Error): RetryStop | undefined {
    if (!(error instanceof AttemptError)) return 'not-retryable';
    if (error.stop) return error.stop;
    if (!error.retryable) return 'not-retryable';
    if (expired(run)) return 'deadline';
    if (!replayable(run.fragment)) return 'one-shot-body';
    if (run.fragment.idempotent === false && error.phase !== 'connect') return 'not-idempotent';
    if (run.started >= this.#options.maxAttempts) return 'max-attempts';
    return undefined;
  }

  /** One round: the first choice, plus a hedged copy if the first is slow. */
  async #round(run: FragmentRun): Promise<Answer> {
    const primary = await this.#pickWorker(run, true);
    if (!primary) {
      throw new AttemptError('error', 'connect', false, 'no worker', 'no-other-worker');
    }

    if (this.#hedgeAfterMs === undefined || !replayable(run.fragment)) {
      return this.#attempt(run, primary.worker, primary.release, run.signal, false);
    }
    return this.#hedged(run, primary, this.#hedgeAfterMs);
  }

  async #hedged(
    run: FragmentRun,
    primary: { worker: Worker; release: () => void },
    hedgeAfterMs: number,
  ): Promise<Answer> {
    const first = new AbortController();
    const firstTry = this.#attempt(
      run,
      primary.worker,
      primary.release,
      AbortSignal.any([run.signal, first.signal]),
      false,
    );
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), hedgeAfterMs);
    });
    const early = await Promise.race([firstTry.then(() => 'done' as const, () => 'done' as const),
      slow]);
    clearTimeout(timer);
    if (early === 'done' || run.started >= this.#options.maxAttempts) return firstTry;

    if (this.#hedges >= this.#maxHedges) return firstTry;
    const releaseBudget = this.#budget.tryAcquire();
    const secondary = releaseBudget ? await this.#pickWorker(run, false) : undefined;
    if (!secondary) {
      releaseBudget?.();
      return firstTry;
    }
    this.#hedges += 1;
    const releaseHedge = (): void => {
      this.#hedges -= 1;
      releaseBudget?.();
    };

    const second = new AbortController();
    const secondTry = this.#attempt(
      run,
      secondary.worker,
      secondary.release,
      AbortSignal.any([run.signal, second.signal]),
      true,
    ).finally(releaseHedge);

    // First answer wins and the other is cancelled; if one fails, wait for the other.
    try {
      const answer = await Promise.any([firstTry, secondTry]);
      first.abort(new HedgeLost());
      second.abort(new HedgeLost());
      await Promise.allSettled([firstTry, secondTry]);
      return answer;
    } catch (error) {
      const errors = error instanceof AggregateError ? error.errors : [error];
      throw errors.find((e) => e instanceof AttemptError && e.retryable) ?? errors[0];
    }
  }

  /**
   * Picks the best worker not yet tried, holding a per-worker slot. Waits for discovery when
   * there is no worker at all (unless told to fail). `wait: false` returns undefined rather
   * than waiting for a slot or a worker, for hedges.
   */
  async #pickWorker(
    run: FragmentRun,
    wait: boolean,
  ): Promise<{ worker: Worker; release: () => void } | undefined> {
    for (;;) {
      if (run.signal.aborted) throw run.signal.reason;

      const picker = this.#picker;
      if (picker.workers.length === 0) {
        if (!wait) return undefined;
        if (this.#options.whenNoWorkers === 'fail') {
          throw new AttemptError('error', 'connect', false, 'no workers known', 'no-workers');
        }
        this.#source.requestRefresh('no workers to send fragments to');
        await this.#workersChanged(run.signal, remainingMs(run));
        continue;
      }

      const worker = this.#choose(run, picker);
      if (!worker) return undefined;
      const limiter = this.#limiterFor(worker.id);
      if (!wait && limiter.active >= limiter.limit) return undefined;

      const ready = limiter.tryAcquire();
      if (ready) return { worker, release: ready };

      const release = await limiter.acquire(run.signal, remainingMs(run));
      // The set may have changed while this waited for a slot: never use a departed worker.
      if (this.#picker.workers.includes(worker)) return { worker, release };
      release();
    }
  }

  /** The first of the key's workers by preference: untried, healthy, ready, in that order. */
  #choose(run: FragmentRun, picker: Picker): Worker | undefined {
    const key = run.fragment.key;
    const order = picker.pickN(key, picker.workers.length);

    // The common case, checked without building anything: the first choice is fine.
    const first = order[0];
    if (first && !run.tried.has(first.id) && this.#fit(first)) return first;

    // Without a key no worker is the right one, so a skipped turn is passed on by asking the
    // policy again. Taking the next in order instead would hand the skipped worker's share
    // to its neighbour: with round-robin, twice the traffic for the one after a dead worker.
    if (key === undefined) {
      for (let asked = 1; asked < picker.workers.length; asked += 1) {
        const next = picker.pick(undefined);
        if (next && !run.tried.has(next.id) && this.#fit(next)) return next;
      }
    }

    const untried = order.filter((worker) => !run.tried.has(worker.id));
    const tiers: Array<(worker: Worker) => boolean> = [
      (w) => this.#fit(w),
      (w) => this.#health.isAvailable(w.id),
      (w) => !this.#health.isEjected(w.id),
      () => true,
    ];
    for (const candidates of [untried, order]) {
      for (const tier of tiers) {
        const worker = candidates.find(tier);
        if (worker) return worker;
      }
    }
    return undefined;
  }

  /** A worker that may take new work now: ready, not ejected, not holding off. */
  #fit(worker: Worker): boolean {
    return worker.state === 'ready' && this.#health.isAvailable(worker.id);
  }

  #limiterFor(id: string): Limiter {
    let limiter = this.#perWorker.get(id);
    if (!limiter) {
      limiter = new Limiter(this.#options.maxPerWorker);
      this.#perWorker.set(id, limiter);
    }
    return limiter;
  }

  /** Waits for the worker set to change, the signal to fire or `timeoutMs` to pass. */
  #workersChanged(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        clearTimeout(timer);
        this.#workerWaiters.delete(done);
        signal.removeEventListener('abort', onAbort);
      };
      const done = (): void => {
        stop();
        resolve();
      };
      const onAbort = (): void => {
        stop();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new AbortedError(`no worker appeared within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#workerWaiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One HTTP request to one worker, recorded in `run.attempts` however it ends. */
  async #attempt(
    run: FragmentRun,
    worker: Worker,
    releaseWorker: () => void,
    signal: AbortSignal,
    hedge: boolean,
  ): Promise<Answer> {
    run.started += 1;
    run.tried.add(worker.id);
    const attemptNumber = run.started;
    const token = channels.attemptStart.hasSubscribers || channels.attemptEnd.hasSubscribers
      ? this.#announce(run, worker, hedge)
      : undefined;
    const startedAt = performance.now();
    const healthStartedAt = this.#health.now();
    const record = (result: AttemptResult, extra: { status?: number; error?: string } = {}) => {
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

    let inBody = false;
    const endLoad = this.#tracker.start(worker.id);
    let release: (() => void) | undefined = () => {
      endLoad();
      releaseWorker();
    };
    try {
      const response = await this.#pools
        .get(worker)
        .request(this.#request(run, signal, token?.headers));
      const status = response.statusCode;
      if (this.#retryStatuses.has(status)) throw await this.#unavailable(worker, response, record);

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
    this.#health.recordSuccess(worker.id, durationMs);
    this.#budget.recordSuccess();
  }

  /**
   * Publishes an attempt's start. Subscribers may add headers (trace context), so the
   * attempt then sends a copy of the fragment's headers that they can write to.
   */
  #announce(
    run: FragmentRun,
    worker: Worker,
    hedge: boolean,
  ): { headers: Record<string, string> } {
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
    record: (result: AttemptResult, extra?: { status?: number; error?: string }) => number,
  ): Promise<AttemptError> {
    await response.body.dump().catch(() => undefined);
    const status = response.statusCode;
    record('unavailable', { status });

    const holdMs = retryAfterMs(response.headers['retry-after'], Date.now());
    if (holdMs !== undefined && holdMs > 0) this.#health.holdOff(worker.id, holdMs);
    if (status === 502 || status === 504) this.#workerFailed(worker, 'bad gateway or timeout');
    this.#budget.recordFailure();
    return new AttemptError('unavailable', 'request', true, `worker answered ${status}`);
  }

  #failed(
    worker: Worker,
    error: unknown,
    inBody: boolean,
    signal: AbortSignal,
    record: (result: AttemptResult, extra?: { status?: number; error?: string }) => number,
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
      if (result === 'hedge-lost' && !this.#health.answeredSince(worker.id, healthStartedAt)) {
        this.#workerFailed(worker, 'lost a hedge race and answered nothing meanwhile');
      }
      return new AttemptError(result, 'request', false, message, 'aborted', { cause: error });
    }

    const failure = classifyError(error, inBody);
    record(failure.result, { error: message });
    if (failure.retryable) this.#budget.recordFailure();
    if (failure.countsAgainstWorker) this.#workerFailed(worker, failure.result);
    if (failure.phase === 'connect') {
      this.#source.requestRefresh(`worker ${worker.id} ${failure.result}`);
    }
    return new AttemptError(failure.result, failure.phase, failure.retryable, message, undefined, {
      cause: error,
    });
  }

  #workerFailed(worker: Worker, why: string): void {
    const ejected = this.#health.recordFailure(worker.id, this.#picker.workers.length);
    if (!ejected) return;

    const state = this.#health.state(worker.id);
    const ejectedForMs = state.lastEjectionMs;
    this.#logger.warn({ worker: worker.id, why, ejectedForMs }, 'worker ejected');
    publish(channels.ejection, (): EjectionMessage => ({
      worker,
      ejectedForMs,
      ejections: state.ejections,
    }));
  }
}

/**
 * Milliseconds left before the fragment's deadline, for the timers of its waits. Waits clear
 * their timers when they end: a pending 60 s timer per wait adds up at high concurrency.
 */
function remainingMs(run: FragmentRun): number {
  return Math.max(1, Math.ceil(run.deadlineAt - performance.now()));
}

/** True once the fragment's deadline has passed (timers may fire a millisecond early). */
function expired(run: FragmentRun): boolean {
  return performance.now() >= run.deadlineAt - 2;
}

/** The reason given to the attempt that lost a hedge race. */
class HedgeLost extends Error {
  constructor() {
    super('another copy of the fragment answered first');
  }
}

/** Turns the `picker` option (a policy name or a function) into a picker builder. */
function policyOf(options: FragmentDispatcherOptions, tracker: LoadTracker): PickerPolicy {
  const picker = options.picker;
  if (typeof picker === 'function') return picker;
  if (typeof picker !== 'string') {
    throw new ConfigError(
      'picker',
      `option picker must be a policy name or a function, got ${typeof picker}`,
    );
  }

  const pickerOptions = { ...options.pickerOptions, tracker };
  // Built once now, so an unknown name fails here with the list of valid ones.
  createPicker(picker, [], pickerOptions);
  return (workers) => createPicker(picker, workers, pickerOptions);
}

const tlsCodePattern = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/;

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

/** TLS connect options for undici, checked; `undefined` for plain HTTP. */
function validatedTls(
  tls: WorkerTlsOptions | undefined,
): { ca: (string | Buffer)[]; cert?: string | Buffer; key?: string | Buffer;
    servername?: string; rejectUnauthorized: true } | undefined {
  if (tls === undefined) return undefined;
  const ca = (Array.isArray(tls.ca) ? tls.ca : [tls.ca]) as (string | Buffer)[];
  if (ca.length === 0 || ca.some((pem) => pem.length === 0)) {
    throw new ConfigError('tls.ca', 'option tls.ca is empty: give the PEM certificate of the ' +
      "CA that issued the workers' certificates");
  }
  // Say which half is missing, never what the other half holds.
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const missing = tls.cert === undefined ? 'tls.cert' : 'tls.key';
    throw new ConfigError(missing, `option ${missing} is missing: a client certificate needs ` +
      'both tls.cert and tls.key');
  }
  if (tls.servername !== undefined && tls.servername.trim() === '') {
    throw new ConfigError('tls.servername', 'option tls.servername is "": give a host name ' +
      "that the workers' certificates list, or leave it out");
  }
  return {
    ca,
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    rejectUnauthorized: true,
  };
}

function validated(
  options: FragmentDispatcherOptions,
): typeof defaults & { whenNoWorkers: 'wait' | 'fail' } {
  const whenNoWorkers = options.whenNoWorkers ?? 'wait';
  if (whenNoWorkers !== 'wait' && whenNoWorkers !== 'fail') {
    throw new ConfigError(
      'whenNoWorkers',
      `option whenNoWorkers must be "wait" or "fail", got ${String(whenNoWorkers)}`,
    );
  }
  return {
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts ?? defaults.maxAttempts),
    connectTimeoutMs: positiveNumber(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? defaults.connectTimeoutMs,
    ),
    attemptTimeoutMs: positiveNumber(
      'attemptTimeoutMs',
      options.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
    ),
    fragmentTimeoutMs: positiveNumber(
      'fragmentTimeoutMs',
      options.fragmentTimeoutMs ?? defaults.fragmentTimeoutMs,
    ),
    keepAliveTimeoutMs: positiveNumber(
      'keepAliveTimeoutMs',
      options.keepAliveTimeoutMs ?? defaults.keepAliveTimeoutMs,
    ),
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes ?? defaults.maxBodyBytes),
    maxInFlight: positiveInteger('maxInFlight', options.maxInFlight ?? defaults.maxInFlight),
    maxPerWorker: positiveInteger('maxPerWorker', options.maxPerWorker ?? defaults.maxPerWorker),
    maxQueued: positiveInteger('maxQueued', options.maxQueued ?? defaults.maxQueued),
    whenNoWorkers,
  };
}

/**
 * Reads a whole response body within `maxBytes`. With a declared length, the limit is checked
 * up front and undici's own reader is used (it fails on a short body); without one, chunks
 * are counted as they come.
 */
async function readWhole(
  response: Dispatcher.ResponseData,
  maxBytes: number,
): Promise<Uint8Array> {
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  if (Number.isNaN(declared)) return readBody(response.body, maxBytes);

  if (declared > maxBytes) {
    response.body.destroy();
    throw new BodyTooLargeError(maxBytes);
  }
  return response.body.bytes();
}

/**
 * Reads a whole body, stopping (and failing) past `maxBytes`, so memory stays bounded. Any
 * stream error, such as a connection lost before the last chunk, rejects: a short body never
 * passes for a whole one.
 */
function readBody(body: Readable, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    body.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      const error = new BodyTooLargeError(maxBytes);
      body.destroy(error);
    });
    body.once('error', reject);
    body.once('end', () => {
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    });
  });
}
