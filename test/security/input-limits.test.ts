// Issue 7: configuration reaches the API only as encoded values; bad or huge input is refused.
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkerCache } from '../../src/discovery/cache.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { ConfigError, DiscoveryError } from '../../src/errors.js';
import { FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { createTestPki, type TestPki } from '../../src/testing/test-ca.js';
import { fastWatch, namespace, selector, until, workerSlice } from '../support/kube.js';
import { tempDir } from '../support/temp.js';

let pki: TestPki;
let api: FakeKubeApiServer;
let kubeconfig: string;
const caches: WorkerCache[] = [];

beforeAll(async () => {
  pki = await createTestPki();
});

beforeEach(async () => {
  api = await FakeKubeApiServer.start({ pki });
  kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
  await api.close();
});

function discovery(options: Partial<KubernetesDiscoveryOptions> = {}) {
  return new KubernetesWorkerDiscovery({
    env: { KUBECONFIG: kubeconfig, POD_NAMESPACE: namespace,
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
    expect(api.requests).toHaveLength(0);
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
    caches.push(cache);
    await cache.ready();
    await until(() => api.sliceWatchRequests().length > 0, 'a watch is made');

    expect(api.sliceListRequests()[0]?.query.get('labelSelector')).toBe(tricky);
    expect(api.sliceWatchRequests()[0]?.query.get('labelSelector')).toBe(tricky);
    expect(api.sliceListRequests()[0]?.path)
      .toBe(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`);
  });
});

describe('bounded input from the API server', () => {
  const twoEach = (name: string, first: number) => workerSlice(name, [
    { address: `10.0.0.${first}`, podName: `p${first}` },
    { address: `10.0.0.${first + 1}`, podName: `p${first + 1}` },
  ]);

  it('fails a list holding more than maxEndpoints with reason too-large', async () => {
    for (const [index, name] of ['a', 'b', 'c'].entries()) api.putSlice(twoEach(name, index * 2));

    const error = await discovery({ maxEndpoints: 5, pageSize: 1 }).getWorkers()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as DiscoveryError).reason).toBe('too-large');
    expect((error as DiscoveryError).message).toContain('more than maxEndpoints (5)');
    expect(await discovery({ maxEndpoints: 6 }).getWorkers()).toHaveLength(6);
    expect(() => discovery({ maxEndpoints: 0 })).toThrow('maxEndpoints is "0"');
  });

  it('keeps the last good set when watch events push past maxEndpoints', async () => {
    api.putSlice(twoEach('a', 1));
    api.putSlice(twoEach('b', 3));
    const cache = new WorkerCache(discovery({ maxEndpoints: 5 }), { coalesceMs: 0 });
    caches.push(cache);
    expect(await cache.ready()).toHaveLength(4);

    api.putSlice(twoEach('c', 5));
    await until(() => cache.status().lastError instanceof DiscoveryError, 'the bound is hit');

    expect((cache.status().lastError as DiscoveryError).reason).toBe('too-large');
    expect(cache.workers()).toHaveLength(4);
  });

  it('drops a watch whose event line outgrows maxWatchLineLength, then re-lists', async () => {
    api.putSlice(twoEach('a', 1));
    const cache = new WorkerCache(discovery({ maxWatchLineLength: 4_096 }), { coalesceMs: 0 });
    caches.push(cache);
    await cache.ready();
    await until(() => api.liveWatches === 1, 'the watch is open');
    const lists = api.sliceListOnlyRequests().length;

    // No newline ever comes: without the bound this buffer would grow for as long as it is fed.
    api.injectWatchLine(`{"type":"ADDED","object":{"junk":"${'x'.repeat(64 * 1024)}`);
    await until(() => cache.status().lastError instanceof DiscoveryError, 'the line is refused');

    expect((cache.status().lastError as DiscoveryError).reason).toBe('too-large');
    expect(cache.status().lastError?.message).toContain('longer than 4096 characters');
    await until(() => api.sliceListOnlyRequests().length > lists, 're-listed');
  });

  it('rejects an unparseable list as malformed', async () => {
    api.failNext(1, { status: 200, body: '{"items": [' });
    const error = await discovery().getWorkers().catch((caught: unknown) => caught);
    expect((error as DiscoveryError).reason).toBe('malformed');
  });
});
