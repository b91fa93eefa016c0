import { describe, expect, it } from 'vitest';
import { FragmentDispatcher } from '../src/transport/dispatcher.js';
import { LoadTracker } from '../src/balancer/load-tracker.js';
import { FragmentFailedError } from '../src/transport/errors.js';
import type { Fragment, Outcome } from '../src/transport/fragment.js';
import type { FakeEcho } from '../src/testing/fake-worker.js';
import { spawnFakeWorker, type FakeWorkerProcess } from '../src/testing/fake-worker-process.js';
import { accountFor, listCache, rotatingPicker } from './helpers/workers.js';
import { fakeWorkers, useCleanups } from './support/cleanups.js';

const cleanups = useCleanups();
const fakes = fakeWorkers(cleanups);

function fragments(count: number, prefix = 'q'): Fragment[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}-${i}`,
    path: '/fragment',
    body: JSON.stringify({ fragment: i }),
  }));
}

function echoOf(outcome: Outcome): FakeEcho {
  if (!outcome.ok) throw outcome.error;
  return JSON.parse(Buffer.from(outcome.body).toString('utf8')) as FakeEcho;
}

/** Every answered body parses and echoes its own fragment: nothing truncated or mixed up. */
function expectWholeAnswers(outcomes: readonly Outcome[]): void {
  for (const outcome of outcomes) {
    if (!outcome.ok) continue;
    expect(echoOf(outcome).body).toBe(JSON.stringify({ fragment: outcome.index }));
    expect(outcome.attempts.at(-1)?.worker.id).toBe(outcome.worker.id);
  }
}

async function dispatcherOver(
  workers: Parameters<typeof listCache>[0],
  options: Partial<ConstructorParameters<typeof FragmentDispatcher>[1]> = {},
) {
  const source = await listCache(workers);
  const dispatcher = new FragmentDispatcher(source.cache, { picker: rotatingPicker, ...options });
  cleanups.push(() => source.cache.close());
  cleanups.push(() => dispatcher.close());
  return { ...source, dispatcher };
}

describe('FragmentDispatcher basics', () => {
  it('answers every fragment, in input order, reusing one pool per worker', async () => {
    const workers = await fakes(3);
    const { dispatcher } = await dispatcherOver(workers.map((w) => w.worker()));

    const first = await dispatcher.fanOut(fragments(60), { concurrency: 6 });
    const acceptedAfterFirst = workers.reduce((sum, worker) => sum + worker.accepted, 0);
    const second = await dispatcher.fanOut(fragments(60), { concurrency: 6 });

    expect(accountFor(first, 60)).toEqual({ count: 60, unique: 60, inOrder: true, expected: 60 });
    expect(first.every((outcome) => outcome.ok && outcome.status === 200)).toBe(true);
    expectWholeAnswers([...first, ...second]);
    expect(dispatcher.pools).toEqual({ open: 3, retiring: 0 });
    // Keep-alive: the second fan-out (same keys) reused the first one's connections.
    const accepted = workers.reduce((sum, worker) => sum + worker.accepted, 0);
    expect(accepted).toBe(acceptedAfterFirst);
    expect(acceptedAfterFirst).toBeLessThanOrEqual(6 * 3);
  });

  it('sends a fragment to the worker its key picks', async () => {
    const workers = await fakes(4);
    const { dispatcher, cache } = await dispatcherOver(workers.map((w) => w.worker()));
    const owner = rotatingPicker(cache.workers()).pick('segment-7');

    const outcome = await dispatcher.dispatch({ key: 'segment-7', path: '/f', body: 'x' });

    expect(outcome.ok && outcome.worker.id).toBe(owner?.id);
    expect(outcome.attempts).toHaveLength(1);
  });
});

describe('FragmentDispatcher options', () => {
  it('takes a policy by name and names the option at fault otherwise', async () => {
    const source = await listCache([]);
    cleanups.push(() => source.cache.close());

    expect(() => new FragmentDispatcher(source.cache, { picker: 'nope' })).toThrow(
      /policy "nope" is unknown; valid policies: .*rendezvous/,
    );
    expect(() => new FragmentDispatcher(source.cache, { picker: rotatingPicker, maxAttempts: 0 }))
      .toThrow(/option maxAttempts must be a positive integer, got 0/);
    const named = new FragmentDispatcher(source.cache, { picker: 'round-robin' });
    await named.close();
  });
});

describe('FragmentDispatcher load tracking', () => {
  it('feeds the shared load tracker that a least-request picker reads', async () => {
    const workers = await fakes(3);
    const tracker = new LoadTracker();
    const { dispatcher } = await dispatcherOver(workers.map((w) => w.worker()), {
      picker: 'least-request',
      tracker,
    });

    workers.forEach((worker) => worker.setLatency(100));

    const running = dispatcher.fanOut(fragments(30), { concurrency: 6 });
    await expect.poll(() => tracker.totalInFlight).toBe(6);
    const outcomes = await running;

    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(tracker.totalInFlight).toBe(0);
    expect(workers.every((worker) => worker.received > 0)).toBe(true);
  });
});

describe('FragmentDispatcher retries on stale endpoints', () => {
  it('retries at once on another worker when connections are refused', async () => {
    const workers = await fakes(3);
    await workers[1]?.stop();
    const source = await dispatcherOver(workers.map((w) => w.worker()));

    const outcomes = await source.dispatcher.fanOut(fragments(30), { concurrency: 10 });

    expect(accountFor(outcomes, 30).unique).toBe(30);
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expectWholeAnswers(outcomes);
    const refused = outcomes.flatMap((o) => o.attempts).filter((a) => a.result === 'refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((attempt) => attempt.worker.id === 'w1')).toBe(true);
    expect(outcomes.every((o) => o.ok && o.worker.id !== 'w1')).toBe(true);
    expect(source.refreshRequests.some((reason) => reason.includes('w1'))).toBe(true);
  });

  // Default settings, full default concurrency (256): losing one worker of four is absorbed.
  it('accounts for every fragment when a worker process is SIGKILLed mid-fan-out', async () => {
    const children: FakeWorkerProcess[] = await Promise.all(
      [0, 1, 2, 3].map((i) => spawnFakeWorker({ name: `p${i}`, latencyMs: 2 })),
    );
    cleanups.push(() => Promise.all(children.map((child) => child.kill())));
    const { dispatcher } = await dispatcherOver(children.map((child) => child.worker()), {
      picker: 'rendezvous',
    });

    const outcomes: Outcome[] = [];
    for await (const outcome of dispatcher.fanOutStream(fragments(1200))) {
      outcomes.push(outcome);
      if (outcomes.length === 300) void children[2]?.kill('SIGKILL');
    }

    const sorted = outcomes.sort((a, b) => a.index - b.index);
    expect(accountFor(sorted, 1200)).toEqual({
      count: 1200,
      unique: 1200,
      inOrder: true,
      expected: 1200,
    });
    expect(sorted.filter((outcome) => !outcome.ok)).toEqual([]);
    expectWholeAnswers(sorted);
    const failed = sorted.flatMap((o) => o.attempts).filter((a) => a.result !== 'answered');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((attempt) => attempt.worker.id === 'p2')).toBe(true);
  });

  it('names every worker tried when all are down', async () => {
    const workers = await fakes(3);
    await Promise.all(workers.map((worker) => worker.stop()));
    const { dispatcher } = await dispatcherOver(workers.map((w) => w.worker()));

    const outcome = await dispatcher.dispatch({ key: 'k', path: '/f', body: 'x' });

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toBeInstanceOf(FragmentFailedError);
    const error = outcome.error as FragmentFailedError;
    expect(error.stoppedBy).toBe('max-attempts');
    expect([...error.workersTried].sort()).toEqual(['w0', 'w1', 'w2']);
    for (const worker of workers) expect(error.message).toContain(`127.0.0.1:${worker.port}`);
  });
});
