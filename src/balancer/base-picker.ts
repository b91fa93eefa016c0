import { ConfigError } from '../errors.js';
import { compareWorkers, type Worker } from '../discovery/worker.js';
import type { Picker } from './picker.js';
import { KeyHasher } from './key-hasher.js';
import { LoadTracker, type WorkerLoad } from './load-tracker.js';
import {
  checkIdentity,
  checkInteger,
  checkRange,
  workerIdentity,
  type PickerOptions,
} from './options.js';

/**
 * Workers of equal standing, in {@link compareWorkers} order, with what pickers need for
 * each one at hand: the live load counters and the identity to hash, as text and bytes.
 */
export interface Tier {
  readonly workers: readonly Worker[];
  readonly loads: readonly WorkerLoad[];
  readonly identities: readonly string[];
  readonly identityBytes: readonly Uint8Array[];
}

interface SlowStart {
  readonly windowMs: number;
  readonly minFraction: number;
}

/**
 * What all policies share: the sorted snapshot, its split into tiers (local ready, other
 * ready, draining), slow start, and `pickN`/`assign` built on the policy's own choice.
 *
 * A policy implements {@link BasePicker.pickFrom} and {@link BasePicker.rankFrom} for one
 * tier; the base asks the first tier, and later tiers only for fallbacks.
 *
 * @example
 * ```ts
 * class FirstPicker extends BasePicker {
 *   readonly policy = 'first';
 *   protected pickFrom(tier: Tier): Worker { return tier.workers[0]!; }
 *   protected rankFrom(tier: Tier, _key: string | undefined, count: number, out: Worker[]) {
 *     out.push(...tier.workers.slice(0, count));
 *   }
 * }
 * ```
 */
export abstract class BasePicker implements Picker {
  abstract readonly policy: string;
  readonly workers: readonly Worker[];
  /** Non-empty tiers, best first. Empty only when there are no workers at all. */
  protected readonly tiers: readonly Tier[];
  protected readonly tracker: LoadTracker;
  protected readonly random: () => number;
  protected readonly hasher = new KeyHasher();
  readonly #slowStart: SlowStart | undefined;
  /** After this clock reading no worker of this picker is still ramping up. */
  readonly #warmUntil: number;

  constructor(workers: readonly Worker[], options: PickerOptions) {
    const identity = checkIdentity(options.identity);
    this.tracker = options.tracker ?? new LoadTracker();
    this.random = options.random ?? Math.random;
    this.#slowStart = slowStartOf(options);
    this.workers = Object.freeze([...workers].sort(compareWorkers));

    const loads = this.tracker.observe(this.workers.map((worker) => worker.id));
    const loadOf = new Map(this.workers.map((worker, i) => [worker, loads[i] as WorkerLoad]));
    const tierOf = (members: Worker[]): Tier => {
      const identities = members.map((worker) => workerIdentity(worker, identity));
      return {
        workers: members,
        loads: members.map((worker) => loadOf.get(worker) as WorkerLoad),
        identities,
        identityBytes: identities.map((text) => KeyHasher.bytes(text)),
      };
    };
    this.tiers = splitTiers(this.workers, options).map(tierOf);

    // The newest worker ramps longest; past its ramp, picks skip slow start entirely.
    const newest = loads.reduce((latest, load) => Math.max(latest, load.firstSeenAt), -Infinity);
    this.#warmUntil = newest + (this.#slowStart?.windowMs ?? 0);
  }

  pick(key?: string): Worker | undefined {
    const tier = this.tiers[0];
    if (tier === undefined) return undefined;
    return this.pickFrom(tier, key);
  }

  pickN(key: string | undefined, n: number): Worker[] {
    checkInteger('n', n, 0, Number.MAX_SAFE_INTEGER);
    const count = Math.min(n, this.workers.length);
    const ranked: Worker[] = [];

    for (const tier of this.tiers) {
      if (ranked.length >= count) break;
      this.rankFrom(tier, key, count - ranked.length, ranked);
    }

    return ranked;
  }

  assign(keys: Iterable<string>): Map<string, string[]> {
    const plan = new Map<string, string[]>();

    for (const key of keys) {
      const worker = this.pick(key);
      if (worker === undefined) break;
      appendTo(plan, worker.id, key);
    }

    return plan;
  }

