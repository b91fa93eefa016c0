import { AbortedError } from '../errors.js';
import { QueueFullError } from './errors.js';

/**
 * A counting semaphore with a bounded wait queue: at most `limit` holders at once, at most
 * `maxQueued` waiting; one more is rejected with {@link QueueFullError} at once.
 *
 * @example
 * ```ts
 * const limiter = new Limiter(64, 1_000);
 * const release = await limiter.acquire(signal);
 * try { await work(); } finally { release(); }
 * ```
 */
export class Limiter {
  readonly limit: number;
  readonly maxQueued: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number, maxQueued = Infinity) {
    this.limit = limit;
    this.maxQueued = maxQueued;
  }

  /** Holders now. */
  get active(): number {
    return this.#active;
  }

  /** Waiters now. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Takes a slot if one is free now, without waiting; `undefined` otherwise. */
  tryAcquire(): (() => void) | undefined {
    if (this.#active >= this.limit || this.#waiting.length > 0) return undefined;
    return this.#grant();
  }

  /**
   * Waits for a slot; returns the function that gives it back (safe to call twice). Gives up
   * when `signal` fires or after `timeoutMs`, whose timer is cleared as soon as the wait ends.
   */
  async acquire(signal?: AbortSignal, timeoutMs = Infinity): Promise<() => void> {
    if (signal?.aborted) throw new AbortedError('aborted while waiting for a slot');
    if (this.#active < this.limit && this.#waiting.length === 0) return this.#grant();
    if (this.#waiting.length >= this.maxQueued) throw new QueueFullError(this.maxQueued);

    // A releasing holder hands its slot straight to the first waiter, so no newcomer can
    // slip in between and push the count over the limit.
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const giveUp = (message: string): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new AbortedError(message, { cause: signal?.reason }));
      };
      const onAbort = (): void => giveUp('aborted while waiting for a slot');
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => giveUp(`no slot within ${timeoutMs} ms`), timeoutMs)
        : undefined;
      this.#waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #grant(): () => void {
    this.#active += 1;
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;

      const next = this.#waiting.shift();
      if (next) next();
      else this.#active -= 1;
    };
  }
}
