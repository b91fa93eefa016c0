// Issue 7: cluster-supplied addresses are checked before they become workers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { WorkerCache } from '../../src/discovery/cache.js';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { EcsWorkerDiscovery } from '../../src/discovery/ecs.js';
import { ecsOptionsFromEnv } from '../../src/discovery/ecs-settings.js';
import { workersFromSlices, type EndpointSliceLike } from '../../src/discovery/endpoint-slices.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { ConfigError } from '../../src/errors.js';
import { FakeEcs } from '../../src/testing/fake-ecs.js';
import { endpointSlice } from '../../src/testing/fake-kube-api.js';
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

const hostile = ['0.0.0.0', '127.0.0.1', '169.254.169.254', '224.0.0.251', '255.255.255.255'];

function slice(addresses: readonly string[], extra: Partial<EndpointSliceLike> = {}) {
  return {
    addressType: 'IPv4',
    endpoints: addresses.map((address) => ({ addresses: [address] })),
    ...extra,
  };
}

describe('workersFromSlices and the address policy', () => {
  it('refuses unspecified, loopback, link-local, multicast and broadcast by default', () => {
    const { workers, report, refused } = workersFromSlices(
      [slice([...hostile, '10.244.0.7'])],
      { port: 7101 },
    );

    expect(workers.map((worker) => worker.ip)).toEqual(['10.244.0.7']);
    expect(report.refusedAddresses).toBe(5);
    expect(report.refusals).toEqual({
      unspecified: 1, loopback: 1, 'link-local': 1, multicast: 1, broadcast: 1,
    });
    expect(refused.get('169.254.169.254')).toBe('link-local');
  });

  it('refuses IPv6 loopback, link-local and IPv4-mapped loopback', () => {
    const v6 = {
      addressType: 'IPv6',
      endpoints: ['::1', 'fe80::1', '::ffff:127.0.0.1', 'ff02::1', 'fd00::7']
        .map((address) => ({ addresses: [address] })),
    };
    const { workers, report } = workersFromSlices([v6], { port: 7101, addressTypes: ['IPv6'] });

    expect(workers.map((worker) => worker.ip)).toEqual(['fd00::7']);
    expect(report.refusals).toEqual({ loopback: 2, 'link-local': 1, multicast: 1 });
  });

  it('admits loopback only when asked, and keeps to the allow-list', () => {
    const relaxed = createAddressPolicy({ allowLoopback: true, allowedCidrs: ['127.0.0.0/8'] });
    const { workers, report } = workersFromSlices(
      [slice(['127.0.0.2', '10.244.0.7', '169.254.169.254'])],
      { port: 7101, addressPolicy: relaxed },
    );

    expect(workers.map((worker) => worker.ip)).toEqual(['127.0.0.2']);
    expect(report.refusals).toEqual({ 'not-allowed': 1, 'link-local': 1 });
  });

  it('checks addresses in lakerunner-go mode too', () => {
    const { workers, report } = workersFromSlices(
      [{ ...slice([]), endpoints: [{ addresses: ['169.254.169.254', '10.0.0.1'],
        conditions: { ready: true } }] }],
      { port: 7101, compatibility: 'lakerunner-go' },
    );

    expect(workers.map((worker) => worker.ip)).toEqual(['10.0.0.1']);
    expect(report.refusedAddresses).toBe(1);
  });

  it('counts named ports outside 1-65535 and skips their slices', () => {
    const ports = (port: number) => slice(['10.0.0.1'], { ports: [{ name: 'query', port }] });
    const { workers, report } = workersFromSlices(
      [ports(0), ports(70_000), ports(-1), ports(8080)],
      { port: 7101, portName: 'query' },
    );

    expect(workers.map((worker) => worker.port)).toEqual([8080]);
    expect(report.badPorts).toBe(3);
  });

  it('counts malformed addresses rather than using them', () => {
    const { workers, report } = workersFromSlices(
      [slice(['10.0.0.1:80', '10.0.0.1/32', '', 'http://10.0.0.1', '1.2.3.4.5'])],
      { port: 7101 },
    );

    expect(workers).toEqual([]);
    expect(report.badAddresses).toBe(5);
  });
});

