import { describe, expect, it } from 'vitest';
import { segmentIdKey, segmentKey } from '../../src/balancer/keys.js';
import { RendezvousPicker } from '../../src/balancer/rendezvous.js';
import { WorkerCache } from '../../src/discovery/cache.js';
import {
  workersFromSlices,
  type EndpointSliceLike,
} from '../../src/discovery/endpoint-slices.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { ConfigError } from '../../src/errors.js';
import {
  endpointSlice,
  type EndpointSpec,
  type FakeEndpointSlice,
} from '../../src/testing/fake-kube-api.js';
import { fastWatch, labels, namespace, selector, until } from '../support/kube.js';
import { useFakeKubeApi } from '../support/kube-api.js';

/** A slice of Service `svc`, its query port 9000 first, as the controller writes it. */
function serviceSlice(
  name: string,
  endpoints: EndpointSpec[],
  addressType: 'IPv4' | 'IPv6' = 'IPv4',
): FakeEndpointSlice {
  return endpointSlice({
    name, namespace, addressType, port: 9000, portName: 'query',
    labels: { 'kubernetes.io/service-name': 'svc' }, endpoints,
  });
}

/** An endpoint without any `conditions` field at all. */
function withoutConditions(slice: FakeEndpointSlice): FakeEndpointSlice {
  for (const endpoint of slice.endpoints ?? []) delete endpoint.conditions;
  return slice;
}

const defaultSet = (slices: EndpointSliceLike[]) =>
  workersFromSlices(slices, { port: 7101, keepDraining: true }).workers
    .map((w) => `${w.ip}:${w.port}/${w.state}`);
const goSet = (slices: EndpointSliceLike[]) =>
  workersFromSlices(slices, { port: 7101, compatibility: 'lakerunner-go' }).workers
    .map((w) => `${w.ip}:${w.port}/${w.state}`);

describe('the lakerunner-go worker set, difference by difference (issue 9)', () => {
  it.each<[string, FakeEndpointSlice[], string[], string[]]>([
    ['no conditions at all: the API says ready, Go says not',
      [withoutConditions(serviceSlice('a', [{ address: '10.0.0.1' }]))],
      ['10.0.0.1:7101/ready'], []],
    ['ready: true', [serviceSlice('a', [{ address: '10.0.0.1', ready: true }])],
      ['10.0.0.1:7101/ready'], ['10.0.0.1:9000/ready']],
    ['ready: false', [serviceSlice('a', [{ address: '10.0.0.1', ready: false }])], [], []],
    ['terminating but serving: kept draining by option, never by Go',
      [serviceSlice('a', [{ address: '10.0.0.1', ready: false, serving: true,
        terminating: true }])],
      ['10.0.0.1:7101/draining'], []],
    ['ready but serving: false: Go drops it',
      [serviceSlice('a', [{ address: '10.0.0.1', ready: true, serving: false }])],
      ['10.0.0.1:7101/ready'], []],
    ['ready and terminating (serving absent, so serving): draining by option, not Go',
      [serviceSlice('a', [{ address: '10.0.0.1', ready: true, terminating: true }])],
      ['10.0.0.1:7101/draining'], []],
    ['two addresses: one worker (interchangeable), two for Go',
      [serviceSlice('a', [{ address: ['10.0.0.1', '10.0.0.2'], ready: true }])],
      ['10.0.0.1:7101/ready'], ['10.0.0.1:9000/ready', '10.0.0.2:9000/ready']],
    ['an IPv6 slice', [serviceSlice('a', [{ address: 'fd00::7', ready: true }], 'IPv6')],
      [], []],
    ['an IPv4-mapped address in an IPv6 slice: IPv4 to Go',
      [serviceSlice('a', [{ address: '::ffff:10.0.0.9', ready: true }], 'IPv6')],
      [], ['::ffff:10.0.0.9:9000/ready']],
    ['one address in two slices: one worker',
      [serviceSlice('a', [{ address: '10.0.0.1', ready: true }]),
        serviceSlice('b', [{ address: '10.0.0.1', ready: true }])],
      ['10.0.0.1:7101/ready'], ['10.0.0.1:9000/ready']],
  ])('%s', (_, slices, expectedDefault, expectedGo) => {
    expect(defaultSet(slices)).toEqual(expectedDefault);
    expect(goSet(slices)).toEqual(expectedGo);
  });

  it('falls back to the configured port for a slice without ports', () => {
    const bare = { ...serviceSlice('a', [{ address: '10.0.0.1', ready: true }]), ports: null };
    expect(goSet([bare])).toEqual(['10.0.0.1:7101/ready']);
  });

  it('keeps ids unique when one pod has several addresses', () => {
    const slices = [serviceSlice('a', [
      { address: ['10.0.0.2', '10.0.0.1'], ready: true, podName: 'w0' },
    ])];
    const { workers } = workersFromSlices(slices, { port: 7101, compatibility: 'lakerunner-go' });
    expect(workers.map((w) => [w.id, w.podName])).toEqual([
      ['uid-w0', 'w0'],
      ['10.0.0.2:9000', 'w0'],
    ]);
  });
});

