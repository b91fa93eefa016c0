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
export { parsePort, parsePositiveInteger } from './config.js';
export type { Environment } from './config.js';
export {
  WorkerCache,
  DiscoveryNotReadyError,
  type WorkerCacheOptions,
  type CacheStatus,
  type WorkerChangeListener,
  type WorkerSource,
} from './discovery/cache.js';
export {
  diffWorkers,
  type WorkerChange,
  type WorkerUpdate,
} from './discovery/diff.js';
export {
  parseLabelSelector,
  matchesLabels,
  SelectorSyntaxError,
  type LabelSelector,
  type SelectorRequirement,
} from './discovery/label-selector.js';
export {
  kubernetesSettings,
  kubernetesVariables,
  type KubernetesSettings,
  type KubernetesSettingsInput,
} from './discovery/kubernetes-settings.js';
export {
  workersFromSlices,
  endpointState,
  type EndpointSliceLike,
  type SliceOptions,
  type SliceReport,
} from './discovery/endpoint-slices.js';
export {
  loadKubeConfig,
  type KubeConfigOptions,
  type LoadedKubeConfig,
} from './discovery/kube-config.js';
export {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
  type KubernetesInspection,
} from './discovery/kubernetes.js';
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
export {
  createAddressPolicy,
  parseCidrs,
  type AddressPolicy,
  type AddressPolicyOptions,
  type AddressRefusal,
} from './discovery/address-policy.js';
export {
  channelNames,
  type DiscoverySyncMessage,
  type DiscoveryChangeMessage,
  type FanOutStartMessage,
  type FanOutEndMessage,
  type AttemptStartMessage,
  type AttemptEndMessage,
  type FragmentEndMessage,
  type EjectionMessage,
  type RetryBudgetExhaustedMessage,
} from './observability/channels.js';
export {
  instrumentPrometheus,
  type PromClientLike,
  type PrometheusOptions,
} from './observability/prometheus.js';
export {
  instrumentOpenTelemetry,
  type OpenTelemetryApi,
  type OpenTelemetryOptions,
} from './observability/opentelemetry.js';
export type { SliceWorkers, EndpointLike } from './discovery/endpoint-slices.js';
export type { SettingNames } from './discovery/kubernetes-settings.js';
export type { SelectorOperator } from './discovery/label-selector.js';
export type { RawSetting } from './config.js';
export type { WorkerWatch, WorkerWatchHandlers } from './discovery/worker.js';
export {
  selectorTargetVariable,
  serviceNameLabel,
  type SelectorTarget,
} from './discovery/kubernetes.js';
export {
  ListWatchLoop,
  defaultWatchTimings,
  type WatchTimings,
  type SliceSource,
  type ListWatchOptions,
  type VersionedObject,
} from './discovery/slice-watcher.js';
export {
  streamWatch,
  type WatchEnd,
  type WatchEvent,
  type WatchEventType,
  type WatchStreamRequest,
} from './discovery/watch-stream.js';
export {
  StaticWorkerDiscovery,
  DEFAULT_LOCAL_WORKERS,
  splitWorkerList,
} from './discovery/static.js';
export type {
  StaticWorkerDiscoveryOptions,
  StaticWorkerEntry,
  StaticWorkerInit,
  HostResolver,
} from './discovery/static.js';
export { EcsWorkerDiscovery } from './discovery/ecs.js';
export type { EcsDiscoveryReport } from './discovery/ecs.js';
export { ecsOptionsFromEnv, ecsDefaults } from './discovery/ecs-settings.js';
export type {
  EcsDiscoveryOptions,
  EcsDiscoveryOverrides,
  EcsCredentials,
  EcsSettingBlame,
} from './discovery/ecs-settings.js';
export { workersFromEcsTasks } from './discovery/ecs-tasks.js';
export type { EcsTaskLike, EcsSkippedTasks, EcsWorkerSelection } from './discovery/ecs-tasks.js';
export {
  createDiscoveryFromEnv,
  parseExecutionEnvironment,
  executionEnvironments,
} from './discovery/from-env.js';
export type {
  ExecutionEnvironment,
  ConfiguredDiscovery,
  CreateDiscoveryOptions,
} from './discovery/from-env.js';
export type { StreamedOutcome, StreamOutcome } from './transport/fragment.js';
export { defaultRetryStatuses } from './transport/classify.js';
export { urlHost, hostPort, originOf, type OriginOptions } from './discovery/urls.js';
export { compatibilityVariable } from './discovery/kubernetes.js';
export type { DiscoveryCompatibility } from './discovery/endpoint-slices.js';
export {
  addressPolicyFromEnv,
  allowedCidrsVariable,
  splitCidrs,
} from './discovery/address-policy.js';
export { redactCredentials } from './discovery/kubernetes-errors.js';
export { defaultMaxWatchLineLength } from './discovery/watch-stream.js';
export type { WorkerTlsOptions } from './transport/dispatcher.js';