describe('Kubernetes discovery and the address policy', () => {
  const kube = useFakeKubeApi();

  function discovery(options: Partial<KubernetesDiscoveryOptions> = {}, env = {}) {
    return new KubernetesWorkerDiscovery({
      env: { KUBECONFIG: kube.kubeconfig, POD_NAMESPACE: namespace,
        WORKER_POD_LABEL_SELECTOR: selector, QUERY_WORKER_PORT: '7101', ...env },
      ...options,
      watch: fastWatch,
    });
  }

  it('refuses metadata and loopback addresses on list and watch, logging each once', async () => {
    const logger = recordingLogger();
    kube.api.putSlice(workerSlice('a', [
      { address: '10.0.0.1', podName: 'w1' },
      { address: '169.254.169.254', podName: 'metadata' },
    ]));
    const source = discovery({ logger });

    const inspection = await source.inspect();
    expect(inspection.workers.map((worker) => worker.ip)).toEqual(['10.0.0.1']);
    expect(inspection.report.refusals).toEqual({ 'link-local': 1 });

    const cache = new WorkerCache(source, { coalesceMs: 0 });
    kube.track(cache);
    await cache.ready();
    for (let i = 2; i <= 4; i += 1) {
      kube.api.putSlice(workerSlice('b', [
        { address: `10.0.0.${i}`, podName: `w${i}` },
        { address: '127.0.0.1', podName: 'loop' },
      ]));
      await until(() => cache.workers().some((worker) => worker.ip === `10.0.0.${i}`));
    }

    expect(cache.workers().map((worker) => worker.ip)).toEqual(['10.0.0.1', '10.0.0.4']);
    const refusedLines = logger.lines.filter((line) => line.fields.address !== undefined);
    expect(refusedLines.map((line) => [line.fields.address, line.fields.reason])).toEqual([
      ['169.254.169.254', 'link-local'],
      ['127.0.0.1', 'loopback'],
    ]);
  });

  it('reads the allow-list from WORKER_ALLOWED_CIDRS and names it when it is bad', async () => {
    kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1' }, { address: '10.9.0.1' }]));
    const source = discovery({}, { WORKER_ALLOWED_CIDRS: ' 10.0.0.0/16 , fd00::/8 ' });

    expect((await source.getWorkers()).map((worker) => worker.ip)).toEqual(['10.0.0.1']);
    expect(source.addressPolicy).toContain('only 10.0.0.0/16, fd00::/8');

    const bad = (): unknown => discovery({}, { WORKER_ALLOWED_CIDRS: '10.0.0.0/33' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow('WORKER_ALLOWED_CIDRS has "10.0.0.0/33"');
  });

  it('the CLI counts refusals, and admits loopback with --allow-loopback', async () => {
    kube.api.putSlice(endpointSlice({ name: 'loop', namespace, labels,
      endpoints: [{ address: '127.0.0.5' }, { address: '169.254.169.254' }] }));
    const run = async (...extra: string[]) => {
      let stdout = '';
      let stderr = '';
      const status = await runCli(['debug', 'kubernetes-discovery', `--pod-namespace=${namespace}`,
        `--worker-pod-label-selector=${selector}`, '--query-worker-port=7101', ...extra], {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        env: { KUBECONFIG: kube.kubeconfig },
      });
      return { status, stdout, stderr };
    };

    const strict = await run();
    expect(strict.status).toBe(3);
    expect(strict.stdout).toContain('Address policy (loopback refused): 2 endpoint address(es) ' +
      'refused (1 loopback, 1 link-local)');
    expect(strict.stderr).toContain('169.254.169.254');

    const loose = await run('--allow-loopback');
    expect(loose.status).toBe(0);
    expect(loose.stdout).toContain('[1] 127.0.0.5:7101');

    const bad = await run('--allowed-cidrs=10.0.0.0/8,nonsense');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--allowed-cidrs has "nonsense"');
  });
});

describe('ECS discovery and the address policy', () => {
  let fake: FakeEcs;
  let endpoint: string;
  const open: EcsWorkerDiscovery[] = [];
  const cluster = 'lakerunner';
  const service = 'query-worker';

  beforeEach(async () => {
    // The SDK must talk only to the fake: explicit endpoint, region and static keys below.
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    fake = new FakeEcs();
    endpoint = await fake.listen();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((discovery) => discovery.close()));
    await fake.close();
  });

  function ecs(env: Record<string, string>, logger = recordingLogger()) {
    const options = ecsOptionsFromEnv({
      ECS_WORKER_CLUSTER_NAME: cluster, ECS_WORKER_SERVICE_NAME: service,
      QUERY_WORKER_PORT: '7101', ...env,
    }, {
      endpoint, region: 'us-east-1', logger,
      credentials: { accessKeyId: 'AKIDFAKEECSTEST', secretAccessKey: 'fake-secret' },
    });
    const created = new EcsWorkerDiscovery(options);
    open.push(created);
    return created;
  }

  it('logs each refused task address once across polls', async () => {
    fake.setTasks(cluster, service, [{ ip: '169.254.169.254' }, { ip: '10.0.0.1' }]);
    const logger = recordingLogger();
    const source = ecs({}, logger);

    for (let poll = 0; poll < 3; poll += 1) expect(await source.getWorkers()).toHaveLength(1);

    const refusedLines = logger.lines.filter((line) => line.fields.address !== undefined);
    expect(refusedLines.map((line) => line.fields)).toEqual([
      { source: 'ecs', address: '169.254.169.254', reason: 'link-local' },
    ]);
  });

  it('reads WORKER_ALLOWED_CIDRS like Kubernetes discovery does', async () => {
    fake.setTasks(cluster, service, [{ ip: '10.0.0.1' }, { ip: '10.9.0.1' }]);
    const source = ecs({ WORKER_ALLOWED_CIDRS: '10.0.0.0/16' });

    expect((await source.getWorkers()).map((worker) => worker.ip)).toEqual(['10.0.0.1']);
    expect(source.lastReport()?.refusals).toEqual({ 'not-allowed': 1 });
    expect(() => ecs({ WORKER_ALLOWED_CIDRS: '10.0.0.0' }))
      .toThrow('WORKER_ALLOWED_CIDRS has "10.0.0.0"');
  });
});