  /** The policy's choice within one non-empty tier. */
  protected abstract pickFrom(tier: Tier, key: string | undefined): Worker;

  /**
   * Appends up to `count` distinct workers of `tier` to `out`, best first. For the first
   * tier the first one appended must be what {@link pickFrom} would choose.
   */
  protected abstract rankFrom(
    tier: Tier,
    key: string | undefined,
    count: number,
    out: Worker[],
  ): void;

  /**
   * The clock reading when some worker may still be ramping up, else `undefined` — so
   * pickers without slow start, or past every ramp, never read the clock.
   */
  protected warmingNow(): number | undefined {
    if (this.#slowStart === undefined) return undefined;
    const now = this.tracker.now();
    return now < this.#warmUntil ? now : undefined;
  }

  /** The share of its traffic `load`'s worker may take at `now`, in (0, 1]. */
  protected warmFraction(load: WorkerLoad, now: number): number {
    const slowStart = this.#slowStart;
    if (slowStart === undefined) return 1;

    const elapsed = now - load.firstSeenAt;
    if (elapsed >= slowStart.windowMs) return 1;

    const linear = Math.max(0, elapsed) / slowStart.windowMs;
    return slowStart.minFraction + (1 - slowStart.minFraction) * linear;
  }

  /** A uniformly random index below `length`. */
  protected randomIndex(length: number): number {
    const index = Math.floor(this.random() * length);

    // Guards against a random source that returns exactly 1.
    return index < length ? index : length - 1;
  }
}

/**
 * Adds `key` to `workerId`'s list in an assignment plan.
 *
 * @example
 * ```ts
 * const plan = new Map<string, string[]>();
 * appendTo(plan, 'pod-uid-a', '42');
 * ```
 */
export function appendTo(plan: Map<string, string[]>, workerId: string, key: string): void {
  const keys = plan.get(workerId);
  if (keys === undefined) plan.set(workerId, [key]);
  else keys.push(key);
}

function slowStartOf(options: PickerOptions): SlowStart | undefined {
  const slowStart = options.slowStart;
  if (slowStart === undefined) return undefined;

  const windowMs = checkRange('slowStart.windowMs', slowStart.windowMs, 0, Infinity);
  if (windowMs === 0) return undefined;

  const minFraction = checkRange('slowStart.minFraction', slowStart.minFraction ?? 0.1, 0.01, 1);
  return { windowMs, minFraction };
}

/**
 * Ready workers first, draining ones last. With zone preference on and enough local workers
 * ready, local ready workers come first, then the other ready ones.
 */
function splitTiers(workers: readonly Worker[], options: PickerOptions): Worker[][] {
  const ready = workers.filter((worker) => worker.state === 'ready');
  const draining = workers.filter((worker) => worker.state !== 'ready');
  const preference = options.zonePreference;

  if (preference === undefined) return [ready, draining].filter(nonEmpty);

  if (typeof preference.zone !== 'string' || preference.zone === '') {
    throw new ConfigError(
      'zonePreference.zone',
      `zonePreference.zone must be a zone name, got ${JSON.stringify(preference.zone)}`,
    );
  }
  const minFraction = checkRange(
    'zonePreference.minReadyFraction',
    preference.minReadyFraction ?? 0.5,
    0,
    1,
  );
  const minWorkers = checkInteger(
    'zonePreference.minReadyWorkers',
    preference.minReadyWorkers ?? 2,
    1,
    Number.MAX_SAFE_INTEGER,
  );

  const localReady = ready.filter((worker) => worker.zone === preference.zone);
  const localTotal = workers.filter((worker) => worker.zone === preference.zone).length;
  const enough = localReady.length >= minWorkers && localReady.length >= minFraction * localTotal;
  if (!enough) return [ready, draining].filter(nonEmpty);

  const remoteReady = ready.filter((worker) => worker.zone !== preference.zone);
  return [localReady, remoteReady, draining].filter(nonEmpty);
}

function nonEmpty(workers: Worker[]): boolean {
  return workers.length > 0;
}
