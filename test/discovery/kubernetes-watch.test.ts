import { describe, expect, it } from 'vitest';
import { WorkerCache, type WorkerCacheOptions } from '../../src/discovery/cache.js';
import type { WorkerChange } from '../../src/discovery/diff.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { RendezvousPicker } from '../../src/balancer/rendezvous.js';
import {
  FakeKubeApiServer,
  endpointSlice,
  type FakeEndpointSlice,
} from '../../src/testing/fake-kube-api.js';
import {
  fastWatch,
  labels,
  namespace,
  recordingLogger,
  selector,
  until,
  workerSlice,
} from '../support/kube.js';
import { useFakeKubeApi } from '../support/kube-api.js';

const kube = useFakeKubeApi();

function discovery(options: Partial<KubernetesDiscoveryOptions> = {}): KubernetesWorkerDiscovery {
  return new KubernetesWorkerDiscovery({
    env: {
      KUBECONFIG: kube.kubeconfig,
      POD_NAMESPACE: namespace,
      WORKER_POD_LABEL_SELECTOR: selector,
      QUERY_WORKER_PORT: '7101',
    },
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
}

function watchedCache(
  source = discovery(),
  options: WorkerCacheOptions = {},
): { cache: WorkerCache; changes: WorkerChange[] } {
  const cache = new WorkerCache(source, { coalesceMs: 0, ...options });
  kube.track(cache);
  const changes: WorkerChange[] = [];
  cache.subscribe((change) => changes.push(change));
  return { cache, changes };
}

const ids = (workers: readonly { id: string }[]): string[] => workers.map((w) => w.id).sort();

describe('watch-driven Kubernetes discovery', () => {
  it('lists, then watches from the list resourceVersion with bookmarks and timeouts', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    const { cache, changes } = watchedCache();

    expect(ids(await cache.ready())).toEqual(['uid-w1']);
    expect(cache.status().mode).toBe('watch');
    await until(() => kube.api.liveWatches === 1, 'a watch is open');

    const [list] = kube.api.sliceListOnlyRequests();
    const [watch] = kube.api.sliceWatchRequests();
    expect(watch?.query.get('resourceVersion')).toBe(kube.api.resourceVersion);
    expect(watch?.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watch?.query.get('timeoutSeconds'))).toBeGreaterThanOrEqual(60);
    expect(watch?.query.get('labelSelector')).toBe(list?.query.get('labelSelector'));

    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'the added slice is seen');
    expect(changes.at(-1)?.added.map((w) => w.id)).toEqual(['uid-w2']);

    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2', ready: false }]));
    await until(() => cache.workers().length === 1, 'the not-ready worker leaves');
    expect(changes.at(-1)?.removed.map((w) => w.id)).toEqual(['uid-w2']);

    kube.api.deleteSlice(namespace, 'a');
    await until(() => cache.workers().length === 0, 'the deleted slice empties the set');
    expect(changes.at(-1)?.removed.map((w) => w.id)).toEqual(['uid-w1']);

    // One list, one watch: nothing polls while the watch is healthy.
    expect(kube.api.sliceListOnlyRequests()).toHaveLength(1);
    expect(kube.api.sliceWatchRequests()).toHaveLength(1);
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('reports an address change of the same pod as updated, not as remove and add', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    const { cache, changes } = watchedCache();
    await cache.ready();

    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.9', podName: 'w1' }]));
    await until(() => cache.workers()[0]?.ip === '10.0.0.9');
    const change = changes.at(-1);
    expect(change?.added).toEqual([]);
    expect(change?.removed).toEqual([]);
    expect(change?.updated.map((u) => [u.previous.ip, u.current.ip])).toEqual([
      ['10.0.0.1', '10.0.0.9'],
    ]);
  });

  it('counts bookmarks as syncs and moves the resourceVersion on', async () => {
    let now = 1_000;
    const { cache } = watchedCache(discovery(), { now: () => now });
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    now += 5_000;
    expect(cache.status().ageMs).toBe(5_000);
    kube.api.putSlice(workerSlice('other', [{ address: '10.0.0.3' }]), { unannounced: true });
    kube.api.sendBookmarks();
    await until(() => cache.status().ageMs === 0, 'the bookmark counts as a sync');

    kube.api.endWatches();
    await until(() => kube.api.sliceWatchRequests().length === 2, 'the watch resumes');
    expect(kube.api.sliceWatchRequests()[1]?.query.get('resourceVersion'))
      .toBe(kube.api.resourceVersion);
  });

  it('resumes a cut watch from the last resourceVersion and replays what it missed', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    const { cache } = watchedCache();
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);
    const seen = kube.api.resourceVersion;

    kube.api.cutWatches();
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'the missed event is replayed');

    expect(kube.api.sliceWatchRequests()[1]?.query.get('resourceVersion')).toBe(seen);
    expect(kube.api.sliceListOnlyRequests()).toHaveLength(1);
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('keeps exactly one watch across many server-side timeouts', async () => {
    await kube.api.close();
    kube.api = await FakeKubeApiServer.start({ pki: kube.pki, secondMs: 2 });
    await kube.api.writeKubeConfig(kube.kubeconfig);
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1' }]));

    const { cache } = watchedCache(discovery({ watch: { watchTimeoutSeconds: 5 } }));
    await cache.ready();
    await until(() => kube.api.sliceWatchRequests().length >= 5, 'watches end and resume');

    expect(kube.api.peakLiveWatches).toBe(1);
    expect(kube.api.sliceListOnlyRequests()).toHaveLength(1);
    expect(cache.workers()).toHaveLength(1);
  });

  it('never takes a Status or a malformed line for a slice, and re-lists instead', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    const logger = recordingLogger();
    const { cache } = watchedCache(discovery({ logger }));
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500 };
    kube.api.injectWatchLine(JSON.stringify({ type: 'ADDED', object: status }));
    await until(() => kube.api.sliceListOnlyRequests().length === 2, 're-listed after the Status');
    await until(() => kube.api.liveWatches === 1);

    kube.api.injectWatchLine('{"type":"MODIFIED","object":{"kind":"EndpointSl');
    await until(() => kube.api.sliceListOnlyRequests().length === 3, 're-listed after bad JSON');

    expect(ids(cache.workers())).toEqual(['uid-w1']);
    expect(logger.text()).toContain('not a endpointslices event');
    expect(logger.text()).toContain('not JSON');
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('re-lists after a 410 Gone HTTP status and reports what went away meanwhile', async () => {
    kube.api.setGoneAs('status');
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    const { cache, changes } = watchedCache();
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    kube.api.cutWatches();
    kube.api.deleteSlice(namespace, 'b');
    kube.api.compactHistory();
    await until(() => cache.workers().length === 1, 'the re-list drops the deleted slice');

    expect(changes.at(-1)?.removed.map((w) => w.id)).toEqual(['uid-w2']);
    expect(kube.api.requests.some((request) => request.status === 410)).toBe(true);
    await until(() => kube.api.liveWatches === 1);
    expect(kube.api.sliceWatchRequests().at(-1)?.query.get('resourceVersion')).toBe(
      kube.api.resourceVersion,
    );
  });

  it('handles a 410 ERROR event inside a 200 stream the same way (acceptance 2)', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    const { cache, changes } = watchedCache();
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);
    const oldVersion = kube.api.resourceVersion;

    // Later watches from the old version keep getting 410, as after etcd compaction.
    kube.api.deleteSlice(namespace, 'b');
    kube.api.putSlice(workerSlice('c', [{ address: '10.0.0.3', podName: 'w3' }]), {
      unannounced: true,
    });
    kube.api.stallWatches();
    kube.api.compactHistory();
    kube.api.failWatches(410, 'Expired', `too old resource version: ${oldVersion}`);

    await until(() => ids(cache.workers()).join() === 'uid-w1,uid-w3', 'replaced by a list');
    const removed = changes.flatMap((change) => change.removed.map((w) => w.id));
    expect(removed).toContain('uid-w2');

    await until(() => kube.api.liveWatches === 1, 'watching again');
    const lastWatch = kube.api.sliceWatchRequests().at(-1);
    expect(lastWatch?.query.get('resourceVersion')).toBe(kube.api.resourceVersion);
    expect(lastWatch?.query.get('resourceVersion')).not.toBe(oldVersion);
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('tears down a silent watch, re-lists and reports the removal (acceptance 1)', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    let now = 1_000;
    const { cache, changes } = watchedCache(
      discovery({ watch: { idleTimeoutMs: 300 } }),
      { now: () => now },
    );
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    kube.api.putSlice(workerSlice('c', [{ address: '10.0.0.3', podName: 'w3' }]));
    await until(() => cache.workers().length === 3, 'two ADDED events arrive');
    const syncedAt = cache.status().lastSyncAt ?? 0;

    kube.api.stallWatches();
    kube.api.deleteSlice(namespace, 'b');
    // The time since the last sync is visible while the stream is silent.
    now += 250;
    expect(cache.status().ageMs).toBe(250);

    await until(() => cache.workers().length === 2, 'the stall is detected and re-listed');
    expect(changes.at(-1)?.removed.map((w) => w.id)).toEqual(['uid-w2']);
    expect(kube.api.sliceListOnlyRequests()).toHaveLength(2);
    expect(cache.status().lastSyncAt).toBe(syncedAt + 250);
    expect(cache.status().ageMs).toBe(0);
    await until(() => kube.api.liveWatches === 1, 'the silent stream was closed');
  });

  it('warns when the safety-net re-list finds changes the watch missed', async () => {
    const logger = recordingLogger();
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    const { cache } = watchedCache(
      discovery({ logger, watch: { relistIntervalMs: 150 } }),
    );
    await cache.ready();
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]), {
      unannounced: true,
    });

    await until(() => cache.workers().length === 2, 'the re-list finds the lost slice');
    const missed = logger.lines.find((line) => line.message?.includes('events were missed'));
    expect(missed?.level).toBe('warn');
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('coalesces a burst of additions but applies removals at once', async () => {
    kube.api.putSlice(workerSlice('keep', [{ address: '10.0.0.1', podName: 'keep' }]));
    const { cache, changes } = watchedCache(discovery(), { coalesceMs: 200 });
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    for (let i = 0; i < 100; i += 1) {
      kube.api.putSlice(
        workerSlice(`pod-${i}`, [{ address: `10.1.0.${i + 1}`, podName: `p${i}` }]),
      );
    }
    await until(() => cache.workers().length === 101, 'all 100 additions arrive');
    expect(changes.length).toBeLessThanOrEqual(5);

    const before = changes.length;
    const slow = watchedCache(discovery(), { coalesceMs: 600_000 });
    kube.track(slow.cache);
    await slow.cache.ready();
    kube.api.putSlice(workerSlice('late', [{ address: '10.2.0.1', podName: 'late' }]));
    kube.api.deleteSlice(namespace, 'keep');
    // The first change is the initial set; the second carries the removal and the addition
    // that was waiting, long before the 10-minute coalescing window.
    await until(() => slow.changes.length === 2, 'the removal is not held back');
    expect(slow.changes[1]?.removed.map((w) => w.id)).toEqual(['uid-keep']);
    expect(slow.changes[1]?.added.map((w) => w.id)).toEqual(['uid-late']);
    expect(changes.length).toBeGreaterThan(before);
  });

  it('selects through Services labels in services mode', async () => {
    kube.api.putService({ metadata: { name: 'query-worker', namespace, labels } });
    kube.api.putService({ metadata: { name: 'other', namespace, labels: { app: 'other' } } });
    const serviceSlice = (name: string, service: string, address: string) =>
      endpointSlice({
        name, namespace, labels: { 'kubernetes.io/service-name': service },
        endpoints: [{ address, podName: name }],
      });
    kube.api.putSlice(serviceSlice('qw-1', 'query-worker', '10.0.0.1'));
    kube.api.putSlice(serviceSlice('other-1', 'other', '10.0.0.9'));

    const source = discovery({ selectorTarget: 'services' });
    expect((await discovery().getWorkers())).toEqual([]);
    const { cache } = watchedCache(source);
    expect(ids(await cache.ready())).toEqual(['uid-qw-1']);

    kube.api.putSlice(serviceSlice('qw-2', 'query-worker', '10.0.0.2'));
    await until(() => cache.workers().length === 2, 'watched through the Service name');
    expect(kube.api.sliceWatchRequests()[0]?.query.get('labelSelector')).toBe(
      'kubernetes.io/service-name in (query-worker)',
    );
  });

  it('keeps one worker per pod across IPv4 and IPv6 slices, at the preferred family', async () => {
    const dual = (name: string, addressType: 'IPv4' | 'IPv6', address: string) =>
      endpointSlice({ name, namespace, labels, addressType, endpoints: [
        { address, podName: 'w1' },
      ] });
    kube.api.putSlice(dual('v4', 'IPv4', '10.0.0.1'));
    kube.api.putSlice(dual('v6', 'IPv6', 'fd00::1'));

    expect((await discovery().getWorkers()).map((w) => w.ip)).toEqual(['10.0.0.1']);

    const { cache, changes } = watchedCache(
      discovery({ addressTypes: ['IPv4', 'IPv6'], preferredAddressType: 'IPv6' }),
    );
    expect((await cache.ready()).map((w) => [w.id, w.ip])).toEqual([['uid-w1', 'fd00::1']]);

    kube.api.deleteSlice(namespace, 'v6');
    await until(() => cache.workers()[0]?.ip === '10.0.0.1', 'falls back to the IPv4 address');
    expect(changes.at(-1)?.updated).toHaveLength(1);
    expect(cache.workers()).toHaveLength(1);
  });
});

