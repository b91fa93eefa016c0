export { FakeWorker } from './fake-worker.js';
export type {
  FakeWorkerMode,
  FakeWorkerOptions,
  FakeRequest,
  FakeResponse,
  FakeEcho,
} from './fake-worker.js';
export { spawnFakeWorker, FakeWorkerSpawnError } from './fake-worker-process.js';
export type { FakeWorkerProcess } from './fake-worker-process.js';
