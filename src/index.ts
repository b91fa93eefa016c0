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
export { FragmentDispatcher } from './transport/dispatcher.js';
export type {
  FragmentDispatcherOptions,
  DispatchOptions,
  FanOutOptions,
  PickerPolicy,
} from './transport/dispatcher.js';
export {
  FragmentFailedError,
  QueueFullError,
  DispatcherClosedError,
  DeadlineExceededError,
  BodyTooLargeError,
} from './transport/errors.js';
export type { RetryStop } from './transport/errors.js';
export { RetryBudget } from './transport/retry-budget.js';
export type { RetryBudgetOptions } from './transport/retry-budget.js';
export { WorkerHealth } from './transport/health.js';
export type { WorkerHealthOptions, WorkerHealthState } from './transport/health.js';
