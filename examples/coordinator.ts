// A short coordinator: discover workers in Kubernetes, fan a query out, print the outcomes.
// It runs against the shipped fakes, so it needs no cluster:
// `npm run build && npx node examples/coordinator.ts`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAddressPolicy,
  createPicker,
  FragmentDispatcher,
  KubernetesWorkerDiscovery,
  WorkerCache,
  workerAddress,
} from 'lakerunner-discovery';
import { endpointSlice, FakeKubeApiServer, FakeWorker } from 'lakerunner-discovery/testing';

// Stand-ins for a cluster: an API server and two workers on loopback.
const dir = await mkdtemp(join(tmpdir(), 'coordinator-'));
const api = await FakeKubeApiServer.start();
const workers = [await FakeWorker.start({ name: 'query-worker-0' })];
workers.push(await FakeWorker.start({
  name: 'query-worker-1', host: '127.0.0.2', port: workers[0]!.port,
}));
api.putSlice(endpointSlice({
  name: 'query-workers', namespace: 'lake', labels: { app: 'query-worker' },
  endpoints: workers.map((worker) => ({ address: worker.host, podName: worker.name })),
}));

// The coordinator itself: in a pod, these settings come from the environment instead.
const discovery = new KubernetesWorkerDiscovery({
  env: { KUBECONFIG: await api.writeKubeConfig(join(dir, 'kubeconfig')) },
  namespace: 'lake',
  labelSelector: 'app=query-worker',
  port: workers[0]!.port,
  // Only because the fakes listen on 127.0.0.x: real clusters never list loopback, and
  // discovery refuses it unless told otherwise.
  addressPolicy: createAddressPolicy({ allowLoopback: true }),
});
// (On Node 24 `await using` can replace the try/finally; Node 22 lacks that syntax.)
const cache = new WorkerCache(discovery);
const dispatcher = new FragmentDispatcher(cache, {
  picker: (current) => createPicker('rendezvous', current),
});
try {
  await cache.ready();

  const segments = [101, 102, 103, 104, 105, 106];
  const outcomes = await dispatcher.fanOut(
    segments.map((segment) => ({
      key: String(segment),
      path: '/api/v1/fragment',
      body: JSON.stringify({ segment, query: 'count()' }),
    })),
    { timeoutMs: 10_000 },
  );

  for (const outcome of outcomes) {
    const segment = segments[outcome.index];
    if (outcome.ok) {
      console.log(`segment ${segment}: ${outcome.status} from ${workerAddress(outcome.worker)}`);
    } else {
      console.log(`segment ${segment}: failed: ${outcome.error.message}`);
    }
  }
} finally {
  await dispatcher.close();
  await cache.close();
}

await Promise.all(workers.map((worker) => worker.stop()));
await api.close();
await rm(dir, { recursive: true, force: true });
