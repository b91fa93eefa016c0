import type { Worker } from '../discovery/worker.js';
import { appendTo, BasePicker, type Tier } from './base-picker.js';
import { KeyHasher } from './key-hasher.js';
import { checkInteger, checkRange, type PickerOptions } from './options.js';
import { defaultTableCache, tableFingerprint, type TableCache } from './table-cache.js';

/**
 * Ketama's classic count; with 100 workers the busiest gets about 1.3× the mean.
 *
 * @example
 * ```ts
 * // More points per worker evens out a small fleet, at the cost of a bigger ring.
 * const picker = new RingPicker(workers, { virtualNodes: 2 * DEFAULT_VIRTUAL_NODES });
 * ```
 */
export const DEFAULT_VIRTUAL_NODES = 160;

/** A capacity no in-flight count reaches, as an int32 so it is never boxed. */
const UNBOUNDED = 0x7fffffff;

/** Ring points pack a 32-bit position and a worker index (below 2^20) into one double. */
const OWNER_BITS = 2 ** 20;

interface Ring {
  /** position × 2^20 + worker index, ascending: one native sort, exact in a double. */
  readonly points: Float64Array;
}

/**
 * Consistent hashing on a ring of virtual nodes: each worker places `virtualNodes` points at
 * XXH64(identity, seed = point number); a key belongs to the first point at or after its own
 * hash, going round. Removing a worker moves only its keys, each to the next worker on the
 * ring, which is also the second entry of `pickN`.
 *
 * With `loadFactor` c (consistent hashing with bounded loads), no worker takes more than
 * ceil(c × average in flight), counting the request being placed; a key whose worker is full
 * walks on round the ring to the next worker with room. The counts come from the shared
 * {@link LoadTracker}, summed over this tier when the first choice is busy. HAProxy suggests
 * c between 1.25 and 2; lower means tighter balance but more keys away from their home.
 *
 * @example
 * ```ts
 * const picker = new RingPicker(workers, { tracker, virtualNodes: 160, loadFactor: 1.25 });
 * const worker = picker.pick('42')!;
 * ```
 */
export class RingPicker extends BasePicker {
  static readonly policy = 'ring';
  readonly policy = RingPicker.policy;
  readonly virtualNodes: number;
  /** The bounded-load factor, or `undefined` when loads are not bounded. */
  readonly loadFactor: number | undefined;
  readonly #cache: TableCache;
  readonly #rings: (Ring | undefined)[];

  constructor(workers: readonly Worker[], options: PickerOptions = {}) {
    super(workers, options);
    this.virtualNodes = checkInteger(
      'virtualNodes',
      options.virtualNodes ?? DEFAULT_VIRTUAL_NODES,
      1,
      10_000,
    );
    this.loadFactor =
      options.loadFactor === undefined
        ? undefined
        : checkRange('loadFactor', options.loadFactor, 1, 100);
    this.#cache = options.tableCache ?? defaultTableCache;
    checkInteger('workers.length', this.workers.length, 0, OWNER_BITS - 1);

    this.#rings = this.tiers.map(() => undefined);
    const first = this.tiers[0];
    if (first !== undefined) this.#ringOf(first);
  }

  protected pickFrom(tier: Tier, key: string | undefined): Worker {
    const points = this.#ringOf(tier).points;
    const start = this.#startPoint(points, key);
    const home = ownerAt(points, start);
    const now = this.warmingNow();

    // The common case, kept apart from the walk so its compiled code stays simple: the key's
    // own worker, when loads are unbounded or it has room, and nothing is warming.
    const bounded = this.loadFactor !== undefined && tier.loads[home]!.inFlight > 0;
    if (!bounded && now === undefined) return tier.workers[home] as Worker;

    return tier.workers[this.#walk(tier, points, start, bounded, now)] as Worker;
  }

  /**
   * Walks round from the key's point to the first worker with room that slow start lets in;
   * if nobody qualifies after a lap, the key's own worker takes it.
   */
  #walk(
    tier: Tier,
    points: Float64Array,
    start: number,
    bounded: boolean,
    now: number | undefined,
  ): number {
    const capacity = bounded ? this.#capacity(tier) : UNBOUNDED;
    const keyFraction = now === undefined ? 0 : this.hasher.keyFraction();

    for (let step = 0; step < points.length; step += 1) {
      const index = ownerAt(points, (start + step) % points.length);
      const load = tier.loads[index]!;
      if (load.inFlight >= capacity) continue;
      if (now !== undefined && keyFraction >= this.warmFraction(load, now)) continue;
      return index;
    }

    return ownerAt(points, start);
  }

