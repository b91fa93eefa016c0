import type { Worker } from '../discovery/worker.js';
import { appendTo, BasePicker, type Tier } from './base-picker.js';
import type { PickerOptions } from './options.js';

/**
 * Power of two choices: draw two *distinct* workers at random and take the one with fewer
 * requests in flight (the first drawn on a tie). Distinct matters: drawing the same worker
 * twice would let a busy worker win against itself. With two workers the idle one always
 * wins. Ignores keys.
 *
 * Random draws come from a small generator seeded once from the `random` option, so a
 * seeded `random` makes picks repeatable.
 *
 * With `latencyWeighted`, the cost is peak-EWMA latency × (in flight + 1), as in Finagle and
 * Linkerd: a worker that answered slowly recently looks busier. Slow start divides the cost
 * by the ramping worker's share. Counts and latencies come from the shared
 * {@link LoadTracker}, read at pick time.
 *
 * @example
 * ```ts
 * const tracker = new LoadTracker();
 * const picker = new LeastRequestPicker(workers, { tracker, latencyWeighted: true });
 * const worker = picker.pick()!;
 * const end = tracker.start(worker.id);
 * ```
 */
export class LeastRequestPicker extends BasePicker {
  static readonly policy = 'least-request';
  readonly policy = LeastRequestPicker.policy;
  /** Keys do not steer this policy's picks. */
  readonly usesKey = false;
  readonly latencyWeighted: boolean;
  /**
   * xorshift32 state, seeded once from the `random` option. Calling a user-supplied random
   * function returns a boxed double on every pick; a generator in an Int32Array does not.
   */
  readonly #state = new Int32Array(1);

  constructor(workers: readonly Worker[], options: PickerOptions = {}) {
    super(workers, options);
    this.latencyWeighted = options.latencyWeighted === true;
    this.#state[0] = Math.floor(this.random() * 4294967296) | 0 || 0x9e3779b9;
  }

  /** A random index below `length` (modulo bias ≤ length / 2^32: negligible). */
  #draw(length: number): number {
    let x = this.#state[0] as number;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state[0] = x;
    return (x >>> 0) % length;
  }

  protected pickFrom(tier: Tier, _key: string | undefined): Worker {
    const first = this.#draw(tier.workers.length);
    if (tier.workers.length < 2) return tier.workers[first] as Worker;
    const second = this.#other(first, tier.workers.length);

    const now = this.latencyWeighted ? this.tracker.now() : this.warmingNow();
    const firstCost = this.#cost(tier, first, now, 0);
    const secondCost = this.#cost(tier, second, now, 0);
    return tier.workers[secondCost < firstCost ? second : first] as Worker;
  }

  /**
   * The two distinct indexes below `length` to compare (the same one twice when only one
   * exists). Exposed for tests of distinctness.
   */
  candidates(length: number): [number, number] {
    const first = this.#draw(length);
    if (length < 2) return [first, first];
    return [first, this.#other(first, length)];
  }

  /** A uniformly random index below `length` other than `first`. */
  #other(first: number, length: number): number {
    // Draw from the other length − 1 and shift past the first: distinct and still uniform.
    const other = this.#draw(length - 1);
    return other >= first ? other + 1 : other;
  }

  protected rankFrom(tier: Tier, key: string | undefined, count: number, out: Worker[]): void {
    const now = this.latencyWeighted ? this.tracker.now() : this.warmingNow();
    const first = tier === this.tiers[0] ? this.pickFrom(tier, key) : undefined;
    let added = 0;
    if (first !== undefined) {
      out.push(first);
      added += 1;
    }

    // After the pick, the least loaded first: the fallbacks most likely to answer soon.
    const order = tier.workers.map((_, i) => i);
    const costs = order.map((i) => this.#cost(tier, i, now, 0));
    order.sort((a, b) => (costs[a] as number) - (costs[b] as number) || a - b);

    for (const index of order) {
      if (added >= count) break;
      const worker = tier.workers[index] as Worker;
      if (worker === first) continue;
      out.push(worker);
      added += 1;
    }
  }

  /**
   * Plans the batch counting the keys already planned on top of the live counts, so one
   * idle worker does not receive the whole batch.
   */
  override assign(keys: Iterable<string>): Map<string, string[]> {
    const plan = new Map<string, string[]>();
    const tier = this.tiers[0];
    if (tier === undefined) return plan;

    const planned = new Float64Array(tier.workers.length);
    const now = this.latencyWeighted ? this.tracker.now() : this.warmingNow();
    for (const key of keys) {
      const [first, second] = this.candidates(tier.workers.length);
      const firstCost = this.#cost(tier, first, now, planned[first] as number);
      const secondCost = this.#cost(tier, second, now, planned[second] as number);
      const chosen = secondCost < firstCost ? second : first;

      planned[chosen] = (planned[chosen] as number) + 1;
      appendTo(plan, tier.workers[chosen]!.id, key);
    }

    return plan;
  }

  #cost(tier: Tier, index: number, now: number | undefined, extra: number): number {
    const load = tier.loads[index]!;
    let cost = load.inFlight + extra + 1;
    if (now === undefined) return cost;

    if (this.latencyWeighted) {
      // The tracker's decay, written out here so no double crosses a call and gets boxed.
      const elapsed = now - load.lastSampleAt;
      const decay = elapsed > 0 ? Math.exp(-elapsed / this.tracker.decayMs) : 1;
      cost *= load.latencyMs * decay;
    }
    return cost / this.warmFraction(load, now);
  }
}
