// Logging in a few lines: hand any pino-compatible logger to the pieces you use; the SDK logs
// nothing otherwise. Runs against one live and one dead worker:
// `npm run build && npx node examples/logging.ts`.
import { pino } from 'pino';
import { FragmentDispatcher, StaticWorkerDiscovery, WorkerCache } from 'lakerunner-discovery';
import { FakeWorker } from 'lakerunner-discovery/testing';

const logger = pino({ level: 'debug' });
const live = await FakeWorker.start();
const dead = await FakeWorker.start();
await dead.stop(); // its port now refuses connections, so the dispatcher has something to say

const discovery = new StaticWorkerDiscovery([
  `127.0.0.1:${live.port}`,
  `127.0.0.1:${dead.port}`,
]);
const cache = new WorkerCache(discovery, { logger });
const dispatcher = new FragmentDispatcher(cache, { picker: 'round-robin', logger });
await cache.ready();
await dispatcher.fanOut(Array.from({ length: 12 }, () => ({ path: '/query', body: '{}' })));

await dispatcher.close();
await cache.close();
await live.stop();
