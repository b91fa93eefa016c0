import { ConfigError } from '../errors.js';

/**
 * Options for {@link RetryBudget}.
 *
 * @example
 * ```ts
 * new FragmentDispatcher(cache, {
 *   picker: 'rendezvous',
 *   retryBudget: { maxTokens: 100, successRefund: 0.1, minConcurrentRetries: 3 },
 * });
 * ```
 */
export interface RetryBudgetOptions {
  /**
   * The bucket's size. Each failed attempt takes one token, each success gives back
   * `successRefund`, and retries are allowed while more than half the bucket is left.
   * Default: the dispatcher's `maxInFlight` (256), so that a quarter of the in-flight
   * fragments can fail at once, as when one worker of four dies, and all be retried.
   */
  readonly maxTokens?: number | undefined;
  /** Tokens a success gives back. Default 0.1 (ten successes pay for one failure). */
  readonly successRefund?: number | undefined;
  /**
   * Retries that may run at once while the bucket is at half or below but not empty, so a
   * few fragments still get through a bad patch. Default 3.
   */
  readonly minConcurrentRetries?: number | undefined;
}

/**
 * A dispatcher-wide limit on retries, after gRPC retry throttling (a token bucket that
 * failures drain and successes refill) with a floor of concurrent retries, after Envoy's
 * retry budgets. When every worker is down, retries flow until half the bucket is spent,
 * then trickle through the floor until it is empty, then stop until successes refill it: a
 * total outage costs at most about `maxTokens` extra attempts, however many fragments.
 *
 * @example
 * ```ts
 * const budget = new RetryBudget({ maxTokens: 100 });
 * budget.recordFailure();
 * const release = budget.tryAcquire();
 * if (release) try { await retry(); } finally { release(); }
 * ```
 */
export class RetryBudget {
  readonly maxTokens: number;
  readonly successRefund: number;
  readonly minConcurrentRetries: number;
  #tokens: number;
  #active = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.maxTokens = options.maxTokens ?? 256;
    this.successRefund = options.successRefund ?? 0.1;
    this.minConcurrentRetries = options.minConcurrentRetries ?? 3;
    if (!(this.maxTokens > 0)) {
      throw new ConfigError('retryBudget.maxTokens', `must be > 0, got ${this.maxTokens}`);
    }
    if (!(this.successRefund >= 0)) {
      const got = this.successRefund;
      throw new ConfigError('retryBudget.successRefund', `must be >= 0, got ${got}`);
    }
    if (!Number.isInteger(this.minConcurrentRetries) || this.minConcurrentRetries < 0) {
      throw new ConfigError(
        'retryBudget.minConcurrentRetries',
        `must be an integer >= 0, got ${this.minConcurrentRetries}`,
      );
    }
    this.#tokens = this.maxTokens;
  }

  /** Tokens left. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Retries running now. */
  get activeRetries(): number {
    return this.#active;
  }

  /** A failed attempt drains one token. */
  recordFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  /** A successful attempt refills a little. */
  recordSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.successRefund);
  }

  /**
   * Asks for one retry (or hedge). Returns a function to call when it has finished, or
   * `undefined` when the budget is spent.
   */
  tryAcquire(): (() => void) | undefined {
    // Above half: retries flow. At half or below: only the floor of concurrent retries,
    // and only while a token is left, because failures that come back at once (refused
    // connections) would otherwise let the floor retry everything. Empty: none at all, so
    // the extra traffic of a whole outage is bounded by the bucket, not by the fragments.
    const bucketAllows = this.#tokens > this.maxTokens / 2;
    if (!bucketAllows && (this.#tokens < 1 || this.#active >= this.minConcurrentRetries)) {
      return undefined;
    }

    this.#active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active -= 1;
    };
  }
}
