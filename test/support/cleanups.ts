import { afterEach } from 'vitest';
import { FakeWorker, type FakeWorkerOptions } from '../../src/testing/fake-worker.js';

/** Undo steps for the current test. */
export type Cleanups = Array<() => Promise<unknown>>;

/** Registers a hook that runs, after each test, the steps pushed during it, last first. */
export function useCleanups(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}

/** Starts `count` fake workers named w0, w1, ...; they stop at the test's cleanup. */
export function fakeWorkers(cleanups: Cleanups) {
  return async (count: number, options: FakeWorkerOptions = {}): Promise<FakeWorker[]> => {
    const workers = await Promise.all(
      Array.from({ length: count }, (_, i) => FakeWorker.start({ name: `w${i}`, ...options })),
    );
    cleanups.push(() => Promise.all(workers.map((worker) => worker.stop())));
    return workers;
  };
}
