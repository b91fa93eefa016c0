import type { AttemptSender } from './attempt.js';
import type { RetryBudget } from './retry-budget.js';
import {
  AttemptError,
  HedgeLost,
  replayable,
  type Answer,
  type FragmentRun,
} from './run-state.js';
import type { HedgeSettings } from './settings.js';
import type { WorkerChoice, WorkerLease } from './worker-choice.js';

/** What {@link Rounds} needs from the dispatcher. */
export interface RoundsOptions {
  readonly choice: WorkerChoice;
  readonly sender: AttemptSender;
  readonly budget: RetryBudget;
  readonly hedging: HedgeSettings;
  /** Attempts per fragment, hedges included. */
  readonly maxAttempts: number;
}

/**
 * Runs one round of a fragment: an attempt on the first choice of worker, plus a hedged copy
 * on another worker when the first is slow. Counts the hedges in flight across the dispatcher
 * so that hedging an overloaded system cannot double its load.
 */
export class Rounds {
  readonly #options: RoundsOptions;
  #hedges = 0;

  constructor(options: RoundsOptions) {
    this.#options = options;
  }

  /** One round: the first choice, plus a hedged copy if the first is slow. */
  async run(run: FragmentRun): Promise<Answer> {
    const primary = await this.#options.choice.pick(run, true);
    if (!primary) {
      throw new AttemptError('error', 'connect', false, 'no worker', 'no-other-worker');
    }

    const hedgeAfterMs = this.#options.hedging.hedgeAfterMs;
    if (hedgeAfterMs === undefined || !replayable(run.fragment)) {
      return this.#options.sender.send(run, primary, run.signal, false);
    }
    return this.#hedged(run, primary, hedgeAfterMs);
  }

  async #hedged(run: FragmentRun, primary: WorkerLease, hedgeAfterMs: number): Promise<Answer> {
    const first = new AbortController();
    const firstTry = this.#options.sender.send(
      run,
      primary,
      AbortSignal.any([run.signal, first.signal]),
      false,
    );
    const early = await endsWithin(firstTry, hedgeAfterMs);
    if (early || run.started >= this.#options.maxAttempts) return firstTry;

    const hedge = await this.#hedgeSlot(run);
    if (!hedge) return firstTry;
    const { secondary, releaseHedge } = hedge;

    const second = new AbortController();
    const secondTry = this.#options.sender.send(
      run,
      secondary,
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
   * A worker and a slot for a hedged copy, or undefined when hedging must not add load now:
   * too many hedges in flight, no retry budget left, or no other worker free at once.
   */
  async #hedgeSlot(
    run: FragmentRun,
  ): Promise<{ secondary: WorkerLease; releaseHedge: () => void } | undefined> {
    if (this.#hedges >= this.#options.hedging.maxHedges) return undefined;
    const releaseBudget = this.#options.budget.tryAcquire();
    const secondary = releaseBudget ? await this.#options.choice.pick(run, false) : undefined;
    if (!secondary) {
      releaseBudget?.();
      return undefined;
    }

    this.#hedges += 1;
    const releaseHedge = (): void => {
      this.#hedges -= 1;
      releaseBudget?.();
    };
    return { secondary, releaseHedge };
  }
}

/** True when `attempt` ends (either way) within `ms`; its timer is cleared either way. */
async function endsWithin(attempt: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => {
    timer = setTimeout(() => resolve('slow'), ms);
  });
  const early = await Promise.race([attempt.then(() => 'done' as const, () => 'done' as const),
    slow]);
  clearTimeout(timer);
  return early === 'done';
}
