// The demo behind `npm run demo`: a fake Kubernetes API server and four fake workers on
// loopback, discovered through a real kubeconfig with the real client, then a query of a few
// hundred fragments fanned out while one worker dies part-way through.
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
  type Fragment,
  type Outcome,
} from 'lakerunner-discovery';
import { endpointSlice, FakeKubeApiServer, FakeWorker } from 'lakerunner-discovery/testing';

const namespace = 'lakerunner-demo';
const labels = { 'app.kubernetes.io/component': 'query-worker' };
const fragmentCount = 400;
const print = (line = ''): void => void process.stdout.write(`${line}\n`);

/** Four workers on 127.0.0.1-4 sharing one port, as pods share their container port. */
async function startWorkers(): Promise<FakeWorker[]> {
  for (let tries = 0; tries < 5; tries += 1) {
    const first = await FakeWorker.start({ name: 'query-worker-0', latencyMs: 25 });
    try {
      const others = await Promise.all([1, 2, 3].map((n) => FakeWorker.start({
        name: `query-worker-${n}`, host: `127.0.0.${n + 1}`, port: first.port, latencyMs: 25,
      })));
      return [first, ...others];
    } catch {
      await first.stop();
    }
  }
  throw new Error('could not find a port free on 127.0.0.1-4');
}

function publish(api: FakeKubeApiServer, workers: FakeWorker[], notReady = new Set<string>()) {
  api.putSlice(endpointSlice({
    name: 'query-workers-x7k2p',
    namespace,
    labels,
    endpoints: workers.map((worker) => ({
      address: worker.host,
      podName: worker.name,
      ready: !notReady.has(worker.name),
    })),
  }));
}

const dir = await mkdtemp(join(tmpdir(), 'lakerunner-demo-'));
const api = await FakeKubeApiServer.start();
const workers = await startWorkers();
publish(api, workers);

const discovery = new KubernetesWorkerDiscovery({
  env: { KUBECONFIG: await api.writeKubeConfig(join(dir, 'kubeconfig')) },
  namespace,
  labelSelector: 'app.kubernetes.io/component=query-worker',
  port: workers[0]!.port,
  // The fake workers listen on 127.0.0.1-4; real clusters never list loopback, so discovery
  // refuses it unless a demo or a test says so.
  addressPolicy: createAddressPolicy({ allowLoopback: true }),
});
const cache = new WorkerCache(discovery, { refreshIntervalMs: 500, minRefreshGapMs: 100 });
const dispatcher = new FragmentDispatcher(cache, {
  picker: (current) => createPicker('round-robin', current),
});

try {
  print('lakerunner demo: a fake Kubernetes API server and 4 fake workers on 127.0.0.1-4');
  const found = await cache.ready();
  print(`Discovered ${found.length} workers through a kubeconfig (${discovery.server}):`);
  for (const worker of found) print(`  ${worker.podName}  ${workerAddress(worker)}`);

  const fragments: Fragment[] = Array.from({ length: fragmentCount }, (_, index) => ({
    key: `segment-${index}`,
    path: '/api/v1/fragment',
    body: JSON.stringify({ segment: index, query: 'sum(bytes) by service' }),
    headers: { 'content-type': 'application/json' },
  }));
  print(`\nDispatching ${fragmentCount} fragments, round-robin, 16 at a time...`);

  const victim = workers[2]!;
  const outcomes: Outcome[] = [];
  for await (const outcome of dispatcher.fanOutStream(fragments, { concurrency: 16 })) {
    outcomes.push(outcome);
    if (outcomes.length === Math.floor(fragmentCount / 3)) {
      print(`  after ${outcomes.length} answers: stopping ${victim.name} ` +
        '(connections now refused)');
      await victim.stop();
      setTimeout(() => {
        publish(api, workers, new Set([victim.name]));
        print(`  ${victim.name}'s endpoint turned not ready in its EndpointSlice`);
      }, 300).unref();
    }
  }

  const answered = outcomes.filter((outcome) => outcome.ok);
  const retried = outcomes.filter((outcome) => outcome.attempts.length > 1);
  print('\nAnswers per worker:');
  for (const worker of workers) {
    const count = answered.filter((outcome) => outcome.worker.podName === worker.name).length;
    print(`  ${worker.name}  ${`${worker.host}:${worker.port}`.padEnd(16)} ${count}`);
  }

  const failed = outcomes.length - answered.length;
  const lost = fragmentCount - outcomes.length;
  print(
    `\n${fragmentCount} fragments: ${answered.length} answered, ${failed} failed, ` +
      `${retried.length} retried on another worker, ${lost} lost.`,
  );
  process.exitCode = answered.length === fragmentCount ? 0 : 1;
} finally {
  await dispatcher.close();
  await cache.close();
  await Promise.all(workers.map((worker) => worker.stop()));
  await api.close();
  await rm(dir, { recursive: true, force: true });
}
