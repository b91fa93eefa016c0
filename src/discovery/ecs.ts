import pRetry from 'p-retry';
import type { Environment } from '../config.js';
import { AbortedError, DiscoveryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { loadEcsSdk } from './ecs-sdk.js';
import {
  ecsFailure,
  ecsTimeout,
  isRetryableEcsFailure,
  type EcsCallContext,
} from './ecs-errors.js';
import {
  ecsDefaults,
  ecsOptionsFromEnv,
  validateEcsOptions,
  type EcsCredentials,
  type EcsDiscoveryOptions,
  type EcsDiscoveryOverrides,
} from './ecs-settings.js';
import {
  workersFromEcsTasks,
  type EcsSkippedTasks,
  type EcsTaskLike,
  type EcsWorkerSelection,
} from './ecs-tasks.js';
import { RefusalLog, createAddressPolicy, type AddressPolicy } from './address-policy.js';
import type { GetWorkersOptions, Worker, WorkerDiscovery } from './worker.js';

/**
 * What the latest successful lookup saw, so a tool can explain an empty or short worker list
 * ("3 tasks are PENDING", "2 tasks have no private IPv4 address").
 *
 * @example
 * ```ts
 * const report = discovery.lastReport();
 * if (report && report.workers === 0) console.log(report.byLastStatus, report.skipped);
 * ```
 */
export interface EcsDiscoveryReport {
  readonly cluster: string;
  readonly service: string;
  readonly port: number;
  /** When the lookup finished, in ms since the epoch. */
  readonly at: number;
  /** Task ARNs ListTasks returned (desired status RUNNING). */
  readonly listedTasks: number;
  /** Tasks DescribeTasks returned. */
  readonly describedTasks: number;
  /** Listed tasks that DescribeTasks no longer knew (stopped in between). */
  readonly missingTasks: number;
  /** Workers returned. */
  readonly workers: number;
  /** Described tasks left out, by reason. */
  readonly skipped: EcsSkippedTasks;
  /** Described tasks by `lastStatus`. */
  readonly byLastStatus: Readonly<Record<string, number>>;
  /** Addresses the address policy refused, by reason. */
  readonly refusals: EcsWorkerSelection['refusals'];
  /** The address policy in force, described. */
  readonly addressPolicy: string;
}

/** The two SDK calls this source makes, narrowed so the SDK's types stay out of our API. */
interface EcsApi {
  listTasks(input: ListTasksInput, signal: AbortSignal): Promise<ListTasksOutput>;
  describeTasks(input: DescribeTasksInput, signal: AbortSignal): Promise<DescribeTasksOutput>;
  destroy(): void;
}

interface ListTasksInput {
  cluster: string;
  serviceName: string;
  desiredStatus: 'RUNNING';
  maxResults: number;
  nextToken?: string | undefined;
}
interface ListTasksOutput {
  taskArns?: string[] | undefined;
  nextToken?: string | undefined;
}
interface DescribeTasksInput {
  cluster: string;
  tasks: string[];
}
interface DescribeTasksOutput {
  tasks?: EcsTaskLike[] | undefined;
  failures?: unknown[] | undefined;
}

/** ECS's limit on ARNs per DescribeTasks call (and per ListTasks page). */
const batchSize = 100;

/**
 * Finds query workers among the running tasks of an Amazon ECS service.
 *
 * Each lookup lists the service's tasks whose desired status is RUNNING (following
 * `nextToken`), describes them 100 at a time, and keeps tasks that are RUNNING and not
 * UNHEALTHY, at the private IPv4 of their ENI (`awsvpc` network mode) and `port`. The task ARN
 * is the worker id. Throttling and ECS server errors are retried with jittered backoff, a few
 * times per call; other failures become a {@link DiscoveryError} at once.
 *
 * `@aws-sdk/client-ecs` is an optional peer dependency, loaded on the first lookup, so users
 * of other sources never install it. Region, credentials and endpoint follow the SDK's
 * standard chains unless given as options. The identity needs `ecs:ListTasks` and
 * `ecs:DescribeTasks`.
 *
 * @example
 * ```ts
 * const discovery = EcsWorkerDiscovery.fromEnv(process.env);
 * const cache = new WorkerCache(discovery, { refreshIntervalMs: discovery.refreshIntervalMs });
 * cache.start();
 * ```
 */
export class EcsWorkerDiscovery implements WorkerDiscovery {
  /** Always `ecs`. */
  readonly kind = 'ecs';
  /** How often a cache should re-list, from `WORKER_POLL_INTERVAL_SECONDS` (default 10 s). */
  readonly refreshIntervalMs: number;
  /** The port workers listen on, from `QUERY_WORKER_PORT` (default 8081). */
  readonly port: number;
  /** The cluster asked. */
  readonly cluster: string;
  /** The service whose tasks are workers. */
  readonly service: string;

  readonly #options: EcsDiscoveryOptions;
  readonly #logger: Logger;
  readonly #addressPolicy: AddressPolicy;
  readonly #refusalLog: RefusalLog;
  #api: Promise<EcsApi> | undefined;
  #report: EcsDiscoveryReport | undefined;
  #closed = false;

  /**
   * @throws ConfigError when an option is malformed.
   */
  constructor(options: EcsDiscoveryOptions) {
    validateEcsOptions(options);
    this.#options = options;
    this.cluster = options.cluster;
    this.service = options.service;
    this.port = options.port ?? ecsDefaults.port;
    this.refreshIntervalMs = options.refreshIntervalMs ?? ecsDefaults.refreshIntervalMs;
    this.#logger = options.logger ?? silentLogger;
    this.#addressPolicy = options.addressPolicy ?? createAddressPolicy();
    this.#refusalLog = new RefusalLog(this.#logger, 'ecs');
  }

  /**
   * Reads the settings from the environment (see {@link ecsOptionsFromEnv}); `overrides` win.
   *
   * @example
   * ```ts
   * const discovery = EcsWorkerDiscovery.fromEnv(process.env, { port: 7101 });
   * ```
   */
  static fromEnv(
    env: Environment = process.env,
    overrides: EcsDiscoveryOverrides = {},
  ): EcsWorkerDiscovery {
    return new EcsWorkerDiscovery(ecsOptionsFromEnv(env, overrides));
  }

  /**
   * Lists the service's workers now. Rejects with a {@link DiscoveryError} (with a `reason`
   * such as `forbidden` or `throttled`) or an {@link AbortedError}.
   *
   * @example
   * ```ts
   * const workers = await discovery.getWorkers({ signal: AbortSignal.timeout(10_000) });
   * ```
   */
  async getWorkers(options: GetWorkersOptions = {}): Promise<Worker[]> {
    const signal = options.signal ?? new AbortController().signal;
    throwIfAborted(signal);
    if (this.#closed) {
      throw new DiscoveryError('unavailable', 'this ECS worker discovery has been closed');
    }

    const api = await this.#getApi();
    if (this.#closed) {
      // close() ran while the SDK was loading: do not keep a client nobody will destroy.
      api.destroy();
      throw new DiscoveryError('unavailable', 'this ECS worker discovery has been closed');
    }

    const arns = await this.#listTaskArns(api, signal);
    const { tasks, missing } = await this.#describeTasks(api, arns, signal);
    const selection = workersFromEcsTasks(tasks, this.port, this.#addressPolicy);
    this.#refusalLog.note(selection.refused);

    this.#report = {
      cluster: this.cluster,
      service: this.service,
      port: this.port,
      at: Date.now(),
      listedTasks: arns.length,
      describedTasks: tasks.length,
      missingTasks: missing,
      workers: selection.workers.length,
      skipped: selection.skipped,
      byLastStatus: selection.byLastStatus,
      refusals: selection.refusals,
      addressPolicy: this.#addressPolicy.description,
    };
    return selection.workers;
  }

  /**
   * What the latest successful lookup saw; `undefined` before the first one.
   *
   * @example
   * ```ts
   * console.log(discovery.lastReport()?.skipped.noAddress);
   * ```
   */
  lastReport(): EcsDiscoveryReport | undefined {
    return this.#report;
  }

  /**
   * Releases the SDK client's connections. Later lookups fail.
   *
   * @example
   * ```ts
   * await discovery.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    const api = this.#api;
    this.#api = undefined;
    if (api) (await api.catch(() => undefined))?.destroy();
  }

  #getApi(): Promise<EcsApi> {
    // A failed load is not cached: the package may be installed while the process runs.
    this.#api ??= this.#createApi().catch((err: unknown) => {
      this.#api = undefined;
      throw err;
    });
    return this.#api;
  }

  async #createApi(): Promise<EcsApi> {
    const sdk = await loadEcsSdk();
    const { region, endpoint, credentials } = this.#options;
    const timeoutMs = this.#options.requestTimeoutMs ?? ecsDefaults.requestTimeoutMs;

    const client = new sdk.ECSClient({
      ...(region === undefined ? {} : { region }),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(credentials === undefined ? {} : { credentials: staticCredentials(credentials) }),
      // Retries are ours (bounded, abortable, logged), so the SDK must not multiply them.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: timeoutMs },
    });

    return {
      listTasks: (input, signal) =>
        client.send(new sdk.ListTasksCommand(input), { abortSignal: signal }),
      describeTasks: (input, signal) =>
        client.send(new sdk.DescribeTasksCommand(input), { abortSignal: signal }),
      destroy: () => client.destroy(),
    };
  }

  async #listTaskArns(api: EcsApi, signal: AbortSignal): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;

    do {
      const input: ListTasksInput = {
        cluster: this.cluster,
        serviceName: this.service,
        desiredStatus: 'RUNNING',
        maxResults: batchSize,
        nextToken,
      };
      const list = (callSignal: AbortSignal) => api.listTasks(input, callSignal);
      const page = await this.#call('ListTasks', signal, list);
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken || undefined;
    } while (nextToken !== undefined);

    return arns;
  }

  async #describeTasks(
    api: EcsApi,
    arns: readonly string[],
    signal: AbortSignal,
  ): Promise<{ tasks: EcsTaskLike[]; missing: number }> {
    const tasks: EcsTaskLike[] = [];
    let missing = 0;

    // One batch at a time: gentler on the account's ECS rate limit than a burst.
    for (let start = 0; start < arns.length; start += batchSize) {
      const input = { cluster: this.cluster, tasks: arns.slice(start, start + batchSize) };
      const describe = (callSignal: AbortSignal) => api.describeTasks(input, callSignal);
      const page = await this.#call('DescribeTasks', signal, describe);
      tasks.push(...(page.tasks ?? []));
      missing += page.failures?.length ?? 0;
    }

    return { tasks, missing };
  }

  async #call<T>(
    operation: EcsCallContext['operation'],
    signal: AbortSignal,
    send: (callSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const retries = this.#options.retries ?? ecsDefaults.retries;
    const timeoutMs = this.#options.requestTimeoutMs ?? ecsDefaults.requestTimeoutMs;
    const context = {
      operation,
      cluster: this.cluster,
      service: this.service,
      server: this.#server(),
      attempts: retries + 1,
    };

    try {
      return await pRetry(
        async (attempt) => {
          // Our own deadline per request: it holds whatever the SDK's handler options mean
          // in a given version, and tells a timeout apart from the caller giving up.
          const deadline = AbortSignal.timeout(timeoutMs);
          try {
            return await send(AbortSignal.any([signal, deadline]));
          } catch (err) {
            if (!signal.aborted && deadline.aborted) {
              throw ecsTimeout({ ...context, attempt }, timeoutMs);
            }
            throw ecsFailure(err, { ...context, attempt }, signal);
          }
        },
        {
          retries,
          minTimeout: this.#options.minRetryDelayMs ?? ecsDefaults.minRetryDelayMs,
          maxTimeout: this.#options.maxRetryDelayMs ?? ecsDefaults.maxRetryDelayMs,
          randomize: true,
          signal,
          shouldRetry: ({ error }) => isRetryableEcsFailure(error),
          onFailedAttempt: ({ error, attemptNumber, retriesLeft, retryDelay }) => {
            if (!isRetryableEcsFailure(error) || retriesLeft === 0) return;
            this.#logger.warn(
              { operation, attempt: attemptNumber, retriesLeft, retryDelayMs: retryDelay },
              `ECS ${operation} failed, retrying: ${error.message}`,
            );
          },
        },
      );
    } catch (err) {
      throw ecsFailure(err, { ...context, attempt: context.attempts }, signal);
    }
  }

  /** The endpoint for error messages: the override, else AWS's regional host when known. */
  #server(): string | undefined {
    const { endpoint, region } = this.#options;
    if (endpoint !== undefined) return endpoint;
    if (region === undefined) return undefined;
    return `https://ecs.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  }
}

function staticCredentials(credentials: EcsCredentials): {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
} {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  return sessionToken === undefined
    ? { accessKeyId, secretAccessKey }
    : { accessKeyId, secretAccessKey, sessionToken };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw new AbortedError('ECS worker discovery was aborted', { cause: signal.reason });
  }
}
