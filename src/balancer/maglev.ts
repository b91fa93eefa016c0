import { ConfigError } from '../errors.js';
import type { Worker } from '../discovery/worker.js';
import { BasePicker, type Tier } from './base-picker.js';
import { KeyHasher } from './key-hasher.js';
import { checkInteger, type PickerOptions } from './options.js';
import { defaultTableCache, tableFingerprint, type TableCache } from './table-cache.js';

/**
 * Envoy's default: a prime comfortably above 100 × a few hundred workers.
 *
 * @example
 * ```ts
 * const picker = new MaglevPicker(workers);
 * picker.tableSize === DEFAULT_MAGLEV_TABLE_SIZE; // true unless `tableSize` is given
 * ```
 */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

/** Maglev's balance needs at least this many table slots per worker. */
const SLOTS_PER_WORKER = 100;

interface MaglevTable {
  /** Slot → index into the tier's workers. */
  readonly slots: Int32Array;
}

/**
 * Maglev hashing: a lookup table of prime size where each worker fills slots along its own
 * permutation, taking turns, so every worker owns almost exactly size / workers slots. A
 * pick is one key hash and one array read, whatever the number of workers.
 *
 * Balance is near perfect; a change of set moves a little more than the minimum (about
 * 1/n of keys for one worker removed, plus a small extra), unlike rendezvous.
 *
 * Table size: `tableSize` must be a prime (default 65537). It is a minimum: when it is not
 * larger than 100 × workers it grows to the next prime above that, so a growing worker set
 * keeps its balance instead of failing at run time. Tables are kept in a {@link TableCache}.
 *
 * Fallbacks (`pickN`) follow the table forward from the key's slot, taking each new worker
 * met; removing the first choice rebuilds the table, so the second is likely but not certain
 * to become the first. Slow start walks the same way past ramping workers.
 *
 * @example
 * ```ts
 * const picker = new MaglevPicker(workers, { tableSize: 65537 });
 * picker.pick('1:00000000-0000-0000-0000-000000000001');
 * ```
 */
export class MaglevPicker extends BasePicker {
  static readonly policy = 'maglev';
  readonly policy = MaglevPicker.policy;
  /** The table size used, after growing past 100 × workers. */
  readonly tableSize: number;
  readonly #cache: TableCache;
  readonly #tables: (MaglevTable | undefined)[];

  constructor(workers: readonly Worker[], options: PickerOptions = {}) {
    super(workers, options);
    const requested = checkInteger(
      'tableSize',
      options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE,
      2,
      16_777_213,
    );
    if (!isPrime(requested)) {
      throw new ConfigError(
        'tableSize',
        `tableSize ${requested} is not prime; try 65537, 131071 or 262139`,
      );
    }

    this.tableSize = sizeFor(requested, this.workers.length);
    this.#cache = options.tableCache ?? defaultTableCache;

    // Later tiers serve only fallbacks: their tables are built on first need.
    this.#tables = this.tiers.map(() => undefined);
    const first = this.tiers[0];
    if (first !== undefined) this.#tables[0] = this.#tableFor(first);
  }

  protected pickFrom(tier: Tier, key: string | undefined): Worker {
    if (key === undefined) return tier.workers[this.randomIndex(tier.workers.length)] as Worker;

    const slots = this.#slotsOf(tier);
    this.hasher.setKey(key);
    this.hasher.hashKey();
    const slot = this.hasher.modulo(this.tableSize);
    const chosen = slots[slot] as number;

    const now = this.warmingNow();
    if (now === undefined) return tier.workers[chosen] as Worker;
    return tier.workers[this.#warmWalk(tier, slots, slot, now)] as Worker;
  }

  protected rankFrom(tier: Tier, key: string | undefined, count: number, out: Worker[]): void {
    const length = tier.workers.length;
    const seen = new Uint8Array(length);
    const slots = this.#slotsOf(tier);
    let slot: number;
    let added = 0;

    if (key !== undefined) {
      this.hasher.setKey(key);
      this.hasher.hashKey();
      slot = this.hasher.modulo(this.tableSize);
    } else {
      slot = this.randomIndex(this.tableSize);
    }

    if (tier === this.tiers[0]) {
      const first = this.pickFrom(tier, key);
      out.push(first);
      seen[tier.workers.indexOf(first)] = 1;
      added += 1;
    }

    // Walk forward from the key's slot; each worker owns ~size/n slots spread evenly, so
    // every worker is met within a few laps of n slots.
    for (let step = 0; step < this.tableSize && added < count; step += 1) {
      const index = slots[(slot + step) % this.tableSize] as number;
      if (seen[index] === 1) continue;
      seen[index] = 1;
      out.push(tier.workers[index] as Worker);
      added += 1;
    }
  }

  #slotsOf(tier: Tier): Int32Array {
    const position = this.tiers.indexOf(tier);
    let table = this.#tables[position];
    if (table === undefined) {
      table = this.#tableFor(tier);
      this.#tables[position] = table;
    }
    return table.slots;
  }

