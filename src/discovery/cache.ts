import {
  channels,
  publish,
  type DiscoveryChangeMessage,
  type DiscoverySyncMessage,
} from '../observability/channels.js';
import { AbortedError, DiscoveryError, LakerunnerError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { diffWorkers, isEmptyChange, type WorkerChange } from './diff.js';
import {
  compareWorkers,
  type Worker,
  type WorkerDiscovery,
  type WorkerWatch,
} from './worker.js';

/**
 * Options for {@link WorkerCache}. Every interval is in milliseconds and can be scaled down.
 *
 * @example
 * ```ts
 * const cache = new WorkerCache(discovery, {
 *   refreshIntervalMs: 15_000,
 *   readyTimeoutMs: 10_000,
 *   coalesceMs: 500,
 *   logger: pino(),
 * }).start();
 * ```
 */
export interface WorkerCacheOptions {
  /** How often to re-list while things are healthy. Default 30,000 (30 s). */
  readonly refreshIntervalMs?: number | undefined;
  /** First delay after a failed fetch; doubles up to `maxRetryDelayMs`. Default 1,000. */
  readonly minRetryDelayMs?: number | undefined;
  /** Longest delay between retries after failures. Default 30,000. */
  readonly maxRetryDelayMs?: number | undefined;
  /**
   * Shortest gap between two fetches asked for by {@link WorkerCache.requestRefresh}, so that a
   * burst of connection failures becomes one re-list, not hundreds. Default 1,000.
   */
  readonly minRefreshGapMs?: number | undefined;
  /** How long {@link WorkerCache.ready} waits for the first good fetch. Default 30,000. */
  readonly readyTimeoutMs?: number | undefined;
  /**
   * Use the source's `watch()` when it has one (list-then-watch: changes arrive within moments
   * and a quiet cluster costs no requests). `false` forces interval polling. Default `true`.
   */
  readonly watch?: boolean | undefined;
  /**
   * How long a watched change that only adds workers (or makes one ready again) may wait for
   * others, so a rolling restart makes a few change events instead of hundreds. Removals and
   * workers that stop being ready are never delayed: they apply at once, taking any waiting
   * additions with them. The wait starts at the first waiting change, so no addition waits
   * longer than this. Default 1,000; 0 applies every change at once.
   */
  readonly coalesceMs?: number | undefined;
  /** Where to log; silent by default. */
  readonly logger?: Logger | undefined;
  /** The clock, injectable for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Jitter source in [0, 1), injectable for tests. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
}

/**
 * How fresh the cached worker set is.
 *
 * @example
 * ```ts
 * const status: CacheStatus = cache.status();
 * if (!status.synced) console.log('waiting for the first worker list');
 * else if (status.stale) console.warn(`worker list is ${status.ageMs} ms old`, status.lastError);
 * ```
 */
export interface CacheStatus {
  /** True once a fetch has succeeded. */
  readonly synced: boolean;
  /** True when the latest fetch failed and the set shown is the last good one. */
  readonly stale: boolean;
  /** When the last successful fetch finished (ms since epoch), if ever. */
  readonly lastSyncAt: number | undefined;
  /** Milliseconds since the last successful fetch, if ever. */
  readonly ageMs: number | undefined;
  /** The latest failure, cleared by the next success. */
  readonly lastError: Error | undefined;
  /** Failed fetches in a row. */
  readonly consecutiveFailures: number;
  /** `watch` when the source pushes changes, `poll` when the cache re-lists on an interval. */
  readonly mode: 'watch' | 'poll';
}

/**
 * Called with every non-empty change to the worker set.
 *
 * @example
 * ```ts
 * const onChange: WorkerChangeListener = (change) => {
 *   for (const worker of change.removed) console.log('worker left:', worker.id);
 * };
 * const unsubscribe = cache.subscribe(onChange);
 * ```
 */
export type WorkerChangeListener = (change: WorkerChange) => void;

/**
 * The read side of a worker cache, which is all that balancers and transports need.
 *
 * @example
 * ```ts
 * async function firstWorker(source: WorkerSource): Promise<Worker | undefined> {
 *   await source.ready();
 *   return source.workers()[0];
 * }
 * const worker = await firstWorker(cache); // a WorkerCache is a WorkerSource
 * ```
 */
export interface WorkerSource {
  /** The current workers, synchronously, from memory. */
  workers(): readonly Worker[];
  /** Registers a listener; returns a function that removes it. */
  subscribe(listener: WorkerChangeListener): () => void;
  /** Asks for a fresh fetch soon, without waiting; rate limited. */
  requestRefresh(reason?: string): void;
  /** Resolves once a worker set is known. */
  ready(options?: { signal?: AbortSignal | undefined }): Promise<readonly Worker[]>;
}

const defaults = {
  refreshIntervalMs: 30_000,
  minRetryDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
  minRefreshGapMs: 1_000,
  readyTimeoutMs: 30_000,
  coalesceMs: 1_000,
};

/**
 * Thrown by {@link WorkerCache.ready} when no fetch succeeded in time.
 *
 * @example
 * ```ts
 * const cache = new WorkerCache(discovery, { readyTimeoutMs: 5_000 }).start();
 * try {
 *   await cache.ready();
 * } catch (err) {
 *   if (!(err instanceof DiscoveryNotReadyError)) throw err;
 *   console.error('discovery never succeeded:', cache.status().lastError?.message);
 * }
 * ```
 */
export class DiscoveryNotReadyError extends LakerunnerError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_LAKERUNNER_NOT_READY', message, options);
  }
}