describe('endpoint conditions during shutdown, end to end (acceptance 6)', () => {
  /** a: no conditions at all; b: not ready; c: terminating but serving; d: terminating. */
  function shutdownSlice(aReady?: boolean): FakeEndpointSlice {
    const slice = workerSlice('shutdown', [
      { address: '10.0.0.1', podName: 'a', ready: aReady },
      { address: '10.0.0.2', podName: 'b', ready: false },
      { address: '10.0.0.3', podName: 'c', ready: false, serving: true, terminating: true },
      // serving absent falls back to ready (false): not even draining.
      { address: '10.0.0.4', podName: 'd', ready: false, terminating: true },
    ]);
    const first = slice.endpoints?.[0];
    if (first !== undefined && aReady === undefined) delete first.conditions;
    return slice;
  }
  const keys = Array.from({ length: 200 }, (_, i) => String(i));

  it('keeps the draining pod as a last resort only, by option', async () => {
    kube.api.putSlice(shutdownSlice());
    const { cache } = watchedCache(discovery({ keepDraining: true }));
    const workers = await cache.ready();
    expect(workers.map((w) => [w.podName, w.state])).toEqual([
      ['a', 'ready'],
      ['c', 'draining'],
    ]);

    // While a ready worker exists the draining one gets no new fragment, and comes last in
    // the failover order.
    const picker = new RendezvousPicker(workers, { identity: 'pod-name' });
    expect(new Set(keys.map((key) => picker.pick(key)?.podName))).toEqual(new Set(['a']));
    expect(picker.pickN('7', 2).map((w) => w.podName)).toEqual(['a', 'c']);

    // The last ready pod goes: the draining one takes what is left rather than nothing.
    await until(() => kube.api.liveWatches === 1);
    kube.api.putSlice(shutdownSlice(false));
    await until(() => cache.workers().length === 1, 'a leaves through the watch');
    const lastResort = new RendezvousPicker(cache.workers(), { identity: 'pod-name' });
    expect(new Set(keys.map((key) => lastResort.pick(key)?.podName))).toEqual(new Set(['c']));
  });

  it('drops terminating pods altogether without the option', async () => {
    kube.api.putSlice(shutdownSlice());
    const source = discovery();
    const inspection = await source.inspect();
    expect(inspection.workers.map((w) => w.podName)).toEqual(['a']);
    expect(inspection.report).toMatchObject({ endpoints: 4, notReady: 1, terminating: 2 });

    const { cache } = watchedCache(source);
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);
    kube.api.putSlice(shutdownSlice(false));
    await until(() => cache.workers().length === 0, 'no worker is left');
    expect(new RendezvousPicker(cache.workers()).pick('1')).toBeUndefined();
  });
});

