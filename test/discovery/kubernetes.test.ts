import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesWorkerDiscovery } from '../../src/discovery/kubernetes.js';
import { DiscoveryError } from '../../src/errors.js';
import { endpointSlice, FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { tempDir } from '../support/temp.js';

const namespace = 'cardinalhq-datalake';
const labels = {
  'app.kubernetes.io/instance': 'lakerunner',
  'app.kubernetes.io/component': 'query-worker',
};
const selector = 'app.kubernetes.io/instance=lakerunner,app.kubernetes.io/component=query-worker';

let api: FakeKubeApiServer;
let kubeconfig: string;

beforeEach(async () => {
  api = await FakeKubeApiServer.start({ forbiddenNamespaces: ['locked'] });
  kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
});

afterEach(async () => {
  await api.close();
});

function discovery(overrides: Record<string, unknown> = {}): KubernetesWorkerDiscovery {
  return new KubernetesWorkerDiscovery({
    env: {
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: namespace,
      WORKER_POD_LABEL_SELECTOR: selector,
      QUERY_WORKER_PORT: '7101',
    },
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<DiscoveryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DiscoveryError);
  return error as DiscoveryError;
}

describe('KubernetesWorkerDiscovery against the fake API server', () => {
  it('lists matching slices through a kubeconfig file with the real client', async () => {
    api.putSlice(endpointSlice({
      name: 'query-worker-a', namespace, labels,
      endpoints: [
        { address: '10.244.5.158', podName: 'query-worker-0' },
        { address: '10.244.5.9', ready: false },
      ],
    }));
    api.putSlice(endpointSlice({
      name: 'other-app', namespace, labels: { app: 'other' }, endpoints: [{ address: '10.0.0.1' }],
    }));
    api.putSlice(endpointSlice({
      name: 'elsewhere', namespace: 'other-ns', labels, endpoints: [{ address: '10.0.0.2' }],
    }));

    const workers = await discovery().getWorkers();
    expect(workers).toMatchObject([
      { id: 'uid-query-worker-0', ip: '10.244.5.158', port: 7101, state: 'ready' },
    ]);

    const [request] = api.sliceListRequests();
    expect(request?.query.get('labelSelector')).toBe(selector);
  });

  it('follows continue tokens until every page is read', async () => {
    for (let i = 0; i < 23; i += 1) {
      api.putSlice(endpointSlice({
        name: `slice-${String(i).padStart(2, '0')}`, namespace, labels,
        endpoints: [{ address: `10.1.0.${i + 1}` }, { address: `10.2.0.${i + 1}` }],
      }));
    }

    const workers = await discovery({ pageSize: 5 }).getWorkers();
    expect(workers).toHaveLength(46);
    const requests = api.sliceListRequests();
    expect(requests).toHaveLength(5);
    expect(requests.map((request) => request.query.get('limit'))).toEqual(Array(5).fill('5'));
    expect(requests[0]?.query.get('continue')).toBeNull();
    expect(requests[1]?.query.get('continue')).toBeTruthy();
  });

  it('turns 401 into an unauthorized DiscoveryError that names the server', async () => {
    await api.writeKubeConfig(kubeconfig, { token: 'wrong-token-canary' });
    const error = await rejection(discovery().getWorkers());
    expect(error.reason).toBe('unauthorized');
    expect(error.status).toBe(401);
    expect(error.message).toContain(api.url);
    expect(error.message).toContain('401 Unauthorized');
    expect(error.message).not.toContain('wrong-token-canary');
  });

  it('turns 403 into a forbidden DiscoveryError naming the RBAC rule needed', async () => {
    const error = await rejection(discovery({ namespace: 'locked' }).getWorkers());
    expect(error.reason).toBe('forbidden');
    expect(error.status).toBe(403);
    expect(error.message).toContain(
      '"list" and "watch" on "endpointslices" in API group discovery.k8s.io in namespace "locked"',
    );
  });

  it('reports 5xx, 429 and unreachable servers as typed errors', async () => {
    api.failNext(1, { status: 503 });
    expect((await rejection(discovery().getWorkers())).reason).toBe('server');

    api.failNext(1, { status: 429, headers: { 'retry-after': '7' } });
    const throttled = await rejection(discovery().getWorkers());
    expect(throttled.reason).toBe('throttled');
    expect(throttled.retryAfterSeconds).toBe(7);

    const unreachable = discovery();
    await api.close();
    const error = await rejection(unreachable.getWorkers());
    expect(error.reason).toBe('unreachable');
    expect(error.message).toContain('ECONNREFUSED');
    api = await FakeKubeApiServer.start();
  });

  it('sends selectors with URL-breaking characters only as encoded query values', async () => {
    const tricky = 'app in (a,b),tier!=x.y_z';
    await discovery({ labelSelector: tricky }).getWorkers();
    expect(api.sliceListRequests()[0]?.query.get('labelSelector')).toBe(tricky);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const error = await discovery()
      .getWorkers({ signal: controller.signal })
      .catch((caught: unknown) => caught);
    expect((error as Error).name).toBe('AbortedError');
  });
});
