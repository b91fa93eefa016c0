import { LoadTracker } from '../balancer/load-tracker.js';
import type { WorkerSource } from '../discovery/cache.js';
import type { WorkerChange } from '../discovery/diff.js';
import { silentLogger } from '../logger.js';
import { AttemptSender } from './attempt.js';
import { createCallContext, type CallContext } from './call-context.js';
import { defaultRetryStatuses } from './classify.js';
import { publishFragmentEnd } from './diagnostics.js';
import { FragmentFailedError, QueueFullError } from './errors.js';
import { asCompleted, inOrder, spread, type FanOutHandle } from './fan-out.js';
import type { Fragment, Outcome, StreamOutcome } from './fragment.js';
import { WorkerHealth } from './health.js';
import { Rounds } from './hedge.js';
import { Limiter } from './limiter.js';
import type { DispatchOptions, FanOutOptions, FragmentDispatcherOptions } from './options.js';
import { WorkerPools } from './pools.js';
import { RetryBudget } from './retry-budget.js';
import { retrying, stopReason, type RetryLimits } from './retry.js';
import { newRun, refusal, remainingMs, type Answer, type FragmentRun } from './run-state.js';
import {
  hedgeSettings,
  poolSettings,
  policyOf,
  positiveInteger,
  validated,
  type Settings,
} from './settings.js';
import { WorkerChoice } from './worker-choice.js';

export type {
  DispatchOptions,
  FanOutOptions,
  FragmentDispatcherOptions,
  PickerPolicy,
  WorkerTlsOptions,
} from './options.js';

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
  readonly #settings: Settings;
  readonly #pools: WorkerPools;
  readonly #health: WorkerHealth;
  readonly #budget: RetryBudget;
  readonly #inFlight: Limiter;
  readonly #choice: WorkerChoice;
  readonly #rounds: Rounds;
  readonly #retryLimits: RetryLimits;
  /** One round of a fragment, bound once rather than per fragment. */
  readonly #roundOf: (run: FragmentRun) => Promise<Answer>;
  readonly #unsubscribe: () => void;
  readonly #drained = new Set<() => void>();
  #running = 0;
  #calls = 0;
  #closed = false;

  constructor(source: WorkerSource, options: FragmentDispatcherOptions) {
    // The checks run in this order so that the first bad option named is the same as ever.
    const tracker = options.tracker ?? new LoadTracker();
    const policy = policyOf(options, tracker);
    const settings = validated(options);
    const hedging = hedgeSettings(options, settings.maxInFlight);
    const retryStatuses = new Set(options.retryStatuses ?? defaultRetryStatuses);
    const logger = options.logger ?? silentLogger;
    this.#settings = settings;

    const pools = poolSettings(settings, options);
    this.#pools = new WorkerPools(pools.options, pools.protocol);
    this.#health = new WorkerHealth({ ...options.health, now: options.now });
    this.#budget = new RetryBudget({ maxTokens: settings.maxInFlight, ...options.retryBudget });
    this.#inFlight = new Limiter(settings.maxInFlight, settings.maxQueued);
    this.#retryLimits = { budget: this.#budget, maxAttempts: settings.maxAttempts };

    const health = this.#health;
    const { maxPerWorker, whenNoWorkers } = settings;
    this.#choice = new WorkerChoice({ source, policy, health, maxPerWorker, whenNoWorkers });
    const sender = new AttemptSender({
      source,
      pools: this.#pools,
      tracker,
      health,
      budget: this.#budget,
      logger,
      retryStatuses,
      attemptTimeoutMs: settings.attemptTimeoutMs,
      maxBodyBytes: settings.maxBodyBytes,
      workerCount: () => this.#choice.workerCount,
    });
    this.#rounds = new Rounds({
      choice: this.#choice,
      sender,
      budget: this.#budget,
      hedging,
      maxAttempts: settings.maxAttempts,
    });

    this.#roundOf = (run) => this.#rounds.run(run);

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
    return inOrder(list.length, (onOutcome) => this.#spread(list, options, onOutcome));
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
    yield* asCompleted(list.length, (onOutcome) => this.#spread(list, options, onOutcome));
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
    const context = createCallContext(options, true, !this.#closed);
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
      this.#choice.wakeWaiters();
    }
    // Calls that came in before close() still run to the end; then the pools close.
    while (this.#running > 0 || this.#calls > 0) {
      await new Promise<void>((resolve) => this.#drained.add(resolve));
    }
    await this.#pools.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #wakeDrain(): void {
    if (this.#running > 0 || this.#calls > 0) return;
    for (const resolve of [...this.#drained]) resolve();
    this.#drained.clear();
  }

  #onChange(change: WorkerChange): void {
    this.#choice.sync(change);
    this.#pools.sync(change);
    for (const worker of change.added) this.#health.readmit(worker.id);
  }

  /**
   * Starts a fan-out. Everything is set up before the first await, so a call made before
   * `close()` counts as admitted.
   */
  #spread(
    list: readonly Fragment[],
    options: FanOutOptions,
    onOutcome: (outcome: Outcome) => void,
  ): FanOutHandle {
    const concurrency = positiveInteger(
      'concurrency',
      options.concurrency ?? this.#settings.maxInFlight,
    );
    const context = createCallContext(options, false, !this.#closed);
    this.#calls += 1;

    return spread({
      fragments: list,
      concurrency,
      context,
      failFast: options.failFast,
      runOne: (fragment, index) => this.#runOne(fragment, index, context) as Promise<Outcome>,
      onOutcome,
      onEnd: () => {
        this.#calls -= 1;
        this.#wakeDrain();
      },
    });
  }

  async #runOne(
    fragment: Fragment,
    index: number,
    context: CallContext,
  ): Promise<Outcome | StreamOutcome> {
    const startedAt = performance.now();
    const outcome = await this.#settle(fragment, index, context);
    publishFragmentEnd(context.fanOut, outcome, startedAt);
    return outcome;
  }

  async #settle(
    fragment: Fragment,
    index: number,
    context: CallContext,
  ): Promise<Outcome | StreamOutcome> {
    const refused = refusal(fragment, index, context.admitted);
    if (refused) return refused;

    this.#running += 1;
    const run = newRun(fragment, index, context, this.#settings.fragmentTimeoutMs);

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
      const { stream, body, ...answer } = await retrying(run, this.#retryLimits, this.#roundOf);
      if (!stream) return { ok: true, index, fragment, ...answer, body, attempts: run.attempts };

      // A streamed body keeps its slot until the caller has read it (or dropped it).
      const finishLater = finish;
      finish = () => undefined;
      stream.once('close', finishLater);
      return { ok: true, index, fragment, ...answer, body: stream, attempts: run.attempts };
    } catch (error) {
      const failure = this.#failure(run, error, context);
      return { ok: false, index, fragment, error: failure, attempts: run.attempts };
    } finally {
      run.releaseRetry?.();
      finish();
    }
  }

  /** The error a fragment ends with when no answer came: why it stopped, every try named. */
  #failure(
    run: FragmentRun,
    error: unknown,
    context: CallContext,
  ): QueueFullError | FragmentFailedError {
    if (error instanceof QueueFullError) return error;

    const stop = stopReason(run, error, context, this.#settings.fragmentTimeoutMs);
    return new FragmentFailedError(stop.reason, stop.summary(run.index), run.attempts, {
      cause: stop.cause ?? error,
    });
  }
}
