import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DiscoveryNotReadyError, WorkerCache } from '../../src/discovery/cache.js';
import type { WorkerChange } from '../../src/discovery/diff.js';
import type { Worker, WorkerDiscovery } from '../../src/discovery/worker.js';
import { DiscoveryError } from '../../src/errors.js';

/** A discovery source whose answers the test scripts: a list of workers, or an error. */
class ScriptedDiscovery implements WorkerDiscovery {
  readonly kind = 'scripted';
  calls = 0;
  answer: Worker[] | Error = [];

  async getWorkers(): Promise<Worker[]> {
    this.calls += 1;
    await sleep(1);
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

function worker(last: number, overrides: Partial<Worker> = {}): Worker {
  return { id: `w${last}`, ip: `10.0.0.${last}`, port: 7101, state: 'ready', ...overrides };
}

const outage = new DiscoveryError('unreachable', 'cannot reach the API server');

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i += 1) await sleep(2);
  expect(condition()).toBe(true);
}

describe('WorkerCache', () => {
  it('resolves ready() after the first fetch and serves workers from memory', async () => {
    const source = new ScriptedDiscovery();
    source.answer = [worker(2), worker(1)];
    await using cache = new WorkerCache(source, { refreshIntervalMs: 60_000 });

    const workers = await cache.ready();
    expect(workers.map((w) => w.id)).toEqual(['w1', 'w2']);
    expect(cache.workers()).toBe(workers);
    expect(cache.status()).toMatchObject({ synced: true, stale: false });
  });

  it('keeps the last good set when a refresh fails, and marks it stale', async () => {
    let now = 1_000;
    const source = new ScriptedDiscovery();
    source.answer = [worker(1)];
    await using cache = new WorkerCache(source, {
      refreshIntervalMs: 60_000,
      minRetryDelayMs: 60_000,
      now: () => now,
    });
    await cache.ready();

    source.answer = outage;
    now += 5_000;
    await cache.refresh();

    expect(cache.workers().map((w) => w.id)).toEqual(['w1']);
    expect(cache.status()).toMatchObject({
      stale: true,
      ageMs: 5_000,
      lastError: outage,
      consecutiveFailures: 1,
    });

    source.answer = [worker(1), worker(3)];
    await cache.refresh();
    expect(cache.status()).toMatchObject({ stale: false, consecutiveFailures: 0 });
  });

  it('tells subscribers what was added, removed and updated', async () => {
    const source = new ScriptedDiscovery();
    source.answer = [worker(1), worker(2)];
    await using cache = new WorkerCache(source, { refreshIntervalMs: 60_000 });
    const changes: WorkerChange[] = [];
    cache.subscribe((change) => changes.push(change));
    await cache.ready();

    source.answer = [worker(2, { ip: '10.0.0.42' }), worker(3)];
    await cache.refresh();
    await cache.refresh();

    expect(changes).toHaveLength(2);
    const last = changes[1];
    expect(last?.added.map((w) => w.id)).toEqual(['w3']);
    expect(last?.removed.map((w) => w.id)).toEqual(['w1']);
    expect(last?.updated.map((u) => [u.previous.ip, u.current.ip])).toEqual([
      ['10.0.0.2', '10.0.0.42'],
    ]);
  });

  it('refreshes on its interval and retries failures with backoff', async () => {
    const source = new ScriptedDiscovery();
    source.answer = outage;
    await using cache = new WorkerCache(source, {
      refreshIntervalMs: 10,
      minRetryDelayMs: 5,
      maxRetryDelayMs: 20,
    });
    cache.start();
    await until(() => source.calls >= 4);
    expect(cache.workers()).toEqual([]);

    source.answer = [worker(1)];
    await until(() => cache.workers().length === 1);
    const before = source.calls;
    await until(() => source.calls >= before + 2);
  });

  it('rejects ready() after its timeout with the last failure, and keeps trying', async () => {
    const source = new ScriptedDiscovery();
    source.answer = outage;
    await using cache = new WorkerCache(source, { readyTimeoutMs: 30, minRetryDelayMs: 5 });

    const error = await cache.ready().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DiscoveryNotReadyError);
    expect((error as Error).message).toContain('cannot reach the API server');
    expect((error as Error).cause).toBe(outage);

    source.answer = [worker(1)];
    await until(() => cache.workers().length === 1);
    expect((await cache.ready()).length).toBe(1);
  });

  it('collapses a burst of refresh requests into one fetch', async () => {
    const source = new ScriptedDiscovery();
    source.answer = [worker(1)];
    await using cache = new WorkerCache(source, {
      refreshIntervalMs: 60_000,
      minRefreshGapMs: 30,
    });
    await cache.ready();

    for (let i = 0; i < 100; i += 1) cache.requestRefresh('connection refused');
    await sleep(80);
    expect(source.calls).toBe(2);
  });

  it('stops fetching once closed', async () => {
    const source = new ScriptedDiscovery();
    source.answer = [worker(1)];
    const cache = new WorkerCache(source, { refreshIntervalMs: 5 });
    await cache.ready();
    await cache.close();
    const calls = source.calls;
    await sleep(40);
    expect(source.calls).toBe(calls);
    expect(cache.workers()).toHaveLength(1);
  });
});
