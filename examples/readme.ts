import { FragmentDispatcher, StaticWorkerDiscovery, WorkerCache } from 'lakerunner-discovery';
import { FakeWorker } from 'lakerunner-discovery/testing';

const worker = await FakeWorker.start(); // stands in for a query worker on 127.0.0.1
const cache = new WorkerCache(new StaticWorkerDiscovery([`127.0.0.1:${worker.port}`]));
const dispatcher = new FragmentDispatcher(cache, { picker: 'rendezvous' });
await cache.ready();
const [outcome] = await dispatcher.fanOut([{ key: '1042', path: '/query', body: '{}' }]);
console.log(outcome?.ok ? `${outcome.status} from ${outcome.worker.ip}` : outcome?.error);
await Promise.all([dispatcher.close(), cache.close(), worker.stop()]);
