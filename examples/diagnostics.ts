// node:diagnostics_channel in a few lines: subscribe by name, no configuration of the SDK.
// Runs against a fake worker on loopback: `npm run build && npx node examples/diagnostics.ts`.
import diagnostics from 'node:diagnostics_channel';
import {
  channelNames,
  FragmentDispatcher,
  StaticWorkerDiscovery,
  WorkerCache,
  type AttemptEndMessage,
  type DiscoveryChangeMessage,
} from 'lakerunner-discovery';
import { FakeWorker } from 'lakerunner-discovery/testing';

diagnostics.subscribe(channelNames.discoveryChange, (message) => {
  const { source, change } = message as DiscoveryChangeMessage;
  console.log(`${source}: ${change.added.length} added, ${change.workers.length} workers`);
});
diagnostics.subscribe(channelNames.attemptEnd, (message) => {
  const { worker, attemptNumber, result, status } = message as AttemptEndMessage;
  console.log(`attempt ${attemptNumber} on ${worker.ip}:${worker.port}: ${result} ${status}`);
});

const worker = await FakeWorker.start();
const cache = new WorkerCache(new StaticWorkerDiscovery([`127.0.0.1:${worker.port}`]));
const dispatcher = new FragmentDispatcher(cache, { picker: 'round-robin' });
await cache.ready();
await dispatcher.fanOut([{ path: '/query', body: '1' }, { path: '/query', body: '2' }]);

await dispatcher.close();
await cache.close();
await worker.stop();
