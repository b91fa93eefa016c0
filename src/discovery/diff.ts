import type { Worker } from './worker.js';

/**
 * A worker that kept its `id` but changed address, port, state or placement.
 *
 * @example
 * ```ts
 * const { updated } = diffWorkers(before, after);
 * for (const update of updated) {
 *   const { previous, current }: WorkerUpdate = update;
 *   if (previous.state !== current.state) console.log(`${current.id} is now ${current.state}`);
 * }
 * ```
 */
export interface WorkerUpdate {
  readonly previous: Worker;
  readonly current: Worker;
}

/**
 * What changed between two worker sets, keyed by worker `id`, plus the full new set.
 *
 * @example
 * ```ts
 * cache.subscribe(({ added, removed, updated, workers }) => {
 *   console.log(`+${added.length} -${removed.length} ~${updated.length} = ${workers.length}`);
 * });
 * ```
 */
export interface WorkerChange {
  readonly added: readonly Worker[];
  readonly removed: readonly Worker[];
  readonly updated: readonly WorkerUpdate[];
  /** The whole worker set after the change, in a stable order. */
  readonly workers: readonly Worker[];
}

/** True when two workers with the same id differ in anything a caller acts on. */
export function workerChanged(a: Worker, b: Worker): boolean {
  return (
    a.ip !== b.ip ||
    a.port !== b.port ||
    a.state !== b.state ||
    a.podName !== b.podName ||
    a.nodeName !== b.nodeName ||
    a.zone !== b.zone
  );
}

/**
 * Compares two worker sets by `id`. Pure: no I/O, no clocks.
 *
 * @example
 * ```ts
 * const next = await discovery.getWorkers();
 * const change = diffWorkers(previous, next);
 * console.log(`${change.added.length} added, ${change.removed.length} removed`);
 * ```
 */
export function diffWorkers(previous: readonly Worker[], next: readonly Worker[]): WorkerChange {
  const before = new Map(previous.map((worker) => [worker.id, worker]));
  const after = new Map(next.map((worker) => [worker.id, worker]));

  const added: Worker[] = [];
  const updated: WorkerUpdate[] = [];
  for (const current of next) {
    const old = before.get(current.id);
    if (old === undefined) added.push(current);
    else if (workerChanged(old, current)) updated.push({ previous: old, current });
  }

  const removed = previous.filter((worker) => !after.has(worker.id));
  return { added, removed, updated, workers: next };
}

/** True when a change changes nothing. */
export function isEmptyChange(change: WorkerChange): boolean {
  return change.added.length === 0 && change.removed.length === 0 && change.updated.length === 0;
}