  #tableFor(tier: Tier): MaglevTable {
    const fingerprint = tableFingerprint(
      this.policy,
      tier.workers,
      tier.identities,
      [`size=${this.tableSize}`],
    );
    return this.#cache.getOrBuild(fingerprint, () => ({
      slots: buildMaglevTable(tier.identityBytes, this.tableSize),
    }));
  }

  /** The first worker from `slot` on that slow start lets take this key. */
  #warmWalk(tier: Tier, slots: Int32Array, slot: number, now: number): number {
    const keyFraction = this.hasher.keyFraction();
    const first = slots[slot] as number;

    for (let step = 0; step < this.tableSize; step += 1) {
      const index = slots[(slot + step) % this.tableSize] as number;
      if (keyFraction < this.warmFraction(tier.loads[index]!, now)) return index;

      // Past a full lap of distinct workers nobody accepted: keep the plain choice.
      if (step > tier.workers.length * 64) break;
    }

    return first;
  }
}

/**
 * Fills a Maglev lookup table of `size` slots (a prime) for workers with the given identity
 * bytes; each slot holds a worker index. Worker i's permutation starts at
 * XXH64(identity, seed 0) mod size and steps by XXH64(identity, seed 1) mod (size − 1) + 1.
 *
 * @example
 * ```ts
 * const slots = buildMaglevTable([KeyHasher.bytes('a'), KeyHasher.bytes('b')], 65537);
 * ```
 */
export function buildMaglevTable(identities: readonly Uint8Array[], size: number): Int32Array {
  const count = identities.length;
  const slots = new Int32Array(size).fill(-1);
  if (count === 0) return slots;

  const position = new Float64Array(count);
  const skip = new Float64Array(count);
  const hasher = new KeyHasher();
  identities.forEach((identity, i) => {
    hasher.hashBytes(identity, 0, 0);
    position[i] = hasher.modulo(size);
    hasher.hashBytes(identity, 0, 1);
    skip[i] = hasher.modulo(size - 1) + 1;
  });

  // Workers take turns claiming the next free slot on their permutation until all are full.
  let filled = 0;
  while (filled < size) {
    for (let i = 0; i < count && filled < size; i += 1) {
      let slot = position[i] as number;
      while (slots[slot] !== -1) slot = (slot + (skip[i] as number)) % size;
      slots[slot] = i;
      position[i] = (slot + (skip[i] as number)) % size;
      filled += 1;
    }
  }

  return slots;
}

/** The table size to use: `requested`, or the next prime above 100 × workers if larger. */
function sizeFor(requested: number, workers: number): number {
  let size = requested;
  if (size > SLOTS_PER_WORKER * workers) return size;

  size = SLOTS_PER_WORKER * workers + 1;
  while (!isPrime(size)) size += 1;
  return size;
}

/** Whether `value` is prime. Trial division: sizes are below 2^24, so ~2,000 divisions. */
function isPrime(value: number): boolean {
  if (value < 2 || !Number.isInteger(value)) return false;
  if (value % 2 === 0) return value === 2;
  for (let divisor = 3; divisor * divisor <= value; divisor += 2) {
    if (value % divisor === 0) return false;
  }
  return true;
}
