import type { Worker } from '../discovery/worker.js';
import { BasePicker, type Tier } from './base-picker.js';
import type { WorkerLoad } from './load-tracker.js';
import type { PickerOptions } from './options.js';

/**
 * Takes the workers in turn, starting at a random offset so that coordinators started
 * together do not all hit the same worker first. Ignores keys.
 *
 * With slow start, a ramping worker's turn is taken with probability equal to its share
 * and otherwise passed to the next worker.
 *
 * @example
 * ```ts
 * const picker = new RoundRobinPicker(workers, { random: () => 0 });
 * picker.pick(); // the first worker in address order, then the second, …
 * ```
 */
export class RoundRobinPicker extends BasePicker {
  static readonly policy = 'round-robin';
  readonly policy = RoundRobinPicker.policy;
  /** Keys do not steer this policy's picks. */
  readonly usesKey = false;
  /** The next position in each tier. */
  readonly #cursors: number[];

  constructor(workers: readonly Worker[], options: PickerOptions = {}) {
    super(workers, options);
    this.#cursors = this.tiers.map((tier) => this.randomIndex(tier.workers.length));
  }

  protected pickFrom(tier: Tier, _key: string | undefined): Worker {
    const tierIndex = this.tiers.indexOf(tier);
    const length = tier.workers.length;
    const start = this.#cursors[tierIndex] as number;
    const now = this.warmingNow();

    let index = start;
    if (now !== undefined) {
      // Skip ramping workers in proportion to how cold they are; give up after one lap.
      for (let tried = 0; tried < length; tried += 1) {
        const fraction = this.warmFraction(tier.loads[index] as WorkerLoad, now);
        if (fraction >= 1 || this.random() < fraction) break;
        index = index + 1 === length ? 0 : index + 1;
        if (tried + 1 === length) index = start;
      }
    }

    this.#cursors[tierIndex] = index + 1 === length ? 0 : index + 1;
    return tier.workers[index] as Worker;
  }

  protected rankFrom(tier: Tier, key: string | undefined, count: number, out: Worker[]): void {
    const length = tier.workers.length;

    // The first tier's turn moves on by one, as a pick would; later tiers are only looked at.
    let index: number;
    if (tier === this.tiers[0]) {
      const first = this.pickFrom(tier, key);
      out.push(first);
      index = tier.workers.indexOf(first) + 1;
      count -= 1;
    } else {
      index = this.#cursors[this.tiers.indexOf(tier)] as number;
    }

    for (let added = 0; added < count && added < length; added += 1) {
      const worker = tier.workers[(index + added) % length] as Worker;
      if (out.includes(worker)) break;
      out.push(worker);
    }
  }
}