/**
 * Keeps the last good worker set from a {@link WorkerDiscovery} and tells subscribers what
 * changed. When the source can watch (`discovery.watch`), the cache follows its pushes and every
 * event or bookmark counts as a sync; otherwise it re-lists on an interval (and at once when
 * asked), backing off with jitter after failures and honouring `Retry-After`. Either way a
 * failure never replaces a good set: the set is kept and marked stale with its age.
 *
 * @example
 * ```ts
 * const cache = new WorkerCache(discovery, { refreshIntervalMs: 10_000 });
 * cache.start();
 * await cache.ready();
 * cache.subscribe((change) => console.log(change.added.length, 'workers joined'));
 * console.log(cache.workers());
 * await cache.close();
 * ```
 */
export class WorkerCache implements WorkerSource, AsyncDisposable {
  readonly #discovery: WorkerDiscovery;
  readonly #options: typeof defaults;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #listeners = new Set<WorkerChangeListener>();
  readonly #readyWaiters = new Set<() => void>();
  readonly #useWatch: boolean;

  #workers: readonly Worker[] = [];
  #synced = false;
  #lastSyncAt: number | undefined;
  #lastFetchStartedAt = -Infinity;
  #lastError: Error | undefined;
  #failures = 0;
  #started = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #abort = new AbortController();
  #watch: WorkerWatch | undefined;
  #pending: readonly Worker[] | undefined;
  #coalesceTimer: NodeJS.Timeout | undefined;

