// Issue 7: configuration reaches the API only as encoded values; bad or huge input is refused.
import { describe, expect, it } from 'vitest';
import { WorkerCache } from '../../src/discovery/cache.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { ConfigError, DiscoveryError } from '../../src/errors.js';
import { fastWatch, namespace, selector, until, workerSlice } from '../support/kube.js';
import { useFakeKubeApi } from '../support/kube-api.js';

const kube = useFakeKubeApi();

function discovery(options: Partial<KubernetesDiscoveryOptions> = {}) {
  return new KubernetesWorkerDiscovery({
    env: { KUBECONFIG: kube.kubeconfig, POD_NAMESPACE: namespace,
      WORKER_POD_LABEL_SELECTOR: selector, QUERY_WORKER_PORT: '7101' },
    ...options,
    watch: fastWatch,
  });
}

function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('selectors and namespaces reach the API only as encoded values', () => {
  it.each([
    'app=a&watch=false',
    'app=a#frag',
    'app=a?x=y',
    'app=%2F',
    'app=a b',
    'app=a/b',
    `app=${'v'.repeat(64)}`,
  ])('refuses the selector %j before any request', (bad) => {
    const error = configError(() => discovery({ labelSelector: bad }));
    expect(error.message).toContain('labelSelector');
    expect(kube.api.requests).toHaveLength(0);
  });

  it.each(['a/b', '../kube-system', 'ns&watch=true', 'ns?x', 'NS', ''.padEnd(64, 'n')])(
    'refuses the namespace %j',
    (bad) => {
      const error = configError(() => discovery({ namespace: bad }));
      expect(error.message).toContain('namespace');
    },
  );

  it('sends valid but tricky selectors intact on list and watch', async () => {
    const tricky = 'app.kubernetes.io/component in (query-worker,b),!canary,tier notin (x)';
    const cache = new WorkerCache(discovery({ labelSelector: tricky }), { coalesceMs: 0 });
    kube.track(cache);
    await cache.ready();
    await until(() => kube.api.sliceWatchRequests().length > 0, 'a watch is made');

    expect(kube.api.sliceListRequests()[0]?.query.get('labelSelector')).toBe(tricky);
    expect(kube.api.sliceWatchRequests()[0]?.query.get('labelSelector')).toBe(tricky);
    expect(kube.api.sliceListRequests()[0]?.path)
      .toBe(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`);
  });
});

describe('bounded input from the API server', () => {
  const twoEach = (name: string, first: number) => workerSlice(name, [
    { address: `10.0.0.${first}`, podName: `p${first}` },
    { address: `10.0.0.${first + 1}`, podName: `p${first + 1}` },
  ]);

  it('fails a list holding more than maxEndpoints with reason too-large', async () => {
    for (const [index, name] of ['a', 'b', 'c'].entries()) {
      kube.api.putSlice(twoEach(name, index * 2));
    }

    const error = await discovery({ maxEndpoints: 5, pageSize: 1 }).getWorkers()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as DiscoveryError).reason).toBe('too-large');
    expect((error as DiscoveryError).message).toContain('more than maxEndpoints (5)');
    expect(await discovery({ maxEndpoints: 6 }).getWorkers()).toHaveLength(6);
    expect(() => discovery({ maxEndpoints: 0 })).toThrow('maxEndpoints is "0"');
  });

  it('keeps the last good set when watch events push past maxEndpoints', async () => {
    kube.api.putSlice(twoEach('a', 1));
    kube.api.putSlice(twoEach('b', 3));
    const cache = new WorkerCache(discovery({ maxEndpoints: 5 }), { coalesceMs: 0 });
    kube.track(cache);
    expect(await cache.ready()).toHaveLength(4);

    kube.api.putSlice(twoEach('c', 5));
    await until(() => cache.status().lastError instanceof DiscoveryError, 'the bound is hit');

    expect((cache.status().lastError as DiscoveryError).reason).toBe('too-large');
    expect(cache.workers()).toHaveLength(4);
  });

  it('drops a watch whose event line outgrows maxWatchLineLength, then re-lists', async () => {
    kube.api.putSlice(twoEach('a', 1));
    const cache = new WorkerCache(discovery({ maxWatchLineLength: 4_096 }), { coalesceMs: 0 });
    kube.track(cache);
    await cache.ready();
    await until(() => kube.api.liveWatches === 1, 'the watch is open');
    const lists = kube.api.sliceListOnlyRequests().length;

    // No newline ever comes: without the bound this buffer would grow for as long as it is fed.
    kube.api.injectWatchLine(`{"type":"ADDED","object":{"junk":"${'x'.repeat(64 * 1024)}`);
    await until(() => cache.status().lastError instanceof DiscoveryError, 'the line is refused');

    expect((cache.status().lastError as DiscoveryError).reason).toBe('too-large');
    expect(cache.status().lastError?.message).toContain('longer than 4096 characters');
    await until(() => kube.api.sliceListOnlyRequests().length > lists, 're-listed');
  });

  it('rejects an unparseable list as malformed', async () => {
    kube.api.failNext(1, { status: 200, body: '{"items": [' });
    const error = await discovery().getWorkers().catch((caught: unknown) => caught);
    expect((error as DiscoveryError).reason).toBe('malformed');
  });
});
