// Issue 6, transport-side acceptance cases (8, 9, 10), plus keyless fallbacks spread fairly.
// Everything runs on loopback against real parts: undici pools, fake workers, the real
// WorkerCache, and for case 8 the real Kubernetes discovery watching a fake API server.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPicker } from '../../src/balancer/registry.js';
import type { IdentitySource } from '../../src/balancer/options.js';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { WorkerCache, type WorkerSource } from '../../src/discovery/cache.js';
import type { WorkerChange } from '../../src/discovery/diff.js';
import { KubernetesWorkerDiscovery } from '../../src/discovery/kubernetes.js';
import type { Worker, WorkerDiscovery } from '../../src/discovery/worker.js';
import { FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { FakeWorker } from '../../src/testing/fake-worker.js';
import { createTestPki, type TestPki } from '../../src/testing/test-ca.js';
import {
  FragmentDispatcher,
  type FragmentDispatcherOptions,
} from '../../src/transport/dispatcher.js';
import type { Fragment, Outcome } from '../../src/transport/fragment.js';
import { startBlackhole } from '../support/blackhole.js';
import { fastWatch, namespace, selector, until, workerSlice } from '../support/kube.js';
import { tempDir } from '../support/temp.js';
import { fakeWorkers, useCleanups } from '../support/cleanups.js';
import { answeredBy, failure } from '../support/outcomes.js';

const cleanups = useCleanups();
const fakes = fakeWorkers(cleanups);

/** Fake workers on several loopback addresses sharing one port, as pods share theirs. */
async function onOnePort(specs: ReadonlyArray<{ name: string; host: string }>) {
  for (let tries = 0; tries < 5; tries += 1) {
    const [head, ...rest] = specs;
    const first = await FakeWorker.start({ ...head, latencyMs: 1 });
    const others = await Promise.allSettled(
      rest.map((spec) => FakeWorker.start({ ...spec, port: first.port, latencyMs: 1 })),
    );
    const started = others.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const all = [first, ...started];
    if (started.length === rest.length) {
      cleanups.push(() => Promise.all(all.map((worker) => worker.stop())));
      return all;
    }
    await Promise.all(all.map((worker) => worker.stop()));
  }
  throw new Error('no port was free on every loopback address');
}

/** A discovery source over a list the test holds, counting the fetches the cache makes. */
class CountingDiscovery implements WorkerDiscovery {
  readonly kind = 'test-counting';
  fetches = 0;

  constructor(readonly list: Worker[]) {}

  async getWorkers(): Promise<Worker[]> {
    this.fetches += 1;
    return [...this.list];
  }
}

/**
 * A real WorkerCache over a counting source, behind a WorkerSource that counts the refreshes
 * the dispatcher asks for. The cache's clock is the test's, so its rate limit is exact.
 */
async function countingCache(workers: Worker[], clock: { now: number }) {
  const discovery = new CountingDiscovery(workers);
  const cache = new WorkerCache(discovery, {
    minRefreshGapMs: 60_000,
    refreshIntervalMs: 600_000,
    now: () => clock.now,
  });
  cleanups.push(() => cache.close());
  await cache.ready();
  const refreshes: string[] = [];
  const source: WorkerSource = {
    workers: () => cache.workers(),
    subscribe: (listener) => cache.subscribe(listener),
    ready: (options) => cache.ready(options),
    requestRefresh: (reason) => {
      refreshes.push(reason ?? '');
      cache.requestRefresh(reason);
    },
  };
  return { discovery, refreshes, source };
}

function dispatcherOn(source: WorkerSource, options: FragmentDispatcherOptions) {
  const dispatcher = new FragmentDispatcher(source, options);
  cleanups.push(() => dispatcher.close());
  return dispatcher;
}

/** A key whose rendezvous owner is the worker `id`. */
function keyOwnedBy(workers: readonly Worker[], id: string): string {
  const picker = createPicker('rendezvous', workers);
  for (let i = 0; i < 10_000; i += 1) {
    if (picker.pick(`segment-${i}`)?.id === id) return `segment-${i}`;
  }
  throw new Error(`no key maps to ${id}`);
}

/** What a fake worker saw of each request: the bytes, and the length it was told. */
function seen(worker: FakeWorker) {
  return worker.requests.map((request) => ({
    body: request.body.toString('utf8'),
    contentLength: request.headers['content-length'],
    chunked: request.headers['transfer-encoding'] === 'chunked',
  }));
}

describe('issue 6: transport field cases', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  it.each(['uid', 'pod-name'] as const)(
    'case 8: a pod moving to a new address in one MODIFIED event is updated, its old pool ' +
      'closed, the old address gets nothing more and keys keep their owner (identity %s)',
    async (identity: IdentitySource) => {
      const pods = [
        { name: 'query-worker-0', host: '127.0.0.9' },
        { name: 'query-worker-1', host: '127.0.0.10' },
        { name: 'query-worker-2', host: '127.0.0.11' },
        { name: 'query-worker-0-moved', host: '127.0.0.42' },
      ];
      const [before, , , after] = (await onOnePort(pods)) as FakeWorker[];
      const port = (before as FakeWorker).port;
      const api = await FakeKubeApiServer.start({ pki });
      cleanups.push(() => api.close());
      const slice = (movedTo: string) => workerSlice('query-workers-x7k2p', [
        { address: movedTo, podName: 'query-worker-0', ready: true },
        { address: '127.0.0.10', podName: 'query-worker-1', ready: true },
        { address: '127.0.0.11', podName: 'query-worker-2', ready: true },
      ]);
      api.putSlice(slice('127.0.0.9'));

      const discovery = new KubernetesWorkerDiscovery({
        env: {
          KUBECONFIG: await api.writeKubeConfig(join(await tempDir(), 'kubeconfig')),
          POD_NAMESPACE: namespace,
          WORKER_POD_LABEL_SELECTOR: selector,
          QUERY_WORKER_PORT: String(port),
        },
        watch: fastWatch,
        // The fake workers live on 127.0.0.x, which discovery refuses unless told otherwise.
        addressPolicy: createAddressPolicy({ allowLoopback: true }),
      });
      const cache = new WorkerCache(discovery, { coalesceMs: 0 });
      cleanups.push(() => cache.close());
      await cache.ready();
      const dispatcher = dispatcherOn(cache, {
        picker: 'rendezvous',
        pickerOptions: { identity },
      });
      const keys = Array.from({ length: 90 }, (_, i) => `segment-${i}`);
      const fragments: Fragment[] = keys.map((key) => ({ key, path: '/f', body: key }));
      const ownersOf = (workers: readonly Worker[]) => {
        const picker = createPicker('rendezvous', workers, { identity });
        return keys.map((key) => picker.pick(key)?.id);
      };
      const ownersBefore = ownersOf(cache.workers());

      // The change lands while fragments are in flight over warm keep-alive connections.
      const changes: WorkerChange[] = [];
      let changedAt = Infinity;
      cache.subscribe((change) => {
        changes.push(change);
        changedAt = performance.now();
      });
      const outcomes: Outcome[] = [];
      for await (const outcome of dispatcher.fanOutStream([...fragments, ...fragments], {
        concurrency: 8,
      })) {
        outcomes.push(outcome);
        if (outcomes.length === 60) api.putSlice(slice('127.0.0.42'));
      }
      await until(() => changes.length === 1, 'the MODIFIED event is applied');

      expect(changes[0]?.added).toEqual([]);
      expect(changes[0]?.removed).toEqual([]);
      expect(changes[0]?.updated.map((u) => [u.previous.ip, u.current.ip, u.current.id]))
        .toEqual([['127.0.0.9', '127.0.0.42', 'uid-query-worker-0']]);
      expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
      const late = outcomes.flatMap((o) => o.attempts).filter((a) => a.startedAt > changedAt);
      expect(late.filter((attempt) => attempt.worker.ip === '127.0.0.9')).toEqual([]);

      // The old pool closes, and nothing reaches the old address from now on.
      await expect.poll(() => dispatcher.pools).toEqual({ open: 3, retiring: 0 });
      await expect.poll(() => before?.connections).toBe(0);
      const oldCount = before?.received;
      const again = await dispatcher.fanOut(fragments, { concurrency: 8 });

      expect(before?.received).toBe(oldCount);
      expect(ownersOf(cache.workers())).toEqual(ownersBefore);
      expect(again.map(answeredBy)).toEqual(ownersBefore);
      const moved = again.filter((outcome) => answeredBy(outcome) === 'uid-query-worker-0');
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.every((outcome) => outcome.ok && outcome.worker.ip === '127.0.0.42'))
        .toBe(true);
      expect(after?.received).toBeGreaterThanOrEqual(moved.length);
    },
  );

  it('case 9: every retry sends the same bytes with a correct content-length; a one-shot ' +
    'stream is not retried and the outcome says why', async () => {
    const json = JSON.stringify({ query: 'sum(bytes) by service', filter: 'größe ≥ 10 ✓' });
    const bytes = Buffer.byteLength(json);
    const expected = { body: json, contentLength: String(bytes), chunked: false };

    // A worker answers 503 to the first attempt and 200 to the second.
    let calls = 0;
    const [busy] = await fakes(1, {
      name: 'busy',
      handler: (request) => {
        calls += 1;
        return calls === 1 ? { status: 503, body: '{"busy":true}' } : { body: request.body };
      },
    });
    const single = dispatcherOn((await countingCache([busy!.worker()], { now: 0 })).source, {
      picker: 'rendezvous',
    });
    const retried = await single.dispatch({
      path: '/f',
      body: json,
      headers: { 'content-type': 'application/json' },
    });

    expect(retried.attempts.map((a) => [a.result, a.status])).toEqual([
      ['unavailable', 503],
      ['answered', 200],
    ]);
    expect(seen(busy!)).toEqual([expected, expected]);

    // The first worker is stale: it refuses, or takes the bytes and resets. The retry goes
    // to another worker with the same bytes, even from a view into a larger buffer.
    const backing = Buffer.from(`<<${json}>>`);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, bytes);
    for (const stale of ['refused', 'reset'] as const) {
      const [first, second] = await fakes(2, { name: stale });
      const ids = { first: `${stale}-first`, second: `${stale}-second` };
      const workers = [first!.worker({ id: ids.first }), second!.worker({ id: ids.second })];
      if (stale === 'refused') await first?.stop();
      else first?.setMode('reset');
      const dispatcher = dispatcherOn((await countingCache(workers, { now: 0 })).source, {
        picker: 'rendezvous',
      });
      const key = keyOwnedBy(workers, ids.first);

      const outcome = await dispatcher.dispatch({ key, path: '/f', body: view });

      expect(outcome.attempts.map((a) => [a.worker.id, a.result])).toEqual([
        [ids.first, stale],
        [ids.second, 'answered'],
      ]);
      expect(seen(first!)).toEqual(stale === 'refused' ? [] : [expected]);
      expect(seen(second!)).toEqual([expected]);
    }

    // A one-shot stream is sent once; a function returning a fresh stream is replayed.
    const [resetting, healthy] = await fakes(2, { name: 'stream' });
    resetting?.setMode('reset');
    const workers = [resetting!.worker({ id: 'resetting' }), healthy!.worker({ id: 'healthy' })];
    const dispatcher = dispatcherOn((await countingCache(workers, { now: 0 })).source, {
      picker: 'rendezvous',
    });
    const key = keyOwnedBy(workers, 'resetting');
    const chunks = async function* () {
      yield Buffer.from(json.slice(0, 10));
      yield Buffer.from(json.slice(10));
    };

    const oneShot = await dispatcher.dispatch({ key, path: '/f', body: chunks() });
    const replayed = await dispatcher.dispatch({ key, path: '/f', body: () => chunks() });

    expect(failure(oneShot).stoppedBy).toBe('one-shot-body');
    expect(failure(oneShot).message).toMatch(/one-shot stream.*function returning a fresh/);
    expect(oneShot.attempts.map((a) => a.worker.id)).toEqual(['resetting']);
    expect(answeredBy(replayed)).toBe('healthy');
    // A stream's length is not known up front: it goes chunked, never with a guessed length.
    const streamed = { body: json, contentLength: undefined, chunked: true };
    expect(seen(resetting!)).toEqual([streamed, streamed]);
    expect(seen(healthy!)).toEqual([streamed]);
  });

  it.each(['refuses', 'drops'] as const)(
    'case 10: after a full outage the recovered worker gets traffic at once; the dead one ' +
      '(%s connections) is ejected for longer each time, probed, and refreshes are asked for',
    async (dead) => {
      const [w0, w1] = await fakes(2);
      const healthClock = { now: 0 };
      const cacheClock = { now: 0 };
      const workers = [w0!.worker(), w1!.worker()];
      const { discovery, refreshes, source } = await countingCache(workers, cacheClock);
      const dispatcher = dispatcherOn(source, {
        picker: 'round-robin',
        pickerOptions: { random: () => 0 },
        connectTimeoutMs: 100,
        retryBudget: { maxTokens: 10 },
        health: { baseEjectionMs: 1_000, maxEjectionMs: 1_000_000 },
        now: () => healthClock.now,
      });
      const fragment: Fragment = { path: '/f', body: 'x' };
      const sent: Outcome[] = [];
      const one = async () => {
        const outcome = await dispatcher.dispatch(fragment);
        sent.push(outcome);
        return outcome;
      };
      const some = async (count: number) => {
        const outcomes = await dispatcher.fanOut(Array(count).fill(fragment), { concurrency: 1 });
        sent.push(...outcomes);
        return outcomes;
      };
      cacheClock.now = 60_000;

      // Both workers refuse for a while.
      await Promise.all([w0?.stop(), w1?.stop()]);
      const outage: Outcome[] = [];
      for (let i = 0; i < 12; i += 1) outage.push(await one());

      expect(outage.every((outcome) => !outcome.ok)).toBe(true);
      expect(dispatcher.health.ejectedCount()).toBe(1);
      // Neither sat out the outage in rotation alone: over the cap, the two took turns.
      expect(workers.map((w) => dispatcher.health.state(w.id).ejections > 0)).toEqual([
        true,
        true,
      ]);
      await expect.poll(() => discovery.fetches).toBe(2);

      // The ejected one recovers (the hard case); the other stays down.
      const [recovered, down] = dispatcher.health.isEjected('w0') ? [w0!, w1!] : [w1!, w0!];
      await recovered.restart();
      if (dead === 'drops') {
        const blackhole = await startBlackhole(down.host, down.port);
        cleanups.push(() => blackhole.close());
      }
      const failedAs = dead === 'drops' ? 'connect-timeout' : 'refused';
      const afterRecovery = [await one(), await one()];

      expect(afterRecovery[0]?.attempts.map((a) => [a.worker.id, a.result])).toContainEqual([
        down.name,
        failedAs,
      ]);
      expect(answeredBy(afterRecovery[1])).toBe(recovered.name);
      // Forty answers refill the retry budget that the outage emptied (0.1 token each).
      const steady = await some(40);
      expect(steady.map(answeredBy)).toEqual(Array(40).fill(recovered.name));

      // Each time its ejection is up the dead one is probed once and ejected for longer.
      for (let round = 0; round < 2; round += 1) {
        const { ejections, lastEjectionMs } = dispatcher.health.state(down.name);
        expect(dispatcher.health.isEjected(down.name)).toBe(true);
        healthClock.now += lastEjectionMs;

        const probing = await some(4);

        const probes = probing.flatMap((o) => o.attempts).filter((a) => a.worker.id === down.name);
        expect(probes.map((attempt) => attempt.result)).toEqual([failedAs]);
        expect(probing.map(answeredBy)).toEqual(Array(4).fill(recovered.name));
        expect(dispatcher.health.state(down.name)).toMatchObject({
          ejections: ejections + 1,
          lastEjectionMs: lastEjectionMs + 1_000,
        });
      }

      // Every connection failure asked for a refresh; the cache made one fetch of them all.
      const connectFailures = sent
        .flatMap((outcome) => outcome.attempts)
        .filter((attempt) => attempt.result === 'refused' || attempt.result === 'connect-timeout');
      expect(refreshes).toHaveLength(connectFailures.length);
      expect(discovery.fetches).toBe(2);
    },
  );

  it.each([
    ['refusing', false],
    ['draining', false],
    ['refusing', true],
  ] as const)(
    'round-robin: a skipped worker\'s turn is spread fairly, not handed to its neighbour ' +
      '(one of four %s; fragments keyed: %s)',
    async (fault, keyed) => {
      const workers = await fakes(4);
      if (fault === 'refusing') await workers[2]?.stop();
      else workers[2]?.setMode('draining', { retryAfterSeconds: 600 });
      const { source } = await countingCache(workers.map((w) => w.worker()), { now: 0 });
      const dispatcher = dispatcherOn(source, {
        picker: 'round-robin',
        pickerOptions: { random: () => 0 },
      });
      // Round-robin ignores keys, so keyed fragments must be spread the same way.
      const fragments: Fragment[] = Array.from({ length: 300 }, (_, i) => ({
        ...(keyed ? { key: `segment-${i}` } : {}),
        path: '/f',
        body: String(i),
      }));

      // Sixteen in flight, as a coordinator runs them: the counts must still come out even.
      const outcomes = await dispatcher.fanOut(fragments, { concurrency: 16 });

      const answers = new Map<string, number>();
      for (const outcome of outcomes) {
        const id = answeredBy(outcome);
        answers.set(id, (answers.get(id) ?? 0) + 1);
      }
      expect(answers.has('w2')).toBe(false);
      const shares = ['w0', 'w1', 'w3'].map((id) => answers.get(id) ?? 0);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    },
  );
});
