/**
 * In-process fakes for tests and demos: a Kubernetes API server speaking real HTTPS list
 * requests on 127.0.0.1, and helpers to build EndpointSlices; an Amazon ECS API speaking the
 * real JSON protocol on 127.0.0.1.
 *
 * @packageDocumentation
 */
export {
  FakeKubeApiServer,
  endpointSlice,
  type FakeKubeApiOptions,
  type FakeEndpointSlice,
  type FakeEndpoint,
  type EndpointSpec,
  type RecordedRequest,
  type InjectedFailure,
  type FakeService,
  type FakeObjectMeta,
} from './fake-kube-api.js';
export { createTestPki, type TestPki, type CertificateAndKey } from './test-ca.js';
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
export { FakeEcs } from './fake-ecs.js';
export type {
  FakeEcsFault,
  FakeEcsOperation,
  FakeEcsOptions,
  FakeEcsRequest,
  FakeEcsTaskInit,
} from './fake-ecs.js';
export type { FakeWorkerTls } from './fake-worker.js';
