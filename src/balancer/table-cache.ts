import { LRUCache } from 'lru-cache';
import { workerAddress, type Worker } from '../discovery/worker.js';

/**
 * Options for {@link TableCache}.
 *
 * @example
 * ```ts
 * const tableCache = new TableCache({ max: 4 });
 * const picker = createPicker('maglev', workers, { tableCache });
 * ```
 */
export interface TableCacheOptions {
  /**
   * How many built tables to keep. Default 16: enough for a set that flaps between a few
   * states (a worker restarting, a rollout in progress) without holding many 256 KiB tables.
   */
  readonly max?: number | undefined;
}

/**
 * Keeps recently built lookup tables (Maglev, ring) keyed by a fingerprint of the worker set
 * and the options that shape the table, so a worker set flapping between two states reuses
 * its tables instead of rebuilding them on every change.
 *
 * @example
 * ```ts
 * const tableCache = new TableCache({ max: 4 });
 * const picker = createPicker('maglev', workers, { tableCache });
 * ```
 */
export class TableCache {
  readonly #entries: LRUCache<string, object>;
  #builds = 0;

  constructor(options: TableCacheOptions = {}) {
    this.#entries = new LRUCache<string, object>({ max: options.max ?? 16 });
  }

  /** Tables built so far (cache misses), for tests and metrics. */
  get builds(): number {
    return this.#builds;
  }

  /**
   * The table stored under `fingerprint`, built by `build` on a miss.
   *
   * @example
   * ```ts
   * const table = cache.getOrBuild(tableFingerprint('maglev', workers, ['65537']), build);
   * ```
   */
  getOrBuild<T extends object>(fingerprint: string, build: () => T): T {
    const cached = this.#entries.get(fingerprint);
    if (cached !== undefined) return cached as T;

    const table = build();
    this.#builds += 1;
    this.#entries.set(fingerprint, table);
    return table;
  }

  /** Forgets every table. */
  clear(): void {
    this.#entries.clear();
  }
}

/** The process-wide cache used when no `tableCache` option is given. */
export const defaultTableCache = new TableCache();

/**
 * A string that differs whenever the table would: the policy, the options that shape the
 * table, and each worker's id, address, state and hashed identity, in the given order.
 *
 * @example
 * ```ts
 * tableFingerprint('ring', tierWorkers, identities, ['vnodes=160']);
 * ```
 */
export function tableFingerprint(
  policy: string,
  workers: readonly Worker[],
  identities: readonly string[],
  shape: readonly string[],
): string {
  const parts = [policy, ...shape];

  // JSON quoting keeps ids containing separators from colliding with other sets.
  workers.forEach((worker, i) => {
    parts.push(JSON.stringify([worker.id, workerAddress(worker), worker.state, identities[i]]));
  });

  return parts.join('\n');
}
