import type { Picker } from '../../src/balancer/picker.js';
import { WorkerCache } from '../../src/discovery/cache.js';
import type { Worker, WorkerDiscovery } from '../../src/discovery/worker.js';

/**
 * A plain picker for transport tests until the balancer's pickers are merged: keys map to a
 * starting worker by a small string hash, keyless picks go round the set, and the fallback
 * order walks the set from there.
 */
export function rotatingPicker(workers: readonly Worker[]): Picker {
  let turn = 0;
  const start = (key: string | undefined): number => {
    if (workers.length === 0) return 0;
    if (key === undefined) return turn++ % workers.length;
    let hash = 0;
    for (const char of key) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    return hash % workers.length;
  };
  const pickN = (key: string | undefined, n: number): Worker[] => {
    const first = start(key);
    const order: Worker[] = [];
    for (let i = 0; i < Math.min(n, workers.length); i += 1) {
      order.push(workers[(first + i) % workers.length] as Worker);
    }
    return order;
  };
  return {
    policy: 'test-rotating',
    workers,
    pick: (key) => pickN(key, 1)[0],
    pickN,
    assign: (keys) => {
      const placement = new Map<string, string[]>();
      for (const key of keys) {
        const id = pickN(key, 1)[0]?.id ?? '';
        placement.set(id, [...(placement.get(id) ?? []), key]);
      }
      return placement;
    },
  };
}

/** A discovery source whose list the test sets, counting refresh requests through the cache. */
export class ListDiscovery implements WorkerDiscovery {
  readonly kind = 'test-list';
  workers: Worker[];

  constructor(workers: Worker[]) {
    this.workers = workers;
  }

  async getWorkers(): Promise<Worker[]> {
    return [...this.workers];
  }
}

/** A started cache over a list the test controls; `set` swaps the list and refreshes. */
export async function listCache(workers: Worker[]): Promise<{
  cache: WorkerCache;
  discovery: ListDiscovery;
  refreshRequests: string[];
  set: (next: Worker[]) => Promise<void>;
}> {
  const discovery = new ListDiscovery(workers);
  const cache = new WorkerCache(discovery, { minRefreshGapMs: 50, refreshIntervalMs: 60_000 });
  const refreshRequests: string[] = [];
  const original = cache.requestRefresh.bind(cache);
  cache.requestRefresh = (reason?: string) => {
    refreshRequests.push(reason ?? '');
    original(reason);
  };
  await cache.ready();
  return {
    cache,
    discovery,
    refreshRequests,
    set: async (next) => {
      discovery.workers = next;
      await cache.refresh();
    },
  };
}

/** Checks the fan-out invariants: one outcome per fragment, in order, no duplicates. */
export function accountFor<T extends { index: number }>(outcomes: readonly T[], count: number) {
  const indices = outcomes.map((outcome) => outcome.index);
  return {
    count: outcomes.length,
    unique: new Set(indices).size,
    inOrder: indices.every((index, position) => index === position),
    expected: count,
  };
}

/** A key that the rotating picker sends first to worker `id` among `workers`. */
export function keyFor(workers: readonly Worker[], id: string, prefix = 'key'): string {
  const picker = rotatingPicker(workers);
  for (let i = 0; i < 10_000; i += 1) {
    const key = `${prefix}-${i}`;
    if (picker.pick(key)?.id === id) return key;
  }
  throw new Error(`no key maps to ${id}`);
}
