export { LakerunnerError, ConfigError, DiscoveryError, AbortedError } from './errors.js';
export type { DiscoveryFailure } from './errors.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type {
  Worker,
  WorkerState,
  WorkerDiscovery,
  GetWorkersOptions,
} from './discovery/worker.js';
export { compareWorkers, workerAddress, workerOrigin } from './discovery/worker.js';
export type { Picker } from './balancer/picker.js';
export type {
  Fragment,
  FragmentBody,
  Attempt,
  AttemptResult,
  Outcome,
  AnsweredOutcome,
  FailedOutcome,
} from './transport/fragment.js';
export { createPicker, registerPolicy, policyNames } from './balancer/registry.js';
export type { PickerFactory } from './balancer/registry.js';
export { RoundRobinPicker } from './balancer/round-robin.js';
export { RendezvousPicker } from './balancer/rendezvous.js';
export { MaglevPicker, DEFAULT_MAGLEV_TABLE_SIZE } from './balancer/maglev.js';
export { RingPicker, DEFAULT_VIRTUAL_NODES } from './balancer/ring.js';
export { LeastRequestPicker } from './balancer/least-request.js';
export { LoadTracker } from './balancer/load-tracker.js';
export type { WorkerLoad, EndRequest, LoadTrackerOptions } from './balancer/load-tracker.js';
export { workerIdentity, IDENTITY_SOURCES } from './balancer/options.js';
export type {
  PickerOptions,
  IdentitySource,
  SlowStartOptions,
  ZonePreferenceOptions,
} from './balancer/options.js';
export { TableCache } from './balancer/table-cache.js';
export type { TableCacheOptions } from './balancer/table-cache.js';
export { segmentKey, segmentIdKey } from './balancer/keys.js';
export type { SegmentId } from './balancer/keys.js';
export { xxh64, xxh64Into } from './balancer/xxh64.js';
