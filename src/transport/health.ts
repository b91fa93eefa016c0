import { LRUCache } from 'lru-cache';
import { ConfigError } from '../errors.js';

/**
 * Options for {@link WorkerHealth}; the defaults follow Envoy's outlier detection.
 *
 * @example
 * ```ts
 * new FragmentDispatcher(cache, {
 *   picker: 'round-robin',
 *   health: { consecutiveFailures: 3, baseEjectionMs: 10_000, maxEjectedShare: 0.25 },
 * });
 * ```
 */
export interface WorkerHealthOptions {
  /** Failures in a row (no connection, reset, timeout, 502, 504) that eject. Default 5. */
  readonly consecutiveFailures?: number | undefined;
  /** The first ejection's length; the n-th lasts n times this. Default 30,000 ms. */
  readonly baseEjectionMs?: number | undefined;
  /** The longest ejection. Default 300,000 ms. */
  readonly maxEjectionMs?: number | undefined;
  /** The largest share of workers ejected at once (at least one may be). Default 0.1. */
  readonly maxEjectedShare?: number | undefined;
  /** How long the state of a worker not seen is kept. Default 600,000 ms (10 minutes). */
  readonly forgetAfterMs?: number | undefined;
  /** The clock, in milliseconds. Default `performance.now`-like monotonic clock. */
  readonly now?: (() => number) | undefined;
}

/**
 * What is known about one worker's health, by id.
 *
 * @example
 * ```ts
 * const { ejections, latencyMs } = dispatcher.health.state('pod-uid-1');
 * ```
 */
export interface WorkerHealthState {
  readonly consecutiveFailures: number;
  /** How many times the worker has been ejected (the next ejection lasts longer). */
  readonly ejections: number;
  /** Until when (clock ms) the worker is ejected; 0 when it is not. */
  readonly ejectedUntil: number;
  /** How long the latest ejection was set to last, in ms; 0 before any. */
  readonly lastEjectionMs: number;
  /** Until when (clock ms) the worker asked not to be sent work (`Retry-After`). */
  readonly holdUntil: number;
  /** Exponentially weighted average latency of answers, in ms; undefined before the first. */
  readonly latencyMs: number | undefined;
  /** When (clock ms) the worker last answered; `-Infinity` before its first answer. */
  readonly lastSuccessAt: number;
  /**
   * True after an ejection ends and until the worker answers: its next failure ejects it
   * again at once (for longer), so a worker still dead costs one probe, not a new streak.
   */
  readonly probation: boolean;
}

interface MutableState {
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
  lastEjectionMs: number;
  holdUntil: number;
  latencyMs: number | undefined;
  lastSuccessAt: number;
  probation: boolean;
}