describe('dual-stack pods through the watch (acceptance 7)', () => {
  const dual = (name: string, addressType: 'IPv4' | 'IPv6', address: string) =>
    endpointSlice({ name, namespace, labels, addressType, endpoints: [
      { address, podName: 'query-worker-7' },
    ] });

  it.each<['IPv4' | 'IPv6' | undefined, string]>([
    [undefined, '10.1.0.7'],
    ['IPv4', '10.1.0.7'],
    ['IPv6', 'fd00::7'],
  ])('is one worker preferring %s, and keeps IPv4 when the IPv6 slice is deleted',
    async (preferredAddressType, preferredIp) => {
      kube.api.putSlice(dual('qw-v4', 'IPv4', '10.1.0.7'));
      kube.api.putSlice(dual('qw-v6', 'IPv6', 'fd00::7'));
      const { cache, changes } = watchedCache(
        discovery({ addressTypes: ['IPv4', 'IPv6'], preferredAddressType }),
      );
      expect((await cache.ready()).map((w) => [w.id, w.ip])).toEqual([
        ['uid-query-worker-7', preferredIp],
      ]);
      await until(() => kube.api.liveWatches === 1);
      const changesBefore = changes.length;

      kube.api.deleteSlice(namespace, 'qw-v6');
      kube.api.putSlice(workerSlice('marker', [{ address: '10.9.0.1', podName: 'marker' }]));
      await until(() => cache.workers().length === 2, 'the DELETED event has been applied');
      const worker = cache.workers().find((w) => w.podName === 'query-worker-7');
      expect(worker?.ip).toBe('10.1.0.7');
      const removed = changes.slice(changesBefore).flatMap((c) => c.removed.map((w) => w.id));
      expect(removed).toEqual([]);
      // Delivered by the watch, not found by a re-list.
      expect(kube.api.sliceListOnlyRequests()).toHaveLength(1);
    });
});
