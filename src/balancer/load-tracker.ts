import { ConfigError } from '../errors.js';

/**
 * Live counters for one worker, shared by every picker that includes it. Pickers keep a
 * reference and read the fields on each pick; they never copy them.
 *
 * @example
 * ```ts
 * const load: WorkerLoad = tracker.load(worker.id);
 * console.log(`${load.workerId}: ${load.inFlight} in flight, about ${load.latencyMs} ms`);
 * ```
 */
export interface WorkerLoad {
  /** The worker's id ({@link Worker.id}). */
  readonly workerId: string;
  /** Requests started and not yet ended. */
  readonly inFlight: number;
  /** Peak-EWMA latency in milliseconds as of {@link lastSampleAt}. */
  readonly latencyMs: number;
  /** Clock reading of the last latency sample, or of creation before any sample. */
  readonly lastSampleAt: number;
  /**
   * Clock reading when the tracker first saw this worker; `-Infinity` for workers present in
   * the first set the tracker saw (they are not new, the coordinator is).
   */
  readonly firstSeenAt: number;
}

/**
 * Ends a started request. Safe to call more than once: only the first call counts.
 *
 * @example
 * ```ts
 * const end: EndRequest = tracker.start(worker.id);
 * const startedAt = performance.now();
 * try {
 *   await send(worker);
 *   end(performance.now() - startedAt);
 * } finally {
 *   end(); // no effect when the request already ended above
 * }
 * ```
 */
export interface EndRequest {
  /**
   * @param latencyMs - the response time, to feed the latency average; omit it on errors
   *   and aborts, whose timing says nothing about the worker's speed
   */
  (latencyMs?: number): void;
  /** Ends the request without a latency sample, for `using` declarations. */
  [Symbol.dispose](): void;
}

/**
 * Options for {@link LoadTracker}.
 *
 * @example
 * ```ts
 * const tracker = new LoadTracker({ decayMs: 5_000, initialLatencyMs: 50 });
 * const picker = createPicker('least-request', workers, { tracker });
 * ```
 */
export interface LoadTrackerOptions {
  /**
   * The clock, in milliseconds. Default `performance.now`. Inject a fake one in tests.
   */
  readonly now?: (() => number) | undefined;
  /**
   * How fast the latency average forgets: the time constant of its exponential decay, in
   * milliseconds. Default 10,000 (Finagle's and Linkerd's peak-EWMA use about 10 s).
   */
  readonly decayMs?: number | undefined;
  /**
   * The latency assumed before a worker's first sample, in milliseconds. Default 30
   * (Linkerd's starting value), so a new worker is neither shunned nor flooded.
   */
  readonly initialLatencyMs?: number | undefined;
}

class MutableLoad implements WorkerLoad {
  inFlight = 0;
  latencyMs: number;
  lastSampleAt: number;
  readonly workerId: string;
  readonly firstSeenAt: number;

  constructor(workerId: string, latencyMs: number, now: number, firstSeenAt: number) {
    this.workerId = workerId;
    this.latencyMs = latencyMs;
    this.lastSampleAt = now;
    this.firstSeenAt = firstSeenAt;
  }
}

/**
 * Per-worker in-flight counts and peak-EWMA latencies, keyed by worker id, shared by all the
 * pickers of a coordinator. Pickers read it; the dispatcher writes it through
 * {@link LoadTracker.start}.
 *
 * It also remembers when each worker was first seen, which is what slow start ramps from.
 *
 * @example
 * ```ts
 * const tracker = new LoadTracker();
 * const picker = createPicker('least-request', workers, { tracker });
 * const worker = picker.pick()!;
 * const end = tracker.start(worker.id);
 * const started = performance.now();
 * try {
 *   await send(worker);
 *   end(performance.now() - started);
 * } finally {
 *   end(); // no-op after a success; ends errors and aborts
 * }
 * ```
 */
export class LoadTracker {
  readonly #loads = new Map<string, MutableLoad>();
  readonly #now: () => number;
  /** The latency average's decay time constant in ms, for pickers that decay it inline. */
  readonly decayMs: number;
  readonly #initialLatencyMs: number;
  #totalInFlight = 0;

  constructor(options: LoadTrackerOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.decayMs = positive('decayMs', options.decayMs ?? 10_000);
    this.#initialLatencyMs = positive('initialLatencyMs', options.initialLatencyMs ?? 30);
  }

  /** The tracker's clock, shared with the pickers' slow start. */
  now(): number {
    return this.#now();
  }

