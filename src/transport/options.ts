import type { Picker } from '../balancer/picker.js';
import type { LoadTracker } from '../balancer/load-tracker.js';
import type { PickerOptions } from '../balancer/options.js';
import type { Worker } from '../discovery/worker.js';
import type { Logger } from '../logger.js';
import type { WorkerHealthOptions } from './health.js';
import type { RetryBudgetOptions } from './retry-budget.js';

/**
 * Builds a {@link Picker} from a worker set; called again on every change to the set.
 *
 * @example
 * ```ts
 * const policy: PickerPolicy = (workers) => createPicker('rendezvous', workers);
 * new FragmentDispatcher(cache, { picker: policy });
 * ```
 */
export type PickerPolicy = (workers: readonly Worker[]) => Picker;

/**
 * TLS to workers, for clusters that encrypt pod traffic. The worker's certificate is always
 * verified against `ca`; there is no switch to turn verification off.
 *
 * @example
 * ```ts
 * const tls: WorkerTlsOptions = {
 *   ca: readFileSync('/etc/lakerunner/worker-ca.pem', 'utf8'),
 *   cert: readFileSync('/etc/lakerunner/client.pem', 'utf8'),
 *   key: readFileSync('/etc/lakerunner/client-key.pem', 'utf8'),
 *   servername: 'query-worker.lake.svc',
 * };
 * ```
 */
export interface WorkerTlsOptions {
  /** PEM CA certificate(s) that issued the workers' certificates. Required. */
  readonly ca: string | Buffer | readonly (string | Buffer)[];
  /** PEM client certificate, for workers that demand mutual TLS. Needs `key`. */
  readonly cert?: string | Buffer | undefined;
  /** PEM private key of `cert`. Never logged nor put in an error. */
  readonly key?: string | Buffer | undefined;
  /**
   * The name the workers' certificates are checked against (and sent as SNI), such as the
   * workers' Service name, since pod IPs rarely appear in certificates. Default: the worker's
   * IP address, which its certificate must then list.
   */
  readonly servername?: string | undefined;
}

/**
 * Options for {@link FragmentDispatcher}. Times are in milliseconds.
 *
 * @example
 * ```ts
 * const options: FragmentDispatcherOptions = {
 *   picker: 'rendezvous',
 *   maxAttempts: 3,
 *   connectTimeoutMs: 1_000,
 *   hedgeAfterMs: 250,
 * };
 * ```
 */
export interface FragmentDispatcherOptions {
  /**
   * The balancing policy: a registered name (`'rendezvous'`, `'round-robin'`, …) or a
   * function building a picker for each worker set.
   */
  readonly picker: string | PickerPolicy;
  /** Options for a picker given by name (identity, slow start, zones…). */
  readonly pickerOptions?: Omit<PickerOptions, 'tracker'> | undefined;
  /**
   * Live per-worker load counters, written by the dispatcher for every request and read by
   * load-aware pickers. Default: a tracker of the dispatcher's own.
   */
  readonly tracker?: LoadTracker | undefined;
  /** Attempts per fragment, hedges included. Default 3. */
  readonly maxAttempts?: number | undefined;
  /** Connect timeout for pod addresses: a pod that is gone rarely answers. Default 1,500. */
  readonly connectTimeoutMs?: number | undefined;
  /** How long one attempt may wait for headers, and between body chunks. Default 30,000. */
  readonly attemptTimeoutMs?: number | undefined;
  /** A fragment's whole life, retries and waiting for workers included. Default 60,000. */
  readonly fragmentTimeoutMs?: number | undefined;
  /**
   * How long an idle keep-alive socket is kept. Below Node's server default (5 s), so the
   * client, not the server, closes idle sockets and fewer requests race a closing socket.
   * Default 4,000.
   */
  readonly keepAliveTimeoutMs?: number | undefined;
  /**
   * Speak HTTP/2 to workers (undici `allowH2`). Workers are reached over plain HTTP, so this
   * is h2c with prior knowledge: every worker must accept it. One connection per worker then
   * carries many fragments at once. Default false (HTTP/1.1 with keep-alive).
   */
  readonly allowH2?: boolean | undefined;
  /**
   * Reach workers over HTTPS, verifying their certificates against `tls.ca`, and present a
   * client certificate when `tls.cert` is set. A certificate that does not verify fails the
   * attempt at once (it is not retried on the same worker). Default: plain HTTP.
   */
  readonly tls?: WorkerTlsOptions | undefined;
  /** Statuses retried on another worker. Default 429, 502, 503, 504. */
  readonly retryStatuses?: readonly number[] | undefined;
  /** The largest response body read into memory. Default 64 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Fragments in flight at once across the dispatcher. Default 256. */
  readonly maxInFlight?: number | undefined;
  /** Requests in flight at once to one worker (its pool's connections). Default 64. */
  readonly maxPerWorker?: number | undefined;
  /** Fragments that may wait for a slot; more get a QueueFullError. Default 4,096. */
  readonly maxQueued?: number | undefined;
  /** With no worker known: `wait` (default) until the fragment's deadline, or `fail` at once. */
  readonly whenNoWorkers?: 'wait' | 'fail' | undefined;
  /** Send a copy to the next worker when a fragment has not answered after this. Default off. */
  readonly hedgeAfterMs?: number | undefined;
  /**
   * The most hedged copies in flight at once, as a share of `maxInFlight` (at least one), so
   * that hedging on an overloaded system cannot double its load. Default 0.1.
   */
  readonly maxHedgeShare?: number | undefined;
  /** The dispatcher-wide retry budget; see {@link RetryBudget}. */
  readonly retryBudget?: RetryBudgetOptions | undefined;
  /** Passive health (ejection) settings; see {@link WorkerHealth}. */
  readonly health?: Omit<WorkerHealthOptions, 'now'> | undefined;
  /** The clock for health and ejections. Default `performance.now`. */
  readonly now?: (() => number) | undefined;
  /** Where to log; silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * Options for one {@link FragmentDispatcher.dispatch} call.
 *
 * @example
 * ```ts
 * const outcome = await dispatcher.dispatch(fragment, {
 *   signal: request.signal,
 *   timeoutMs: 5_000,
 * });
 * ```
 */
export interface DispatchOptions {
  /** Cancels the fragment: in-flight requests are aborted and no retry follows. */
  readonly signal?: AbortSignal | undefined;
  /** The query's deadline, from the call; covers queueing, retries and waiting for workers. */
  readonly timeoutMs?: number | undefined;
}

/**
 * Options for {@link FragmentDispatcher.fanOut}.
 *
 * @example
 * ```ts
 * const outcomes = await dispatcher.fanOut(fragments, {
 *   concurrency: 32,
 *   timeoutMs: 10_000,
 *   failFast: true,
 * });
 * ```
 */
export interface FanOutOptions extends DispatchOptions {
  /** Fragments of this fan-out in flight at once. Default: the dispatcher's `maxInFlight`. */
  readonly concurrency?: number | undefined;
  /** Cancel the rest of the fan-out as soon as one fragment has failed for good. */
  readonly failFast?: boolean | undefined;
}
