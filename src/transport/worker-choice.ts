import type { Picker } from '../balancer/picker.js';
import type { WorkerSource } from '../discovery/cache.js';
import type { WorkerChange } from '../discovery/diff.js';
import type { Worker } from '../discovery/worker.js';
import { AbortedError } from '../errors.js';
import type { WorkerHealth } from './health.js';
import { Limiter } from './limiter.js';
import type { PickerPolicy } from './options.js';
import { AttemptError, remainingMs, type FragmentRun } from './run-state.js';

/** A worker chosen for one attempt, with the per-worker slot it holds until `release`. */
export interface WorkerLease {
  readonly worker: Worker;
  readonly release: () => void;
}

/** What {@link WorkerChoice} needs from the dispatcher. */
export interface WorkerChoiceOptions {
  readonly source: WorkerSource;
  readonly policy: PickerPolicy;
  readonly health: WorkerHealth;
  /** Requests in flight at once to one worker. */
  readonly maxPerWorker: number;
  /** With no worker known: wait for discovery, or fail at once. */
  readonly whenNoWorkers: 'wait' | 'fail';
}

/**
 * Picks the worker for each try of a fragment. It keeps the current picker (rebuilt on every
 * change to the worker set), a slot limiter per worker, and the fragments waiting for a
 * worker to appear.
 */
export class WorkerChoice {
  readonly #options: WorkerChoiceOptions;
  readonly #perWorker = new Map<string, Limiter>();
  readonly #waiters = new Set<() => void>();
  #picker: Picker;

  constructor(options: WorkerChoiceOptions) {
    this.#options = options;
    this.#picker = options.policy(options.source.workers());
  }

  /** How many workers the current picker knows. */
  get workerCount(): number {
    return this.#picker.workers.length;
  }

  /** Rebuilds the picker for a new worker set and wakes the fragments waiting for one. */
  sync(change: WorkerChange): void {
    this.#picker = this.#options.policy(change.workers);
    for (const worker of change.removed) this.#perWorker.delete(worker.id);
    this.wakeWaiters();
  }

  /** Wakes every fragment waiting for a worker, so it looks again (or sees it must stop). */
  wakeWaiters(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Picks the best worker not yet tried, holding a per-worker slot. Waits for discovery when
   * there is no worker at all (unless told to fail). `wait: false` returns undefined rather
   * than waiting for a slot or a worker, for hedges.
   */
  async pick(run: FragmentRun, wait: boolean): Promise<WorkerLease | undefined> {
    for (;;) {
      if (run.signal.aborted) throw run.signal.reason;

      const picker = this.#picker;
      if (picker.workers.length === 0) {
        if (!wait) return undefined;
        if (this.#options.whenNoWorkers === 'fail') {
          throw new AttemptError('error', 'connect', false, 'no workers known', 'no-workers');
        }
        this.#options.source.requestRefresh('no workers to send fragments to');
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

    // Without a key (or with a policy that ignores keys) no worker is the right one, so a
    // skipped turn is passed on by asking the policy again. Taking the next in order instead
    // would hand the skipped worker's share to its neighbour: with round-robin, twice the
    // traffic for the one after a dead worker.
    if (key === undefined || picker.usesKey === false) {
      for (let asked = 1; asked < picker.workers.length; asked += 1) {
        const next = picker.pick(undefined);
        if (next && !run.tried.has(next.id) && this.#fit(next)) return next;
      }
    }

    const untried = order.filter((worker) => !run.tried.has(worker.id));
    const tiers: Array<(worker: Worker) => boolean> = [
      (w) => this.#fit(w),
      (w) => this.#options.health.isAvailable(w.id),
      (w) => !this.#options.health.isEjected(w.id),
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
    return worker.state === 'ready' && this.#options.health.isAvailable(worker.id);
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
        this.#waiters.delete(done);
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
      this.#waiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