  /** Requests in flight over all workers, for the bounded-load average. */
  get totalInFlight(): number {
    return this.#totalInFlight;
  }

  /**
   * The counters for `workerId`, created on first use. Workers seen in the very first call
   * that creates counters count as established; later ones as new (see slow start).
   *
   * @example
   * ```ts
   * tracker.load('pod-uid-a').inFlight; // 0
   * ```
   */
  load(workerId: string): WorkerLoad {
    return this.#loadOf(workerId);
  }

  /**
   * Registers a whole worker set at once. The first set a tracker sees is treated as
   * established (no slow start); workers appearing in later sets are new from now on.
   *
   * @example
   * ```ts
   * tracker.observe(workers.map((w) => w.id));
   * ```
   */
  observe(workerIds: Iterable<string>): WorkerLoad[] {
    const established = this.#loads.size === 0;
    const loads: WorkerLoad[] = [];

    for (const id of workerIds) loads.push(this.#loadOf(id, established));

    return loads;
  }

  /**
   * Forgets the counters of workers outside `workerIds` that have nothing in flight, so a
   * long-lived tracker does not grow with every pod that ever existed. A forgotten worker
   * that comes back is new again (slow start applies).
   *
   * @example
   * ```ts
   * tracker.retain(currentWorkers.map((w) => w.id));
   * ```
   */
  retain(workerIds: Iterable<string>): void {
    const keep = new Set(workerIds);
    for (const [id, load] of this.#loads) {
      if (!keep.has(id) && load.inFlight === 0) this.#loads.delete(id);
    }
  }

  /**
   * Counts a request to `workerId` as in flight until the returned function is called.
   * With `signal`, an abort ends the request too, so the count returns to zero on success,
   * error and abort alike.
   *
   * @example
   * ```ts
   * using end = tracker.start(worker.id, signal); // ended at scope exit at the latest
   * const response = await send(worker);
   * end(response.elapsedMs);
   * ```
   */
  start(workerId: string, signal?: AbortSignal): EndRequest {
    const load = this.#loadOf(workerId);
    let open = true;
    load.inFlight += 1;
    this.#totalInFlight += 1;

    const end = ((latencyMs?: number): void => {
      if (!open) return;
      open = false;
      load.inFlight -= 1;
      this.#totalInFlight -= 1;
      signal?.removeEventListener('abort', onAbort);
      if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
        this.#sample(load, latencyMs);
      }
    }) as EndRequest;
    const onAbort = (): void => end();

    end[Symbol.dispose] = () => end();
    if (signal?.aborted) end();
    else signal?.addEventListener('abort', onAbort, { once: true });

    return end;
  }

  /**
   * The worker's peak-EWMA latency now: the last average decayed by the time since its last
   * sample, never below zero.
   *
   * @example
   * ```ts
   * tracker.latencyMs(worker.id); // 30 before any sample
   * ```
   */
  latencyMs(workerId: string): number {
    return this.currentLatency(this.#loadOf(workerId), this.#now());
  }

  /** {@link latencyMs} for counters a picker already holds, at clock reading `now`. */
  currentLatency(load: WorkerLoad, now: number): number {
    // Between samples the average decays towards zero, so a worker that was slow once is
    // tried again after a while instead of being starved forever.
    const elapsed = now - load.lastSampleAt;
    if (elapsed <= 0) return load.latencyMs;
    return load.latencyMs * Math.exp(-elapsed / this.decayMs);
  }

  #sample(load: MutableLoad, latencyMs: number): void {
    const now = this.#now();
    const current = this.currentLatency(load, now);

    // Peak: a slow response counts at once; fast ones pull the average down gradually.
    if (latencyMs > current) {
      load.latencyMs = latencyMs;
    } else {
      const weight = Math.exp(-Math.max(0, now - load.lastSampleAt) / this.decayMs);
      load.latencyMs = load.latencyMs * weight + latencyMs * (1 - weight);
    }
    load.lastSampleAt = now;
  }

  #loadOf(workerId: string, established = this.#loads.size === 0): MutableLoad {
    let load = this.#loads.get(workerId);

    if (load === undefined) {
      const now = this.#now();
      load = new MutableLoad(
        workerId,
        this.#initialLatencyMs,
        now,
        established ? Number.NEGATIVE_INFINITY : now,
      );
      this.#loads.set(workerId, load);
    }

    return load;
  }
}

function positive(option: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `${option} must be a positive number of ms, got ${value}`);
  }
  return value;
}
