import { ConfigError } from '../errors.js';
import { workerAddress, type Worker } from '../discovery/worker.js';
import type { LoadTracker } from './load-tracker.js';
import type { TableCache } from './table-cache.js';

/**
 * Which string stands for a worker when hashing (issue 9): it must be the same string the Go
 * coordinators hash, or the two would place keys differently.
 *
 * - `uid`: {@link Worker.id}, the pod UID (or task ARN), else `ip:port`. The default.
 * - `pod-name`: {@link Worker.podName}, else `ip:port`. Matches coordinators that hash
 *   StatefulSet pod names such as `query-worker-0`.
 * - `address`: always `ip:port` (IPv6 in brackets).
 *
 * @example
 * ```ts
 * const identity: IdentitySource = 'pod-name';
 * const picker = createPicker('maglev', workers, { identity });
 * ```
 */
export type IdentitySource = 'uid' | 'pod-name' | 'address';

/**
 * The valid {@link IdentitySource} values, for validation and messages.
 *
 * @example
 * ```ts
 * const given: string = flags.identity;
 * if (!(IDENTITY_SOURCES as readonly string[]).includes(given)) {
 *   throw new Error(`--identity must be one of ${IDENTITY_SOURCES.join(', ')}`);
 * }
 * ```
 */
export const IDENTITY_SOURCES: readonly IdentitySource[] = ['uid', 'pod-name', 'address'];

/**
 * Slow start: a worker the load tracker has just seen gets a share that ramps up linearly
 * from `minFraction` to all of it over `windowMs`, so a cold JVM-like worker is not flooded.
 *
 * @example
 * ```ts
 * const slowStart: SlowStartOptions = { windowMs: 60_000, minFraction: 0.2 };
 * const picker = createPicker('least-request', workers, { tracker, slowStart });
 * ```
 */
export interface SlowStartOptions {
  /** The ramp's length in milliseconds. Required; 0 turns slow start off. */
  readonly windowMs: number;
  /**
   * The share a brand-new worker gets at once, between 0 and 1. Default 0.1 (Envoy's
   * `min_weight_percent` is 10%), so a new worker is warmed by some traffic from the start.
   */
  readonly minFraction?: number | undefined;
}

/**
 * Zone preference: send to ready workers in the coordinator's zone while enough of them are
 * ready, and to all ready workers otherwise. Keys then map within the local zone, so two
 * coordinators in different zones may place one key differently; turn it off for parity.
 *
 * @example
 * ```ts
 * const zonePreference: ZonePreferenceOptions = { zone: 'us-east-1a', minReadyWorkers: 3 };
 * const picker = createPicker('round-robin', workers, { zonePreference });
 * ```
 */
export interface ZonePreferenceOptions {
  /** The coordinator's zone (`topology.kubernetes.io/zone`). */
  readonly zone: string;
  /**
   * Prefer the zone only while at least this fraction of its workers are ready (draining
   * ones count against it). Default 0.5: with half the zone draining, spill over instead of
   * piling onto the rest.
   */
  readonly minReadyFraction?: number | undefined;
  /** …and at least this many of them are ready. Default 2, so one worker never takes a zone. */
  readonly minReadyWorkers?: number | undefined;
}

/**
 * Options for {@link createPicker}. Each policy reads those that make sense for it and
 * ignores the rest, so one options object can follow a policy change in configuration.
 *
 * @example
 * ```ts
 * const options: PickerOptions = {
 *   tracker,
 *   identity: 'pod-name',
 *   slowStart: { windowMs: 30_000 },
 *   zonePreference: { zone: 'us-east-2a' },
 * };
 * ```
 */
export interface PickerOptions {
  /** Shared live load counters. Default: a tracker private to the picker (no shared load). */
  readonly tracker?: LoadTracker | undefined;
  /** Which worker string to hash. Default `uid`. See {@link IdentitySource}. */
  readonly identity?: IdentitySource | undefined;
  /**
   * Random numbers in [0, 1): round-robin's starting offset, least-request's generator seed,
   * keyless picks on hashing policies. Default Math.random; pass a seeded one in tests.
   */
  readonly random?: (() => number) | undefined;
  /** Slow start for new workers. Default off. */
  readonly slowStart?: SlowStartOptions | undefined;
  /** Prefer workers in the coordinator's zone. Default off. */
  readonly zonePreference?: ZonePreferenceOptions | undefined;
  /** Where Maglev and ring keep built tables. Default: one cache shared by the process. */
  readonly tableCache?: TableCache | undefined;
  /** Maglev: lookup table size, a prime. Default 65537, grown past 100 × workers. */
  readonly tableSize?: number | undefined;
  /** Ring: virtual nodes per worker. Default 160. */
  readonly virtualNodes?: number | undefined;
  /** Ring: bounded-load factor c ≥ 1 (capacity = ceil(c × average)). Default off. */
  readonly loadFactor?: number | undefined;
  /** Least-request: weigh in-flight counts by peak-EWMA latency. Default false. */
  readonly latencyWeighted?: boolean | undefined;
}

/**
 * The string hashed for `worker` under `source` (see {@link IdentitySource}).
 *
 * @example
 * ```ts
 * workerIdentity({ id: 'u1', ip: '10.0.0.7', port: 7101, state: 'ready' }, 'address');
 * // '10.0.0.7:7101'
 * ```
 */
export function workerIdentity(worker: Worker, source: IdentitySource = 'uid'): string {
  if (source === 'uid' && worker.id !== '') return worker.id;
  if (source === 'pod-name' && worker.podName) return worker.podName;
  return workerAddress(worker);
}

/**
 * Throws a {@link ConfigError} unless `identity` is a known {@link IdentitySource}.
 *
 * @example
 * ```ts
 * checkIdentity(undefined); // 'uid'
 * ```
 */
export function checkIdentity(identity: unknown): IdentitySource {
  if (identity === undefined) return 'uid';
  if (IDENTITY_SOURCES.includes(identity as IdentitySource)) return identity as IdentitySource;
  throw new ConfigError(
    'identity',
    `identity ${JSON.stringify(identity)} is not one of ${IDENTITY_SOURCES.join(', ')}`,
  );
}

/**
 * Throws a {@link ConfigError} naming `option` unless `value` is a number in [min, max].
 *
 * @example
 * ```ts
 * checkRange('loadFactor', 1.25, 1, 100); // 1.25
 * ```
 */
export function checkRange(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new ConfigError(option, `${option} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/**
 * Throws a {@link ConfigError} naming `option` unless `value` is an integer in [min, max].
 *
 * @example
 * ```ts
 * checkInteger('virtualNodes', 160, 1, 10_000); // 160
 * ```
 */
export function checkInteger(option: string, value: number, min: number, max: number): number {
  checkRange(option, value, min, max);
  if (!Number.isInteger(value)) {
    throw new ConfigError(option, `${option} must be an integer, got ${value}`);
  }
  return value;
}
