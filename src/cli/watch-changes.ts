import { WorkerCache } from '../discovery/cache.js';
import { diffWorkers, isEmptyChange, type WorkerChange } from '../discovery/diff.js';
import { workerAddress, type Worker, type WorkerDiscovery } from '../discovery/worker.js';
import type { Logger } from '../logger.js';
import type { CliIo } from './io.js';

/** Help for `--watch`, shared by the debug commands. */
export const watchHelp =
  '  --watch                         keep running and print each change, with a timestamp,\n' +
  '                                  until interrupted (Ctrl-C)\n';

function describe(worker: Worker): string {
  const pod = worker.podName === undefined ? '' : ` (${worker.podName})`;
  return `${workerAddress(worker)}${pod}`;
}

/** One line per added, removed or updated worker, all with the same timestamp. */
export function changeLines(change: WorkerChange, at: Date): string[] {
  const stamp = at.toISOString();
  return [
    ...change.added.map((worker) => `${stamp}  + ${describe(worker)} ${worker.state}`),
    ...change.removed.map((worker) => `${stamp}  - ${describe(worker)}`),
    ...change.updated.map(({ previous, current }) => {
      const moves = [
        workerAddress(previous) === workerAddress(current)
          ? undefined
          : `${workerAddress(previous)} -> ${workerAddress(current)}`,
        previous.state === current.state ? undefined : `${previous.state} -> ${current.state}`,
      ].filter((part) => part !== undefined);
      return `${stamp}  ~ ${describe(current)} ${moves.join(', ') || 'details changed'}`;
    }),
    `${stamp}  = ${change.workers.length} workers`,
  ];
}

/**
 * Follows a discovery source through a {@link WorkerCache} (a watch where the source has one)
 * and prints every change until `io.signal` aborts. Text mode prints readable lines; JSON mode
 * prints one JSON object per change.
 */
export async function watchChanges(
  discovery: WorkerDiscovery,
  initial: readonly Worker[],
  io: CliIo,
  options: { json: boolean; logger: Logger; now?: () => Date },
): Promise<void> {
  const now = options.now ?? (() => new Date());
  const cache = new WorkerCache(discovery, { logger: options.logger, coalesceMs: 0 });
  const print = (change: WorkerChange): void => {
    if (isEmptyChange(change)) return;
    const at = now();
    if (options.json) {
      io.stdout(`${JSON.stringify({ at: at.toISOString(), ...change })}\n`);
    } else {
      io.stdout(`${changeLines(change, at).join('\n')}\n`);
    }
  };

  if (!options.json) io.stdout('\nWatching for changes (Ctrl-C to stop)...\n');
  try {
    // Anything that moved between the printed list and the cache's first set is a change too.
    await cache.ready({ signal: io.signal });
    print(diffWorkers(initial, cache.workers()));
    cache.subscribe(print);
    await aborted(io.signal);
  } catch (error) {
    if (!io.signal?.aborted) throw error;
  } finally {
    await cache.close();
  }
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), {
    once: true,
  }));
}
