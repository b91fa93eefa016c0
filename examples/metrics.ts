// Prometheus metrics in a few lines: pass your prom-client module and registry, dispatch,
// then scrape. Runs against two fake workers on loopback:
// `npm run build && npx node examples/metrics.ts`.
import * as promClient from 'prom-client';
import {
  FragmentDispatcher,
  instrumentPrometheus,
  StaticWorkerDiscovery,
  WorkerCache,
} from 'lakerunner-discovery';
import { FakeWorker } from 'lakerunner-discovery/testing';

const workers = await Promise.all([FakeWorker.start(), FakeWorker.start()]);
const registry = new promClient.Registry();
const stopMetrics = instrumentPrometheus(promClient, { registry });

const addresses = workers.map((worker) => `127.0.0.1:${worker.port}`);
const cache = new WorkerCache(new StaticWorkerDiscovery(addresses));
const dispatcher = new FragmentDispatcher(cache, { picker: 'round-robin' });
await cache.ready();
await dispatcher.fanOut(Array.from({ length: 20 }, () => ({ path: '/query', body: '{}' })));

const scrape = await registry.metrics();
for (const line of scrape.split('\n')) {
  if (/^lakerunner_(fragments_total|picks_total|discovery_workers)\{/.test(line)) {
    console.log(line);
  }
}

stopMetrics();
await dispatcher.close();
await cache.close();
await Promise.all(workers.map((worker) => worker.stop()));