  constructor(discovery: WorkerDiscovery, options: WorkerCacheOptions = {}) {
    this.#discovery = discovery;
    this.#options = {
      refreshIntervalMs: options.refreshIntervalMs ?? defaults.refreshIntervalMs,
      minRetryDelayMs: options.minRetryDelayMs ?? defaults.minRetryDelayMs,
      maxRetryDelayMs: options.maxRetryDelayMs ?? defaults.maxRetryDelayMs,
      minRefreshGapMs: options.minRefreshGapMs ?? defaults.minRefreshGapMs,
      readyTimeoutMs: options.readyTimeoutMs ?? defaults.readyTimeoutMs,
      coalesceMs: options.coalesceMs ?? defaults.coalesceMs,
    };
    this.#useWatch = options.watch ?? true;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts fetching; idempotent. `ready()` starts the cache too. */
  start(): this {
    if (this.#started || this.#closed) return this;
    this.#started = true;

    if (this.#useWatch && this.#discovery.watch !== undefined) {
      this.#lastFetchStartedAt = this.#now();
      this.#watch = this.#discovery.watch({
        onWorkers: (workers) => this.#offer(workers),
        onSynced: () => this.#synced && this.#markSynced(),
        onError: (error) => this.#recordFailure(error),
      });
      return this;
    }
    void this.#fetch();
    return this;
  }

  /**
   * Resolves with the workers after the first successful fetch. Rejects with a
   * {@link DiscoveryNotReadyError} carrying the last failure after `readyTimeoutMs`, while the
   * cache keeps trying in the background.
   */
  async ready(options: { signal?: AbortSignal | undefined } = {}): Promise<readonly Worker[]> {
    this.start();
    if (this.#synced) return this.#workers;
    if (this.#closed) throw new DiscoveryNotReadyError('the worker cache is closed');

    const timeoutMs = this.#options.readyTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#readyWaiters.delete(onReady);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => finish();
      const onAbort = (): void =>
        finish(new AbortedError('waiting for discovery was aborted', {
          cause: options.signal?.reason,
        }));
      const timer = setTimeout(() => finish(this.#notReadyError(timeoutMs)), timeoutMs);

      this.#readyWaiters.add(onReady);
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.#workers;
  }

  /** The current workers, from memory; empty until the first fetch succeeds. */
  workers(): readonly Worker[] {
    return this.#workers;
  }

  /** How fresh the set is: last sync time, age, whether it is stale and why. */
  status(): CacheStatus {
    const lastSyncAt = this.#lastSyncAt;
    return {
      synced: this.#synced,
      stale: this.#synced && this.#lastError !== undefined,
      lastSyncAt,
      ageMs: lastSyncAt === undefined ? undefined : this.#now() - lastSyncAt,
      lastError: this.#lastError,
      consecutiveFailures: this.#failures,
      mode: this.#watch === undefined ? 'poll' : 'watch',
    };
  }

  /** Registers a listener for changes; returns a function that removes it. */
  subscribe(listener: WorkerChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Polling: fetches now (sharing a fetch already under way) and resolves when it has finished.
   * Watching: asks the watch for a full re-list and returns at once.
   */
  async refresh(): Promise<void> {
    if (this.#closed) return;
    this.start();
    if (this.#watch !== undefined) {
      this.#watch.relist('refresh');
      return;
    }
    await this.#fetch();
  }

  /**
   * Asks for a fetch soon without waiting for it. Calls closer together than
   * `minRefreshGapMs` collapse into one, so a storm of connection errors costs one re-list.
   */
  requestRefresh(reason = 'requested'): void {
    if (this.#closed || !this.#started) return;
    if (this.#inFlight) return;

    const sinceLast = this.#now() - this.#lastFetchStartedAt;
    if (this.#watch !== undefined) {
      // A watch is current already; a re-list only guards against a broken one, so at most one
      // per gap, and extra requests inside the gap are dropped rather than queued.
      if (sinceLast < this.#options.minRefreshGapMs) return;
      this.#lastFetchStartedAt = this.#now();
      this.#logger.debug({ reason }, 'worker re-list requested');
      this.#watch.relist(reason);
      return;
    }
    const wait = Math.max(0, this.#options.minRefreshGapMs - sinceLast);
    this.#logger.debug({ reason, inMs: wait }, 'worker refresh requested');
    this.#schedule(wait);
  }

  /** Stops every timer and fetch; the last worker set stays readable. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#coalesceTimer);
    this.#timer = undefined;
    this.#coalesceTimer = undefined;
    this.#abort.abort(new AbortedError('the worker cache was closed'));
    this.#listeners.clear();
    await this.#watch?.close();
    await this.#inFlight;
    await this.#discovery.close?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #fetch(): Promise<void> {
    this.#inFlight ??= this.#runFetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #runFetch(): Promise<void> {
    clearTimeout(this.#timer);
    this.#lastFetchStartedAt = this.#now();

    try {
      const workers = await this.#discovery.getWorkers({ signal: this.#abort.signal });
      if (this.#closed) return;
      this.#accept(workers);
      this.#schedule(this.#options.refreshIntervalMs);
    } catch (error) {
      if (this.#closed) return;
      this.#reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * A watched worker set arrived. The first one, removals and workers that stop being ready
   * apply at once; changes that only add wait up to `coalesceMs` for company.
   */
  #offer(fetched: Worker[]): void {
    if (this.#closed) return;
    const workers = Object.freeze([...fetched].sort(compareWorkers));
    const change = diffWorkers(this.#workers, workers);

    if (!this.#synced || isUrgent(change) || this.#options.coalesceMs <= 0) {
      this.#applyNow(workers);
      return;
    }
    if (isEmptyChange(change)) {
      // Back to the set already shown (an addition undone): nothing is waiting any more.
      this.#pending = undefined;
      clearTimeout(this.#coalesceTimer);
      this.#coalesceTimer = undefined;
      this.#markSynced();
      return;
    }

    this.#pending = workers;
    this.#markSynced();
    this.#coalesceTimer ??= setTimeout(() => {
      this.#coalesceTimer = undefined;
      const pending = this.#pending;
      if (pending !== undefined && !this.#closed) this.#applyNow(pending);
    }, this.#options.coalesceMs);
  }

  #applyNow(workers: readonly Worker[]): void {
    clearTimeout(this.#coalesceTimer);
    this.#coalesceTimer = undefined;
    this.#pending = undefined;
    this.#accept(workers);
  }

  #accept(fetched: readonly Worker[]): void {
    const workers = Object.isFrozen(fetched)
      ? fetched
      : Object.freeze([...fetched].sort(compareWorkers));
    const change = diffWorkers(this.#workers, workers);

    this.#workers = workers;
    this.#markSynced();

    if (!this.#synced) {
      this.#synced = true;
      for (const wake of [...this.#readyWaiters]) wake();
    }
    if (!isEmptyChange(change)) this.#emit(change);
  }

  /** The source proved itself current: the set is fresh, whatever failed before. */
  #markSynced(): void {
    const recovered = this.#lastError !== undefined;
    this.#lastSyncAt = this.#now();
    this.#publishSync(undefined);
    this.#lastError = undefined;
    this.#failures = 0;
    if (recovered) {
      this.#logger.info({ workers: this.#workers.length }, 'discovery recovered');
    }
  }

  /** A watching source failed; it retries on its own, the cache only keeps count. */
  #recordFailure(error: Error): void {
    if (this.#closed) return;
    this.#lastError = error;
    this.#failures += 1;
    this.#publishSync(error);
  }

  #reject(error: Error): void {
    this.#lastError = error;
    this.#failures += 1;
    this.#publishSync(error);

    const delay = this.#retryDelay(error);
    const status = this.status();
    this.#logger.warn(
      {
        err: error.message,
        failures: this.#failures,
        retryInMs: delay,
        keptWorkers: this.#workers.length,
        staleForMs: status.ageMs,
      },
      'discovery failed; keeping the last good worker set',
    );
    this.#schedule(delay);
  }

  /**
   * Exponential backoff with jitter on the upper half, so coordinators spread out; never
   * shorter than the server's `Retry-After`.
   */
  #retryDelay(error: Error): number {
    const { minRetryDelayMs, maxRetryDelayMs } = this.#options;
    const exponent = Math.min(this.#failures - 1, 30);
    const ceiling = Math.min(maxRetryDelayMs, minRetryDelayMs * 2 ** exponent);
    const delay = Math.round(ceiling / 2 + (ceiling / 2) * this.#random());
    const retryAfter = error instanceof DiscoveryError ? error.retryAfterSeconds : undefined;
    return Math.max(delay, (retryAfter ?? 0) * 1000);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#fetch(), delayMs);
    this.#timer.unref();
  }

  /** Reports a sync or a failure on the diagnostics channel, if anyone listens. */
  #publishSync(error: Error | undefined): void {
    publish(channels.discoverySync, (): DiscoverySyncMessage => {
      const at = this.#now();
      const polled = this.#watch === undefined && Number.isFinite(this.#lastFetchStartedAt);
      return {
        source: this.#discovery.kind,
        ok: error === undefined,
        workers: this.#workers.length,
        durationMs: polled ? Math.max(0, at - this.#lastFetchStartedAt) : 0,
        at,
        error,
      };
    });
  }

  #emit(change: WorkerChange): void {
    publish(channels.discoveryChange, (): DiscoveryChangeMessage => ({
      source: this.#discovery.kind,
      change,
    }));
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.#logger.error({ err: String(error) }, 'a worker change listener threw');
      }
    }
  }

  #notReadyError(timeoutMs: number): DiscoveryNotReadyError {
    const reason = this.#lastError?.message ?? 'no answer from the discovery source yet';
    return new DiscoveryNotReadyError(
      `no workers discovered within ${timeoutMs} ms from ${this.#discovery.kind} discovery: ` +
        `${reason}. Discovery keeps retrying in the background.`,
      { cause: this.#lastError },
    );
  }
}

/** Whether a change must be applied at once: something left, moved or stopped being ready. */
function isUrgent(change: WorkerChange): boolean {
  if (change.removed.length > 0) return true;
  return change.updated.some(({ previous, current }) =>
    current.ip !== previous.ip ||
    current.port !== previous.port ||
    (previous.state === 'ready' && current.state !== 'ready'),
  );
}
