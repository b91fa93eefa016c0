import { hostPort, originOf } from './urls.js';

/**
 * `ready` workers take new fragments. `draining` workers are shutting down but still serving:
 * they finish what they have and are picked only when no ready worker remains.
 *
 * @example
 * ```ts
 * const counts: Record<WorkerState, number> = { ready: 0, draining: 0 };
 * for (const worker of cache.workers()) counts[worker.state] += 1;
 * ```
 */
export type WorkerState = 'ready' | 'draining';

/**
 * One query worker: an address that answers query fragments.
 *
 * @example
 * ```ts
 * const worker: Worker = { id: '10.0.0.7:7101', ip: '10.0.0.7', port: 7101, state: 'ready' };
 * ```
 */
export interface Worker {
  /**
   * A stable identity: the pod UID from the endpoint's `targetRef` when present (ECS: the task
   * ARN), else `ip:port`. Balancers hash this, so a worker keeps its keys across address moves.
   */
  readonly id: string;
  /** The address to send fragments to (IPv4 by default). */
  readonly ip: string;
  /** The port to send fragments to. */
  readonly port: number;
  /** Whether the worker takes new fragments; see {@link WorkerState}. */
  readonly state: WorkerState;
  /** The pod's name, when the source knows it. */
  readonly podName?: string | undefined;
  /** The node the pod runs on, when the source knows it. */
  readonly nodeName?: string | undefined;
  /** The worker's zone (topology.kubernetes.io/zone), when known. */
  readonly zone?: string | undefined;
}

/**
 * Options accepted by {@link WorkerDiscovery.getWorkers}.
 *
 * @example
 * ```ts
 * const options: GetWorkersOptions = { signal: AbortSignal.timeout(5_000) };
 * const workers = await discovery.getWorkers(options);
 * ```
 */
export interface GetWorkersOptions {
  /** Cancels the lookup; the promise then rejects with an `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What a watching source tells its consumer (usually a `WorkerCache`). The source keeps itself
 * current and retries on its own; these calls only report.
 *
 * @example
 * ```ts
 * const watch = discovery.watch?.({
 *   onWorkers: (workers) => console.log(`${workers.length} workers`),
 *   onSynced: () => undefined,
 *   onError: (error) => console.warn(error.message),
 * });
 * ```
 */
export interface WorkerWatchHandlers {
  /** The whole current worker set, after a list or a change event. */
  onWorkers(workers: Worker[]): void;
  /** The source confirmed it is current without a change (a bookmark, a watch opening). */
  onSynced(): void;
  /** Something failed; the source keeps its last state and retries with backoff. */
  onError(error: Error): void;
}

/**
 * A running watch started by {@link WorkerDiscovery.watch}.
 *
 * @example
 * ```ts
 * const watch = discovery.watch?.(handlers);
 * watch?.relist('a worker refused connections');
 * await watch?.close();
 * ```
 */
export interface WorkerWatch {
  /** Asks for a full re-list soon (after the current backoff, if any). */
  relist(reason?: string): void;
  /** Stops the watch and every timer it holds; resolves once nothing is left running. */
  close(): Promise<void>;
}

/**
 * A source of workers: Kubernetes, ECS or a static list. One small interface, so the rest of
 * the SDK does not care where workers come from.
 *
 * @example
 * ```ts
 * const discovery: WorkerDiscovery = new StaticWorkerDiscovery(['127.0.0.1:7101']);
 * const workers = await discovery.getWorkers({ signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface WorkerDiscovery {
  /** A short name for logs and the CLI, such as `kubernetes` or `local`. */
  readonly kind: string;
  /** Fetches the current workers, in a stable order. */
  getWorkers(options?: GetWorkersOptions): Promise<Worker[]>;
  /**
   * Starts pushing worker sets as they change (list, then watch). Optional: a cache uses it
   * when present and polls {@link getWorkers} otherwise. Each call starts an independent watch.
   */
  watch?(handlers: WorkerWatchHandlers): WorkerWatch;
  /** Releases anything the source holds (watches, clients). Optional. */
  close?(): Promise<void>;
}

/**
 * Compares workers for a stable order: by IP as text, then port, then id.
 *
 * @example
 * ```ts
 * const ordered = [...(await discovery.getWorkers())].sort(compareWorkers);
 * ```
 */
export function compareWorkers(a: Worker, b: Worker): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/**
 * `ip:port` as it appears in URLs and reports, with IPv6 addresses in brackets.
 *
 * @example
 * ```ts
 * workerAddress({ ip: 'fd00:10:244::7', port: 8080 }); // '[fd00:10:244::7]:8080'
 * ```
 */
export function workerAddress(worker: Pick<Worker, 'ip' | 'port'>): string {
  return hostPort(worker.ip, worker.port);
}

/**
 * The `http://host:port` origin of a worker, built with the URL class, never by hand.
 *
 * @throws {ConfigError} when the worker's address or port cannot go in a URL.
 * @example
 * ```ts
 * workerOrigin({ ip: 'fd00:10:244::7', port: 8080 }); // 'http://[fd00:10:244::7]:8080'
 * ```
 */
export function workerOrigin(
  worker: Pick<Worker, 'ip' | 'port'>,
  protocol: 'http:' | 'https:' = 'http:',
): string {
  return originOf(protocol, worker.ip, worker.port, { setting: 'worker.ip' });
}
