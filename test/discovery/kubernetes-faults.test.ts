import { beforeEach, describe, expect, it } from 'vitest';
import {
  DiscoveryNotReadyError,
  WorkerCache,
  type WorkerCacheOptions,
} from '../../src/discovery/cache.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { DiscoveryError } from '../../src/errors.js';
import { FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import {
  fastWatch,
  namespace,
  recordingLogger,
  selector,
  until,
  workerSlice,
} from '../support/kube.js';
import { useFakeKubeApi } from '../support/kube-api.js';

const kube = useFakeKubeApi();
let env: Record<string, string>;

beforeEach(() => {
  env = {
    KUBECONFIG: kube.kubeconfig,
    POD_NAMESPACE: namespace,
    WORKER_POD_LABEL_SELECTOR: selector,
    QUERY_WORKER_PORT: '7101',
  };
  kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
});

function discovery(options: Partial<KubernetesDiscoveryOptions> = {}): KubernetesWorkerDiscovery {
  return new KubernetesWorkerDiscovery({
    env,
    random: () => 1,
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
}

function cacheOver(source: KubernetesWorkerDiscovery, options: WorkerCacheOptions = {}) {
  const cache = new WorkerCache(source, { coalesceMs: 0, ...options });
  kube.track(cache);
  return cache;
}

/** The delays the loop announced before each retry, in order. */
function retryDelays(logger: ReturnType<typeof recordingLogger>): number[] {
  return logger.lines
    .filter((line) => typeof line.fields['retryInMs'] === 'number')
    .map((line) => line.fields['retryInMs'] as number);
}

async function freePort(): Promise<number> {
  const probe = await FakeKubeApiServer.start({ pki: kube.pki });
  const port = Number(new URL(probe.url).port);
  await probe.close();
  return port;
}

describe('Kubernetes discovery when the API server misbehaves', () => {
  it('rejects ready() when the server is down at start, keeps trying, recovers', async () => {
    const port = await freePort();
    await kube.api.close();
    kube.api = await FakeKubeApiServer.start({ pki: kube.pki, port });
    await kube.api.writeKubeConfig(kube.kubeconfig);
    await kube.api.close();
    const token = kube.api.token;

    const logger = recordingLogger();
    const cache = cacheOver(discovery({ logger }), { readyTimeoutMs: 200 });
    cache.start();
    await until(() => cache.status().consecutiveFailures >= 1, 'the first try fails');
    const error = await cache.ready().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DiscoveryNotReadyError);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).toContain('keeps retrying');
    expect((error as Error).cause).toBeInstanceOf(DiscoveryError);

    await until(() => retryDelays(logger).length >= 2, 'discovery keeps trying');
    const delays = retryDelays(logger);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? Infinity);

    kube.api = await FakeKubeApiServer.start({ pki: kube.pki, port, token });
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    await until(() => cache.workers().length === 1, 'discovery recovers on its own');
    expect(cache.status().stale).toBe(false);
  });

  it('keeps the last set, stale with its age, while the server is gone', async () => {
    const port = Number(new URL(kube.api.url).port);
    const cache = cacheOver(discovery());
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    await kube.api.close();
    await until(() => cache.status().consecutiveFailures >= 2, 'failures are noticed');
    expect(cache.workers().map((w) => w.id)).toEqual(['uid-w1']);
    const status = cache.status();
    expect(status.stale).toBe(true);
    expect(status.ageMs).toBeGreaterThanOrEqual(0);
    expect((status.lastError as DiscoveryError).reason).toBe('unreachable');

    kube.api = await FakeKubeApiServer.start({ pki: kube.pki, port, token: kube.api.token });
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'recovers when the server is back');
    expect(cache.status().stale).toBe(false);
  });

  it('never turns a transient error into an empty worker set', async () => {
    const cache = cacheOver(discovery());
    await cache.ready();
    const emptied: number[] = [];
    cache.subscribe((change) => {
      if (change.workers.length === 0) emptied.push(1);
    });
    await until(() => kube.api.liveWatches === 1);

    kube.api.failNext(1, { status: 500 });
    kube.api.failNext(1, { status: 200, body: '{"kind":"EndpointSliceList","items":[' });
    kube.api.failNext(1, { status: 200, body: '{"kind":"Status","code":500}' });
    kube.api.failNext(1, { status: 502, body: '<html>bad gateway</html>' });
    kube.api.failWatches(410, 'Expired', 'too old resource version');
    await until(
      () => kube.api.liveWatches === 1 && kube.api.requests.length >= 8,
      're-listed in the end',
    );

    expect(emptied).toEqual([]);
    expect(cache.workers().map((w) => w.id)).toEqual(['uid-w1']);
  });

  it('honours 429 Retry-After; a flood of errors costs one request per step', async () => {
    const logger = recordingLogger();
    const cache = cacheOver(discovery({ logger }));
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    kube.api.failNext(1, { status: 429, headers: { 'retry-after': '1' } });
    kube.api.failNext(500, { status: 500 });
    kube.api.endWatches();
    await until(() => cache.status().consecutiveFailures >= 6, 'six failures in a row');
    const failures = cache.status().consecutiveFailures;

    const delays = retryDelays(logger);
    expect(delays[0]).toBeGreaterThanOrEqual(1_000);
    expect(delays.slice(1)).toEqual([...delays.slice(1)].sort((a, b) => a - b));
    expect(Math.max(...delays.slice(1))).toBeLessThanOrEqual(fastWatch.maxRetryDelayMs);
    // One request per failure: nothing retries behind the backoff's back.
    const failed = kube.api.requests.filter((request) => request.status >= 429);
    expect(failed.length).toBeGreaterThanOrEqual(failures);
    expect(failed.length).toBeLessThanOrEqual(failures + 1);
  });

  it('honours Retry-After when polling too', async () => {
    const logger = recordingLogger();
    const cache = cacheOver(discovery(), { watch: false, logger, minRetryDelayMs: 10 });
    await cache.ready();
    kube.api.failNext(1, { status: 429, headers: { 'retry-after': '3' } });
    await cache.refresh();
    expect(retryDelays(logger)).toEqual([3_000]);
    expect(cache.status().mode).toBe('poll');
  });

  it('leaves one watch and no stray timer when replaced mid-backoff (acceptance 3)', async () => {
    const source = discovery({ watch: { minRetryDelayMs: 200, maxRetryDelayMs: 200 } });
    const first = cacheOver(source);
    await first.ready();
    await until(() => kube.api.liveWatches === 1);

    kube.api.failNext(1, { status: 500 });
    kube.api.endWatches();
    await until(() => first.status().consecutiveFailures === 1, 'a reconnect is scheduled');
    await first.close();

    const second = cacheOver(source);
    await second.ready();
    await until(() => kube.api.liveWatches === 1, 'the new cache watches');
    const requestsNow = kube.api.requests.length;

    // Long enough for the first cache's reconnect to have fired, had it been left behind.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(kube.api.requests.length).toBe(requestsNow);
    expect(kube.api.liveWatches).toBe(1);
    expect(kube.api.peakLiveWatches).toBe(1);
  });

  it('backs off through three 503s on the re-list, stale meanwhile (acceptance 3)', async () => {
    const logger = recordingLogger();
    const cache = cacheOver(discovery({ logger }));
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);
    const staleSeen: boolean[] = [];
    const watchStatus = setInterval(() => staleSeen.push(cache.status().stale), 2);

    kube.api.failNext(3, { status: 503, headers: { 'retry-after': '0' } });
    kube.api.failWatches(410, 'Expired', 'too old resource version');
    await until(() => kube.api.liveWatches === 1 && !cache.status().stale, 'recovered');
    clearInterval(watchStatus);

    expect(kube.api.requests.filter((request) => request.status === 503)).toHaveLength(3);
    const delays = retryDelays(logger);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeLessThan(delays[2] ?? 0);
    expect(staleSeen).toContain(true);
    expect(cache.workers().map((w) => w.id)).toEqual(['uid-w1']);
  });
});
