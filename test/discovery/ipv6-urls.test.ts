import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { createPicker } from '../../src/balancer/registry.js';
import { WorkerCache } from '../../src/discovery/cache.js';
import { loadKubeConfig } from '../../src/discovery/kube-config.js';
import { KubernetesWorkerDiscovery } from '../../src/discovery/kubernetes.js';
import { hostPort, originOf, urlHost } from '../../src/discovery/urls.js';
import { workerAddress, workerOrigin } from '../../src/discovery/worker.js';
import { ConfigError } from '../../src/errors.js';
import { endpointSlice, FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { FakeWorker, type FakeEcho } from '../../src/testing/fake-worker.js';
import { FragmentDispatcher } from '../../src/transport/dispatcher.js';
import { labels, namespace, selector } from '../support/kube.js';
import { tempDir } from '../support/temp.js';
import { useCleanups } from '../support/cleanups.js';

const cleanups = useCleanups();

describe('URLs built from addresses (acceptance 5)', () => {
  it.each([
    ['fd00:10:244::7', 8080, 'http://[fd00:10:244::7]:8080', '[fd00:10:244::7]:8080'],
    ['10.244.0.7', 8080, 'http://10.244.0.7:8080', '10.244.0.7:8080'],
    ['::1', 7101, 'http://[::1]:7101', '[::1]:7101'],
    // The URL class normalises IPv6, so a long form and its short form make one pool origin.
    ['fd00:0:0:0:0:0:0:7', 80, 'http://[fd00::7]', '[fd00:0:0:0:0:0:0:7]:80'],
    ['::ffff:10.0.0.1', 7101, 'http://[::ffff:a00:1]:7101', '[::ffff:10.0.0.1]:7101'],
  ])('%s port %d is %s', (ip, port, origin, address) => {
    expect(workerOrigin({ ip, port })).toBe(origin);
    expect(workerAddress({ ip, port })).toBe(address);
  });

  it('keeps the default port only when asked, as the in-cluster server URL does', () => {
    expect(originOf('https:', 'fd00:10:96::1', 443)).toBe('https://[fd00:10:96::1]');
    expect(originOf('https:', 'fd00:10:96::1', '443', { keepDefaultPort: true }))
      .toBe('https://[fd00:10:96::1]:443');
    expect(urlHost('[fd00::1]')).toBe('[fd00::1]');
    expect(hostPort('query-worker.lake.svc', 7101)).toBe('query-worker.lake.svc:7101');
  });

  it.each([
    ['10.0.0.1/evil', 80],
    ['10.0.0.1@evil', 80],
    ['10.0.0 .1', 80],
    ['', 80],
    ['10.0.0.1', 0],
    ['10.0.0.1', 65536],
    ['10.0.0.1', '08080'],
    ['10.0.0.1', '80#x'],
  ])('refuses host %j port %j with an error naming the setting', (host, port) => {
    const attempt = () => originOf('http:', host, port, { setting: 'worker.ip' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^worker\.ip /);
  });

  it('builds https://[fd00:10:96::1]:443 for an IPv6 in-cluster service host', async () => {
    const dir = await tempDir();
    const serviceAccountDir = join(dir, 'sa');
    await mkdir(serviceAccountDir);
    const api = await FakeKubeApiServer.start();
    cleanups.push(() => api.close());
    await api.writeServiceAccount(serviceAccountDir, { namespace });
    const env = {
      KUBECONFIG: join(dir, 'none'),
      KUBERNETES_SERVICE_HOST: 'fd00:10:96::1',
      KUBERNETES_SERVICE_PORT: '443',
    };

    const loaded = loadKubeConfig({ env, serviceAccountDir });
    expect(loaded.server).toBe('https://[fd00:10:96::1]:443');
    expect(loaded.kubeConfig.getCurrentCluster()?.server).toBe('https://[fd00:10:96::1]:443');

    // Constructing discovery sends nothing; it only reports the server it would use.
    const discovery = new KubernetesWorkerDiscovery({
      env: { ...env, POD_NAMESPACE: namespace, WORKER_POD_LABEL_SELECTOR: selector,
        QUERY_WORKER_PORT: '7101' },
      serviceAccountDir,
    });
    expect(discovery.server).toBe('https://[fd00:10:96::1]:443');
    expect(api.requests).toEqual([]);

    const bad = { ...env, KUBERNETES_SERVICE_PORT: '44 3' };
    expect(() => loadKubeConfig({ env: bad, serviceAccountDir }))
      .toThrow('KUBERNETES_SERVICE_PORT="44 3" do not make a server URL');
  });

  it('sends a fragment to an IPv6 worker found in an IPv6 slice, over [::1]', async () => {
    const worker = await FakeWorker.start({ name: 'v6', host: '::1' });
    cleanups.push(() => worker.stop());
    const api = await FakeKubeApiServer.start();
    cleanups.push(() => api.close());
    const kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
    api.putSlice(endpointSlice({
      name: 'query-worker-v6', namespace, labels, addressType: 'IPv6', port: worker.port,
      endpoints: [{ address: '::1', podName: 'query-worker-0' }],
    }));

    const discovery = new KubernetesWorkerDiscovery({
      env: { KUBECONFIG: kubeconfig, POD_NAMESPACE: namespace, WORKER_POD_LABEL_SELECTOR: selector,
        QUERY_WORKER_PORT: '7101' },
      addressTypes: ['IPv6'],
      portName: 'query',
      // The fake worker listens on [::1], which a real cluster never lists.
      addressPolicy: createAddressPolicy({ allowLoopback: true }),
    });
    const cache = new WorkerCache(discovery, { watch: false });
    cleanups.push(() => cache.close());
    const [found] = await cache.ready();
    expect(found && workerOrigin(found)).toBe(`http://[::1]:${worker.port}`);

    const dispatcher = new FragmentDispatcher(cache, {
      picker: (workers) => createPicker('rendezvous', workers),
    });
    cleanups.push(() => dispatcher.close());
    const outcome = await dispatcher.dispatch({ key: '1', path: '/fragment', body: 'v6' });
    if (!outcome.ok) throw outcome.error;
    const echo = JSON.parse(Buffer.from(outcome.body).toString('utf8')) as FakeEcho;
    expect(echo).toMatchObject({ worker: 'v6', path: '/fragment', body: 'v6' });
  });
});