const latencyWeight = 0.2;

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(name, `${name} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * Passive health checking: counts each worker's failures in a row and ejects a worker that
 * keeps failing for a while that grows with each ejection, while never ejecting more than a
 * share of the set. A worker whose ejection ends is on probation: one more failure ejects it
 * again. When the share is used up and another worker crosses the threshold, the ejected
 * worker due back first is let back early on probation and the new one takes its place, so
 * that after an outage of every worker a recovered one is found within a failure or two
 * rather than starved behind the cap. State is kept by worker id in an LRU with a TTL, so a
 * worker that comes back with the same id keeps its history and departed workers are
 * forgotten.
 *
 * @example
 * ```ts
 * const health = new WorkerHealth({ now: () => clock.now });
 * for (let i = 0; i < 5; i++) health.recordFailure('w1', 4);
 * health.isEjected('w1'); // true, for 30 s
 * ```
 */
export class WorkerHealth {
  readonly #states: LRUCache<string, MutableState>;
  readonly #ejected = new Set<string>();
  readonly #now: () => number;
  readonly #threshold: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #maxShare: number;

  constructor(options: WorkerHealthOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#threshold = positive('consecutiveFailures', options.consecutiveFailures ?? 5);
    this.#baseMs = positive('baseEjectionMs', options.baseEjectionMs ?? 30_000);
    this.#maxMs = positive('maxEjectionMs', options.maxEjectionMs ?? 300_000);
    this.#maxShare = options.maxEjectedShare ?? 0.1;
    if (!(this.#maxShare >= 0 && this.#maxShare <= 1)) {
      throw new ConfigError(
        'maxEjectedShare',
        `maxEjectedShare must be between 0 and 1, got ${this.#maxShare}`,
      );
    }
    const now = this.#now;
    this.#states = new LRUCache<string, MutableState>({
      max: 10_000,
      ttl: positive('forgetAfterMs', options.forgetAfterMs ?? 600_000),
      updateAgeOnGet: true,
      ttlResolution: 0,
      perf: { now },
    });
  }

  /** The health clock now, in milliseconds. */
  now(): number {
    return this.#now();
  }

  /** True when the worker has answered anything since `since` (a reading of {@link now}). */
  answeredSince(id: string, since: number): boolean {
    return (this.#states.get(id)?.lastSuccessAt ?? -Infinity) >= since;
  }

  /** A copy of a worker's state (a fresh one when the worker is unknown). */
  state(id: string): WorkerHealthState {
    return { ...this.#get(id) };
  }

  /**
   * An answer arrived: the failure streak and any probation end, and the latency average
   * moves. An ejected worker that answers (a last-resort pick) has recovered: it is taken
   * back at once.
   */
  recordSuccess(id: string, latencyMs: number): void {
    const state = this.#get(id);
    state.consecutiveFailures = 0;
    state.probation = false;
    if (this.#ejected.delete(id)) state.ejectedUntil = 0;
    state.lastSuccessAt = this.#now();
    state.latencyMs =
      state.latencyMs === undefined
        ? latencyMs
        : state.latencyMs + latencyWeight * (latencyMs - state.latencyMs);
  }

  /**
   * A failure that belongs to the worker. Returns true when this failure ejected it.
   * `workerCount` is the size of the current set, for the cap on ejections.
   */
  recordFailure(id: string, workerCount: number): boolean {
    const state = this.#get(id);
    state.consecutiveFailures += 1;
    if (this.isEjected(id)) return false;
    if (!state.probation && state.consecutiveFailures < this.#threshold) return false;
    if (this.ejectedCount() >= this.maxEjected(workerCount) && !this.#releaseOne()) return false;

    state.probation = false;
    state.ejections += 1;
    state.lastEjectionMs = Math.min(this.#baseMs * state.ejections, this.#maxMs);
    state.ejectedUntil = this.#now() + state.lastEjectionMs;
    state.consecutiveFailures = 0;
    this.#ejected.add(id);
    return true;
  }

  /** The worker asked (with `Retry-After`) not to get work for `ms`. */
  holdOff(id: string, ms: number): void {
    const state = this.#get(id);
    state.holdUntil = Math.max(state.holdUntil, this.#now() + ms);
  }

  /** Discovery reported the worker as new: it is taken back at once, its history kept. */
  readmit(id: string): void {
    const state = this.#states.get(id);
    if (!state) return;
    state.ejectedUntil = 0;
    state.consecutiveFailures = 0;
    state.probation = false;
    this.#ejected.delete(id);
  }

  /** True while the worker is ejected. */
  isEjected(id: string): boolean {
    if (!this.#ejected.has(id)) return false;
    const state = this.#states.get(id);
    if (state && state.ejectedUntil > this.#now()) return true;

    // The ejection is over (or the state was forgotten): take the worker back, on probation.
    if (state) {
      state.ejectedUntil = 0;
      state.probation = true;
    }
    this.#ejected.delete(id);
    return false;
  }

  /** True while the worker's `Retry-After` runs. */
  isHeld(id: string): boolean {
    const state = this.#states.get(id);
    return state !== undefined && state.holdUntil > this.#now();
  }

  /** True when the worker may get new work now. */
  isAvailable(id: string): boolean {
    return !this.isEjected(id) && !this.isHeld(id);
  }

  /** Workers ejected now. */
  ejectedCount(): number {
    for (const id of [...this.#ejected]) this.isEjected(id);
    return this.#ejected.size;
  }

  /** How many of `workerCount` workers may be ejected at once: a share, but at least one. */
  maxEjected(workerCount: number): number {
    return Math.max(1, Math.floor(workerCount * this.#maxShare));
  }

  /**
   * Lets the ejected worker due back first return now, on probation, to make room under the
   * cap. False when none is ejected. Without this, the workers left in rotation after an
   * outage may all be dead while a recovered one waits out its ejection.
   */
  #releaseOne(): boolean {
    let due: [string, MutableState] | undefined;
    for (const id of this.#ejected) {
      const state = this.#states.get(id);
      if (!state) continue;
      if (due === undefined || state.ejectedUntil < due[1].ejectedUntil) due = [id, state];
    }
    if (due === undefined) return false;

    const [id, state] = due;
    state.ejectedUntil = 0;
    state.probation = true;
    this.#ejected.delete(id);
    return true;
  }

  #get(id: string): MutableState {
    let state = this.#states.get(id);
    if (!state) {
      state = {
        consecutiveFailures: 0,
        ejections: 0,
        ejectedUntil: 0,
        lastEjectionMs: 0,
        holdUntil: 0,
        latencyMs: undefined,
        lastSuccessAt: -Infinity,
        probation: false,
      };
      this.#states.set(id, state);
    }
    return state;
  }
}
