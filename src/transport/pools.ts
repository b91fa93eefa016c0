import { Pool } from 'undici';
import { workerOrigin, type Worker } from '../discovery/worker.js';
import type { WorkerChange } from '../discovery/diff.js';

interface PoolEntry {
  readonly origin: string;
  readonly pool: Pool;
  /** The worker object last seen for this pool, to skip rebuilding its origin. */
  readonly worker: Worker;
}

/**
 * One undici {@link Pool} per worker id, reused across requests. A pool whose worker left the
 * set, or moved to another address, is retired: it takes no new request, its in-flight
 * requests finish, then it closes.
 *
 * @example
 * ```ts
 * const pools = new WorkerPools({ connections: 64, keepAliveTimeout: 4_000 });
 * const pool = pools.get(worker);
 * cache.subscribe((change) => pools.sync(change));
 * await pools.close();
 * ```
 */
export class WorkerPools {
  readonly #options: Pool.Options;
  readonly #protocol: 'http:' | 'https:';
  readonly #pools = new Map<string, PoolEntry>();
  readonly #retiring = new Set<Promise<void>>();
  readonly #retiringPools = new Set<Pool>();

  /**
   * @param options - For every pool; TLS settings go in `connect`.
   * @param protocol - `https:` to reach workers over TLS. Default `http:`.
   */
  constructor(options: Pool.Options, protocol: 'http:' | 'https:' = 'http:') {
    this.#options = options;
    this.#protocol = protocol;
  }

  /** Pools open now (not counting retiring ones). */
  get size(): number {
    return this.#pools.size;
  }

  /** Pools retired but still finishing their requests. */
  get retiring(): number {
    return this.#retiring.size;
  }

  /** The worker's pool for its current address, created on first use. */
  get(worker: Worker): Pool {
    const entry = this.#pools.get(worker.id);
    // Worker objects are immutable snapshots: the same object means the same address.
    if (entry?.worker === worker) return entry.pool;

    const origin = workerOrigin(worker, this.#protocol);
    if (entry?.origin === origin) {
      this.#pools.set(worker.id, { ...entry, worker });
      return entry.pool;
    }

    // Same id, new address: the old pool must never see another request.
    if (entry) this.retire(worker.id);
    const pool = new Pool(origin, this.#options);
    this.#pools.set(worker.id, { origin, pool, worker });
    return pool;
  }

  /** Retires the pool of a worker: no new requests; closed once in-flight ones finish. */
  retire(id: string): void {
    const entry = this.#pools.get(id);
    if (!entry) return;

    this.#pools.delete(id);
    this.#retiringPools.add(entry.pool);
    const closing = entry.pool
      .close()
      .catch(() => undefined)
      .finally(() => {
        this.#retiring.delete(closing);
        this.#retiringPools.delete(entry.pool);
      });
    this.#retiring.add(closing);
  }

  /** Applies a change to the worker set: retires removed and moved workers' pools. */
  sync(change: WorkerChange): void {
    for (const worker of change.removed) this.retire(worker.id);
    for (const { previous, current } of change.updated) {
      const moved = workerOrigin(previous, this.#protocol) !==
        workerOrigin(current, this.#protocol);
      if (moved) this.retire(previous.id);
    }
  }

  /** Closes every pool once its requests have finished. */
  async close(): Promise<void> {
    for (const id of [...this.#pools.keys()]) this.retire(id);
    await Promise.all([...this.#retiring]);
  }

  /** Destroys every pool now, failing requests still running. */
  async destroy(): Promise<void> {
    const pools = [...this.#pools.values()].map((entry) => entry.pool);
    this.#pools.clear();
    await Promise.all([...pools, ...this.#retiringPools].map((pool) => pool.destroy()));
  }
}