const kube = useFakeKubeApi();

function discovery(
  options: Partial<KubernetesDiscoveryOptions> = {},
  env: Record<string, string> = {},
): KubernetesWorkerDiscovery {
  return new KubernetesWorkerDiscovery({
    env: { KUBECONFIG: kube.kubeconfig, POD_NAMESPACE: namespace,
      WORKER_POD_LABEL_SELECTOR: selector, QUERY_WORKER_PORT: '7101', ...env },
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
}

describe('compatibility: lakerunner-go end to end (issue 9)', () => {
  it('places the published vectors from slices on the API server', async () => {
    kube.api.putService({ metadata: { name: 'query-worker', namespace, labels } });
    const pods = ['query-worker-0', 'query-worker-1', 'query-worker-2'];
    kube.api.putSlice(endpointSlice({
      name: 'query-worker-abc12', namespace, port: 7101, portName: 'http',
      labels: { 'kubernetes.io/service-name': 'query-worker' },
      endpoints: pods.map((podName, i) => ({
        address: `10.244.0.${i + 1}`, ready: true, podName,
        podUid: `pod-uid-${'abc'[i] ?? ''}`,
      })),
    }));
    // Absent ready: a worker by the API's rule, not to the Go coordinators.
    kube.api.putSlice(withoutConditions(endpointSlice({
      name: 'query-worker-def34', namespace, port: 7101,
      labels: { 'kubernetes.io/service-name': 'query-worker' },
      endpoints: [{ address: '10.244.0.9', podName: 'query-worker-3' }],
    })));

    const go = discovery({ compatibility: 'lakerunner-go' });
    expect(go.selectorTarget).toBe('services');
    const cache = new WorkerCache(go, { coalesceMs: 0 });
    kube.track(cache);
    const workers = await cache.ready();
    expect(workers.map((w) => w.podName)).toEqual(pods);
    expect((await discovery().getWorkers())).toEqual([]);
    expect((await discovery({ selectorTarget: 'services' }).getWorkers())).toHaveLength(4);

    const byPodName = new RendezvousPicker(workers, { identity: 'pod-name' });
    expect(byPodName.pick(segmentIdKey(1))?.podName).toBe('query-worker-1');
    const byUid = new RendezvousPicker(workers, { identity: 'uid' });
    const key = segmentKey(1, '00000000-0000-0000-0000-000000000001');
    expect(byUid.pick(key)?.id).toBe('pod-uid-b');

    // The watch keeps parity: query-worker-1 leaves, its keys go to the next in rank.
    const ranked = byPodName.pickN('1', 3).map((w) => w.podName);
    kube.api.putSlice(endpointSlice({
      name: 'query-worker-abc12', namespace, port: 7101,
      labels: { 'kubernetes.io/service-name': 'query-worker' },
      endpoints: pods.map((podName, i) => ({
        address: `10.244.0.${i + 1}`, ready: podName !== 'query-worker-1', podName,
      })),
    }));
    await until(() => cache.workers().length === 2, 'the not-ready pod leaves');
    const after = new RendezvousPicker(cache.workers(), { identity: 'pod-name' });
    expect(after.pick('1')?.podName).toBe(ranked[1]);
  });

  it("takes the slice's first port, else its Service's first port, else the setting",
    async () => {
      const service = (name: string, port?: number) => kube.api.putService({
        metadata: { name, namespace, labels },
        ...(port === undefined ? {} : { spec: { ports: [{ name: 'query', port }] } }),
      });
      const slice = (name: string, address: string, port?: number) => kube.api.putSlice(
        endpointSlice({ name, namespace, labels: { 'kubernetes.io/service-name': name },
          endpoints: [{ address, ready: true }], ...(port === undefined ? {} : { port }) }),
      );
      service('with-slice-port', 8123);
      slice('with-slice-port', '10.0.0.1', 9000);
      service('with-service-port', 8123);
      slice('with-service-port', '10.0.0.2');
      service('with-neither');
      slice('with-neither', '10.0.0.3');

      const source = discovery({ compatibility: 'lakerunner-go' });
      const cache = new WorkerCache(source, { coalesceMs: 0 });
      kube.track(cache);
      expect((await cache.ready()).map((w) => `${w.ip}:${w.port}`)).toEqual([
        '10.0.0.1:9000', '10.0.0.2:8123', '10.0.0.3:7101',
      ]);

      // Through the watch too: a new port-less slice of the same Service.
      await until(() => kube.api.liveWatches === 1);
      slice('with-service-port', '10.0.0.4');
      await until(() => cache.workers().at(-1)?.ip === '10.0.0.4', 'the event is applied');
      expect(cache.workers().map((w) => `${w.ip}:${w.port}`)).toEqual([
        '10.0.0.1:9000', '10.0.0.3:7101', '10.0.0.4:8123',
      ]);
    });

  it('is chosen by LAKERUNNER_DISCOVERY_COMPAT, and refuses settings that contradict it', () => {
    expect(discovery({}, { LAKERUNNER_DISCOVERY_COMPAT: 'lakerunner-go' }).compatibility)
      .toBe('lakerunner-go');
    expect(discovery({ compatibility: 'none' }, { LAKERUNNER_DISCOVERY_COMPAT: 'lakerunner-go' })
      .compatibility).toBeUndefined();

    const refused: [Partial<KubernetesDiscoveryOptions>, Record<string, string>, string][] = [
      [{}, { LAKERUNNER_DISCOVERY_COMPAT: 'go' }, 'LAKERUNNER_DISCOVERY_COMPAT is "go"'],
      [{ compatibility: 'lakerunner-go', keepDraining: true }, {}, 'keepDraining cannot'],
      [{ compatibility: 'lakerunner-go', addressTypes: ['IPv4', 'IPv6'] }, {},
        'addressTypes cannot be combined with compatibility=lakerunner-go'],
      [{ compatibility: 'lakerunner-go', portName: 'query' }, {}, 'portName cannot'],
      [{ compatibility: 'lakerunner-go', selectorTarget: 'endpointslices' }, {},
        'selectorTarget cannot'],
      [{}, { LAKERUNNER_DISCOVERY_COMPAT: 'lakerunner-go',
        WORKER_SELECTOR_TARGET: 'endpointslices' },
      'WORKER_SELECTOR_TARGET cannot be combined with LAKERUNNER_DISCOVERY_COMPAT=lakerunner-go'],
    ];
    for (const [options, env, message] of refused) {
      expect(() => discovery(options, env)).toThrow(ConfigError);
      expect(() => discovery(options, env)).toThrow(message);
    }
  });
});
