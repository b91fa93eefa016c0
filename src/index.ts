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
