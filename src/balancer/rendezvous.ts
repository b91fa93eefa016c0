import type { Worker } from '../discovery/worker.js';
import { BasePicker, type Tier } from './base-picker.js';
import type { PickerOptions } from './options.js';

/**
 * Rendezvous (highest random weight) hashing, placed exactly as lakerunner's Go coordinators
 * place keys (issue 9): each worker scores XXH64, seed 0, of the key's UTF-8 bytes followed
 * directly by the worker identity's UTF-8 bytes, compared as unsigned 64-bit; the highest
 * score wins. Equal scores go to the worker first by IP compared as text, then port.
 *
 * The ranking by descending score is the failover order, so removing a worker moves only
 * the keys it owned, each to its next-ranked worker. A pick costs one hash per worker.
 *
 * With slow start, a ramping worker keeps a key only when a per-key number in [0, 1) falls
 * below its share; as the share grows it gains keys and never gives any back. When no worker
 * admits a key (a whole new set ramping together), the plain best takes it. Parity with the
 * Go coordinators therefore holds only when slow start and zone preference are off.
 *
 * A pick without a key goes to a random worker.
 *
 * @example
 * ```ts
 * const picker = new RendezvousPicker(workers, { identity: 'pod-name' });
 * picker.pick('1'); // the same worker in every coordinator, Go or TypeScript
 * ```
 */
export class RendezvousPicker extends BasePicker {
  static readonly policy = 'rendezvous';
  readonly policy = RendezvousPicker.policy;

  constructor(workers: readonly Worker[], options: PickerOptions = {}) {
    super(workers, options);
  }

  protected pickFrom(tier: Tier, key: string | undefined): Worker {
    if (key === undefined) return tier.workers[this.randomIndex(tier.workers.length)] as Worker;

    const { hasher } = this;
    const { out } = hasher;
    hasher.setKey(key);
    const now = this.warmingNow();
    if (now !== undefined) return tier.workers[this.#warmPick(tier, now)] as Worker;

    // Scores are unsigned words, so -1 loses to any of them; strict comparisons keep the
    // first worker in address order on a tie.
    let best = 0;
    let bestHi = -1;
    let bestLo = -1;
    for (let i = 0; i < tier.workers.length; i += 1) {
      hasher.hashWith(tier.identityBytes[i]!);
      const hi = out[0]!;
      const lo = out[1]!;
      if (hi > bestHi || (hi === bestHi && lo > bestLo)) {
        best = i;
        bestHi = hi;
        bestLo = lo;
      }
    }

    return tier.workers[best] as Worker;
  }

  /**
   * The pick while some worker ramps up: the best-scoring worker that slow start lets take
   * this key, or the plain best when none does (say, a whole new set ramping together).
   */
  #warmPick(tier: Tier, now: number): number {
    const { hasher } = this;
    const keyFraction = hasher.keyFraction();
    let best = 0;
    let bestHi = -1;
    let bestLo = -1;
    let allowed = -1;
    let allowedHi = -1;
    let allowedLo = -1;

    for (let i = 0; i < tier.workers.length; i += 1) {
      hasher.hashWith(tier.identityBytes[i]!);
      const hi = hasher.out[0]!;
      const lo = hasher.out[1]!;
      if (hi > bestHi || (hi === bestHi && lo > bestLo)) {
        best = i;
        bestHi = hi;
        bestLo = lo;
      }

      const admits = keyFraction < this.warmFraction(tier.loads[i]!, now);
      if (admits && (hi > allowedHi || (hi === allowedHi && lo > allowedLo))) {
        allowed = i;
        allowedHi = hi;
        allowedLo = lo;
      }
    }

    return allowed === -1 ? best : allowed;
  }

  protected rankFrom(tier: Tier, key: string | undefined, count: number, out: Worker[]): void {
    const length = tier.workers.length;

    if (key === undefined) {
      const start = this.randomIndex(length);
      for (let i = 0; i < Math.min(count, length); i += 1) {
        out.push(tier.workers[(start + i) % length] as Worker);
      }
      return;
    }

    // Slow start can make the pick differ from the top score: the pick still comes first.
    // Otherwise the pick is the top score, and one pass of hashing serves both.
    const warming = tier === this.tiers[0] && this.warmingNow() !== undefined;
    const first = warming ? this.pickFrom(tier, key) : undefined;
    const order = this.scoreOrder(tier, key);
    let added = 0;
    if (first !== undefined) {
      out.push(first);
      added += 1;
    }

    for (let i = 0; i < length && added < count; i += 1) {
      const worker = tier.workers[order[i]!] as Worker;
      if (worker === first) continue;
      out.push(worker);
      added += 1;
    }
  }

  /** Indexes into `tier.workers`, by descending score, ties in address order. */
  protected scoreOrder(tier: Tier, key: string): number[] {
    const length = tier.workers.length;
    const hi = new Float64Array(length);
    const lo = new Float64Array(length);
    this.hasher.setKey(key);

    for (let i = 0; i < length; i += 1) {
      this.hasher.hashWith(tier.identityBytes[i]!);
      hi[i] = this.hasher.out[0]!;
      lo[i] = this.hasher.out[1]!;
    }

    const order = Array.from({ length }, (_, i) => i);
    return order.sort((a, b) => hi[b]! - hi[a]! || lo[b]! - lo[a]! || a - b);
  }
}
