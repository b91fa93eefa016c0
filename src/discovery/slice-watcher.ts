import { setTimeout as sleep } from 'node:timers/promises';
import { DiscoveryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { WatchEnd, WatchEvent } from './watch-stream.js';
import type { Worker, WorkerWatch, WorkerWatchHandlers } from './worker.js';

/**
 * Timings of the list-then-watch loop. Every one can be scaled down in tests.
 *
 * @example
 * ```ts
 * const timings: WatchTimings = { ...defaultWatchTimings, idleTimeoutMs: 45_000 };
 * const discovery = new KubernetesWorkerDiscovery({ watch: timings });
 * ```
 */
export interface WatchTimings {
  /**
   * The server-side `timeoutSeconds` of each watch; each watch asks for a random value between
   * this and twice this, so that many coordinators do not reconnect in step. Default 300.
   */
  readonly watchTimeoutSeconds: number;
  /**
   * Longest silence tolerated on an open watch before it is torn down and the state re-listed.
   * The API server sends a bookmark about once a minute to watches that ask, so a healthy quiet
   * watch is never silent this long. Default 90,000 (90 s).
   */
  readonly idleTimeoutMs: number;
  /** First delay before retrying after a failure; doubles up to the maximum. Default 1,000. */
  readonly minRetryDelayMs: number;
  /** Longest delay between retries. Default 30,000. */
  readonly maxRetryDelayMs: number;
  /**
   * The safety-net full re-list, in case a watch missed events; jittered by up to +20%.
   * Default 600,000 (10 minutes).
   */
  readonly relistIntervalMs: number;
}

/**
 * The defaults of {@link WatchTimings}.
 *
 * @example
 * ```ts
 * // Keep the defaults but retry quickly, as a test would.
 * const watch = { ...defaultWatchTimings, minRetryDelayMs: 10, maxRetryDelayMs: 100 };
 * const discovery = new KubernetesWorkerDiscovery({ watch });
 * ```
 */
export const defaultWatchTimings: WatchTimings = Object.freeze({
  watchTimeoutSeconds: 300,
  idleTimeoutMs: 90_000,
  minRetryDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
  relistIntervalMs: 600_000,
});

/**
 * A slice as the loop needs it: a name and a resourceVersion.
 *
 * @example
 * ```ts
 * const slice: VersionedObject = {
 *   metadata: { name: 'query-worker-x7k2p', resourceVersion: '42' },
 * };
 * const resumeFrom = slice.metadata?.resourceVersion;
 * ```
 */
export interface VersionedObject {
  readonly metadata?: {
    readonly name?: string | undefined;
    readonly resourceVersion?: string | undefined;
  } | undefined;
}

/**
 * The I/O the loop drives: one list, one watch. Errors are typed `DiscoveryError`s.
 *
 * @example
 * ```ts
 * const source: SliceSource<V1EndpointSlice> = {
 *   list: (signal) => listSlices(signal), // resolves to { items, resourceVersion }
 *   watch: ({ resourceVersion, timeoutSeconds, ...rest }) => streamWatch({
 *     ...rest, kubeConfig, path, context, connectTimeoutMs: 10_000,
 *     query: { resourceVersion: resourceVersion ?? '', timeoutSeconds: String(timeoutSeconds) },
 *   }),
 *   toWorkers: (items) => workersFromSlices(items, { port: 7101 }).workers,
 * };
 * const loop = new ListWatchLoop(source, handlers, {}).start();
 * ```
 */
export interface SliceSource<T extends VersionedObject> {
  /** Lists every matching object and the collection's resourceVersion. */
  list(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string | undefined }>;
  /** Runs one watch from `resourceVersion` until it ends. */
  watch(options: {
    resourceVersion: string | undefined;
    timeoutSeconds: number;
    idleTimeoutMs: number;
    signal: AbortSignal;
    onOpen: () => void;
    onEvent: (event: WatchEvent<T>) => void;
  }): Promise<WatchEnd>;
  /** Turns the current objects into workers (pure). */
  toWorkers(items: readonly T[]): Worker[];
}

/**
 * Options for {@link ListWatchLoop}.
 *
 * @example
 * ```ts
 * const options: ListWatchOptions = { timings: { relistIntervalMs: 300_000 }, logger: pino() };
 * const loop = new ListWatchLoop(source, handlers, options).start();
 * ```
 */
export interface ListWatchOptions {
  readonly timings?: Partial<WatchTimings> | undefined;
  readonly logger?: Logger | undefined;
  readonly now?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
}

type Step = { readonly list: boolean; readonly delayMs: number };

/**
 * Keeps a set of objects current with list-then-watch, and reports the workers they make.
 *
 * One loop, one watch at a time: it lists, watches from the list's resourceVersion, and when
 * the watch ends decides what next. A clean end resumes from the last resourceVersion; `410
 * Gone` (either form) drops it and lists afresh; a stall (no byte within the idle limit, so not
 * even a bookmark) tears the stream down and lists again, since events may have been lost;
 * failures back off with capped, jittered delays that honour `Retry-After`. A long-interval
 * re-list is a safety net: if it finds a difference from the watched state, it warns that
 * events were missed. A failure never empties the worker set: only a successful list or an
 * event changes it.
 *
 * @example
 * ```ts
 * const loop = new ListWatchLoop(source, handlers, { timings: { idleTimeoutMs: 60_000 } });
 * loop.start();
 * await loop.close();
 * ```
 */
export class ListWatchLoop<T extends VersionedObject> implements WorkerWatch {
  readonly #source: SliceSource<T>;
  readonly #handlers: WorkerWatchHandlers;
  readonly #timings: WatchTimings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  readonly #items = new Map<string, T>();

  #resourceVersion: string | undefined;
  #listed = false;
  #failures = 0;
  #nextSafetyListAt = Infinity;
  #relistWanted: string | undefined;
  #watchAbort: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(source: SliceSource<T>, handlers: WorkerWatchHandlers, options: ListWatchOptions) {
    this.#source = source;
    this.#handlers = handlers;
    this.#timings = { ...defaultWatchTimings, ...definedOnly(options.timings ?? {}) };
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts the loop; idempotent. */
  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Asks for a full re-list as soon as the current watch can be stopped. */
  relist(reason = 'requested'): void {
    this.#relistWanted = reason;
    this.#watchAbort?.abort();
  }

  /** Stops the watch and every timer; resolves once the loop has finished. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    let step: Step = { list: true, delayMs: 0 };
    while (!this.#stop.signal.aborted) {
      if (step.delayMs > 0) await this.#pause(step.delayMs);
      if (this.#stop.signal.aborted) break;

      const mustList = step.list || this.#relistWanted !== undefined ||
        this.#now() >= this.#nextSafetyListAt;
      step = mustList ? await this.#list() : { list: false, delayMs: 0 };
      if (step.list || step.delayMs > 0 || this.#stop.signal.aborted) continue;

      step = await this.#watch();
    }
  }

  async #list(): Promise<Step> {
    const safetyNet = this.#listed && this.#relistWanted === undefined &&
      this.#now() >= this.#nextSafetyListAt;
    this.#relistWanted = undefined;

    try {
      const listed = await this.#source.list(this.#stop.signal);
      if (this.#stop.signal.aborted) return { list: false, delayMs: 0 };

      this.#replace(listed.items, safetyNet);
      this.#resourceVersion = listed.resourceVersion;
      this.#listed = true;
      const jitter = 1 + 0.2 * this.#random();
      this.#nextSafetyListAt = this.#now() + this.#timings.relistIntervalMs * jitter;
      return { list: false, delayMs: 0 };
    } catch (error) {
      if (this.#stop.signal.aborted) return { list: false, delayMs: 0 };
      return { list: true, delayMs: this.#failed(asError(error)) };
    }
  }

  async #watch(): Promise<Step> {
    const abort = new AbortController();
    this.#watchAbort = abort;
    const untilSafetyList = Math.max(0, this.#nextSafetyListAt - this.#now());
    const safetyTimer = setTimeout(() => abort.abort(), Math.min(untilSafetyList, 2 ** 31 - 1));
    const signal = AbortSignal.any([abort.signal, this.#stop.signal]);
    let heard = false;

    const base = this.#timings.watchTimeoutSeconds;
    const end = await this.#source.watch({
      resourceVersion: this.#resourceVersion,
      timeoutSeconds: Math.max(1, Math.round(base * (1 + this.#random()))),
      idleTimeoutMs: this.#timings.idleTimeoutMs,
      signal,
      onOpen: () => this.#handlers.onSynced(),
      onEvent: (event) => {
        heard = true;
        this.#apply(event);
      },
    });
    clearTimeout(safetyTimer);
    this.#watchAbort = undefined;

    return this.#afterWatch(end, heard);
  }

  #afterWatch(end: WatchEnd, heard: boolean): Step {
    switch (end.kind) {
      case 'aborted':
        // Our own stop: closing, a re-list asked for, or the safety net being due.
        return { list: false, delayMs: 0 };
      case 'closed':
        // The server's timeout ran out: resume from where we are after a short pause, which
        // grows if the server keeps closing streams that carried nothing.
        this.#failures = heard ? 1 : this.#failures + 1;
        return { list: false, delayMs: this.#backoff(undefined) };
      case 'gone':
        this.#logger.info(
          { resourceVersion: this.#resourceVersion },
          'watch resourceVersion expired (410 Gone); listing afresh',
        );
        this.#resourceVersion = undefined;
        this.#failures += 1;
        return { list: true, delayMs: this.#failures > 1 ? this.#backoff(undefined) : 0 };
      case 'idle':
        this.#handlers.onError(new DiscoveryError(
          'timeout',
          `the EndpointSlice watch was silent for ${this.#timings.idleTimeoutMs} ms (not even ` +
            'a bookmark); tore it down and re-listing, since events may have been missed',
        ));
        this.#failures += 1;
        return { list: true, delayMs: this.#failures > 1 ? this.#backoff(undefined) : 0 };
      case 'failed':
        return { list: end.lostEvents, delayMs: this.#failed(end.error) };
    }
  }

  /** Records a failure, tells the handler, and returns how long to wait. */
  #failed(error: Error): number {
    this.#failures += 1;
    const retryAfter = error instanceof DiscoveryError ? error.retryAfterSeconds : undefined;
    const delayMs = this.#backoff(retryAfter);
    this.#logger.warn(
      { err: error.message, failures: this.#failures, retryInMs: delayMs },
      'EndpointSlice list/watch failed; keeping the last good state and retrying',
    );
    this.#handlers.onError(error);
    return delayMs;
  }

  /** Exponential backoff with jitter on the upper half; never shorter than `Retry-After`. */
  #backoff(retryAfterSeconds: number | undefined): number {
    const { minRetryDelayMs, maxRetryDelayMs } = this.#timings;
    const exponent = Math.min(Math.max(this.#failures - 1, 0), 30);
    const ceiling = Math.min(maxRetryDelayMs, minRetryDelayMs * 2 ** exponent);
    const delay = Math.round(ceiling / 2 + (ceiling / 2) * this.#random());
    return Math.max(delay, (retryAfterSeconds ?? 0) * 1000);
  }

  async #pause(delayMs: number): Promise<void> {
    try {
      await sleep(delayMs, undefined, { signal: this.#stop.signal, ref: false });
    } catch {
      // Aborted by close(): the loop sees the signal and ends.
    }
  }

  /** Replaces the whole state by a list's result; reports the difference a watch missed. */
  #replace(items: readonly T[], safetyNet: boolean): void {
    const fresh = new Map(items.map((item) => [keyOf(item), item]));
    if (safetyNet) {
      const missed = differences(this.#items, fresh);
      if (missed > 0) {
        this.#logger.warn(
          { differences: missed },
          'the periodic re-list found changes the watch did not deliver: events were missed',
        );
      }
    }

    this.#items.clear();
    for (const [key, item] of fresh) this.#items.set(key, item);
    this.#failures = 0;
    this.#handlers.onWorkers(this.#source.toWorkers([...this.#items.values()]));
  }

  #apply(event: WatchEvent<T>): void {
    const version = event.object.metadata?.resourceVersion;
    if (version !== undefined) this.#resourceVersion = version;

    if (event.type === 'BOOKMARK') {
      this.#handlers.onSynced();
      return;
    }
    if (event.type === 'DELETED') this.#items.delete(keyOf(event.object));
    else this.#items.set(keyOf(event.object), event.object);
    this.#failures = 0;
    this.#handlers.onWorkers(this.#source.toWorkers([...this.#items.values()]));
  }
}

function keyOf(item: VersionedObject): string {
  return item.metadata?.name ?? '';
}

/** How many objects differ (by resourceVersion, or being there at all) between two states. */
function differences<T extends VersionedObject>(
  before: ReadonlyMap<string, T>,
  after: ReadonlyMap<string, T>,
): number {
  let count = 0;
  for (const [key, item] of after) {
    const old = before.get(key);
    if (old?.metadata?.resourceVersion !== item.metadata?.resourceVersion) count += 1;
  }
  for (const key of before.keys()) if (!after.has(key)) count += 1;
  return count;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