  protected rankFrom(tier: Tier, key: string | undefined, count: number, out: Worker[]): void {
    const points = this.#ringOf(tier).points;
    const start = this.#startPoint(points, key);
    const seen = new Uint8Array(tier.workers.length);
    let added = 0;

    if (tier === this.tiers[0]) {
      const first = this.pickFrom(tier, key);
      out.push(first);
      seen[tier.workers.indexOf(first)] = 1;
      added += 1;
    }

    for (let step = 0; step < points.length && added < count; step += 1) {
      const index = ownerAt(points, (start + step) % points.length);
      if (seen[index] === 1) continue;
      seen[index] = 1;
      out.push(tier.workers[index] as Worker);
      added += 1;
    }
  }

  /**
   * With bounded loads, plans the batch against the live counts plus the keys already
   * planned, so the batch itself respects the capacity; otherwise one pick per key.
   */
  override assign(keys: Iterable<string>): Map<string, string[]> {
    const tier = this.tiers[0];
    const factor = this.loadFactor;
    if (tier === undefined || factor === undefined) return super.assign(keys);

    const points = this.#ringOf(tier).points;
    const planned = Float64Array.from(tier.loads, (load) => load.inFlight);
    let total = planned.reduce((sum, count) => sum + count, 0);
    const plan = new Map<string, string[]>();

    for (const key of keys) {
      const capacity = Math.ceil((factor * (total + 1)) / tier.workers.length);
      const start = this.#startPoint(points, key);
      let index = ownerAt(points, start);
      for (let step = 0; step < points.length; step += 1) {
        index = ownerAt(points, (start + step) % points.length);
        if ((planned[index] as number) < capacity) break;
      }

      planned[index] = (planned[index] as number) + 1;
      total += 1;
      appendTo(plan, tier.workers[index]!.id, key);
    }

    return plan;
  }

  /** ceil(c × (in flight over the tier + 1) / workers), as an int32. */
  #capacity(tier: Tier): number {
    const factor = this.loadFactor as number;

    // An indexed loop: for…of would build an iterator the compiler does not always remove.
    let total = 0;
    for (let i = 0; i < tier.loads.length; i += 1) total += tier.loads[i]!.inFlight;

    // An int32 result: a fractional double returned here would be boxed on every pick.
    return Math.ceil((factor * (total + 1)) / tier.workers.length) | 0;
  }

  /** The index of the first point at or after the key's hash (a random one without a key). */
  #startPoint(points: Float64Array, key: string | undefined): number {
    if (key === undefined) return this.randomIndex(points.length);

    this.hasher.setKey(key);
    this.hasher.hashKey();
    const target = (this.hasher.out[0] as number) * OWNER_BITS;

    let low = 0;
    let high = points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((points[middle] as number) < target) low = middle + 1;
      else high = middle;
    }
    return low === points.length ? 0 : low;
  }

  #ringOf(tier: Tier): Ring {
    const position = this.tiers.indexOf(tier);
    const cached = this.#rings[position];
    if (cached !== undefined) return cached;

    const fingerprint = tableFingerprint(
      this.policy,
      tier.workers,
      tier.identities,
      [`vnodes=${this.virtualNodes}`],
    );
    const ring = this.#cache.getOrBuild(fingerprint, () => ({
      points: buildRing(tier.identityBytes, this.virtualNodes),
    }));
    this.#rings[position] = ring;
    return ring;
  }
}

/**
 * The sorted points of a ring: for worker i and virtual node v, the high 32 bits of
 * XXH64(identity, seed v), packed with i as `position × 2^20 + i`. Equal positions fall to
 * the worker first in address order.
 *
 * @example
 * ```ts
 * const points = buildRing([KeyHasher.bytes('a'), KeyHasher.bytes('b')], 160);
 * ```
 */
export function buildRing(identities: readonly Uint8Array[], virtualNodes: number): Float64Array {
  const points = new Float64Array(identities.length * virtualNodes);
  const hasher = new KeyHasher();

  identities.forEach((identity, i) => {
    for (let node = 0; node < virtualNodes; node += 1) {
      hasher.hashBytes(identity, 0, node);
      points[i * virtualNodes + node] = (hasher.out[0] as number) * OWNER_BITS + i;
    }
  });

  return points.sort();
}

/** The worker index packed into a point, as an int32 so that returning it never boxes. */
function ownerAt(points: Float64Array, point: number): number {
  return ((points[point] as number) % OWNER_BITS) | 0;
}
