import { quote, type Environment } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { EcsWorkerDiscovery } from './ecs.js';
import type { EcsDiscoveryOverrides } from './ecs-settings.js';
import { KubernetesWorkerDiscovery, type KubernetesDiscoveryOptions } from './kubernetes.js';
import {
  StaticWorkerDiscovery,
  type StaticWorkerDiscoveryOptions,
  type StaticWorkerEntry,
} from './static.js';
import type { WorkerDiscovery } from './worker.js';

/**
 * Where the workers run, as `EXECUTION_ENVIRONMENT` names it.
 *
 * @example
 * ```ts
 * const where: ExecutionEnvironment = 'ecs';
 * ```
 */
export type ExecutionEnvironment = 'kubernetes' | 'ecs' | 'local';

/**
 * A discovery source built from settings, with the refresh interval its settings ask for
 * (`undefined`: use the cache's default).
 *
 * @example
 * ```ts
 * const discovery: ConfiguredDiscovery = createDiscoveryFromEnv();
 * new WorkerCache(discovery, { refreshIntervalMs: discovery.refreshIntervalMs });
 * ```
 */
export type ConfiguredDiscovery = WorkerDiscovery & {
  readonly refreshIntervalMs?: number | undefined;
};

/**
 * Options for {@link createDiscoveryFromEnv}. Everything given here wins over the environment.
 *
 * @example
 * ```ts
 * const options: CreateDiscoveryOptions = { env: process.env, ecs: { port: 7101 } };
 * ```
 */
export interface CreateDiscoveryOptions {
  /** Where settings are read from. Default `process.env`. */
  readonly env?: Environment | undefined;
  /** Overrides `EXECUTION_ENVIRONMENT`. */
  readonly executionEnvironment?: ExecutionEnvironment | undefined;
  /** Explicit Kubernetes settings (`env` and `logger` are filled in). */
  readonly kubernetes?: Omit<KubernetesDiscoveryOptions, 'env'> | undefined;
  /** Explicit ECS settings; the rest come from the environment. */
  readonly ecs?: EcsDiscoveryOverrides | undefined;
  /** An explicit local worker list (overrides `QUERY_WORKERS`) and resolver. */
  readonly local?:
    | (Pick<StaticWorkerDiscoveryOptions, 'resolveHost'> & {
        readonly workers?: readonly StaticWorkerEntry[] | undefined;
      })
    | undefined;
  /** Handed to the source that is built. Silent by default. */
  readonly logger?: Logger | undefined;
}

type Builder = (options: CreateDiscoveryOptions, env: Environment) => ConfiguredDiscovery;

/**
 * One builder per execution environment: a new source is a new entry here, not a new branch
 * in a switch spread through the code.
 */
const builders: Readonly<Record<ExecutionEnvironment, Builder>> = {
  kubernetes: (options, env) =>
    new KubernetesWorkerDiscovery({ logger: options.logger, ...options.kubernetes, env }),
  ecs: (options, env) =>
    EcsWorkerDiscovery.fromEnv(env, { logger: options.logger, ...options.ecs }),
  local: (options, env) => {
    const { workers, resolveHost } = options.local ?? {};
    if (workers === undefined) return StaticWorkerDiscovery.fromEnv(env, { resolveHost });
    return new StaticWorkerDiscovery(workers, { resolveHost, setting: 'local.workers' });
  },
};

/**
 * The accepted `EXECUTION_ENVIRONMENT` values, in the order error messages list them.
 *
 * @example
 * ```ts
 * console.log(executionEnvironments.join(', ')); // 'kubernetes, ecs, local'
 * ```
 */
export const executionEnvironments = Object.keys(builders) as readonly ExecutionEnvironment[];

/**
 * Reads `EXECUTION_ENVIRONMENT` (case and surrounding blanks ignored).
 *
 * There is deliberately no default: falling back to `local` would quietly send production
 * queries to 127.0.0.1, so a missing or unknown value is a {@link ConfigError} listing the
 * accepted ones.
 *
 * @example
 * ```ts
 * parseExecutionEnvironment(process.env.EXECUTION_ENVIRONMENT); // 'ecs'
 * ```
 */
export function parseExecutionEnvironment(
  value: string | undefined,
  setting = 'EXECUTION_ENVIRONMENT',
): ExecutionEnvironment {
  const accepted = executionEnvironments.join(', ');
  const normalized = value?.trim().toLowerCase() ?? '';
  if (normalized === '') {
    throw new ConfigError(
      setting,
      `${setting} is not set: it says where the query workers run; give one of ${accepted}`,
    );
  }

  const found = executionEnvironments.find((name) => name === normalized);
  if (found === undefined) {
    throw new ConfigError(setting, `${setting} is ${quote(value)}: expected one of ${accepted}`);
  }

  return found;
}

/**
 * Builds the worker discovery that `EXECUTION_ENVIRONMENT` selects, from the environment's
 * settings for it (see each source), with explicit options winning.
 *
 * - `kubernetes`: {@link KubernetesWorkerDiscovery} (`POD_NAMESPACE`,
 *   `WORKER_POD_LABEL_SELECTOR`, `QUERY_WORKER_PORT`).
 * - `ecs`: {@link EcsWorkerDiscovery} (`ECS_WORKER_CLUSTER_NAME`, `ECS_WORKER_SERVICE_NAME`,
 *   `QUERY_WORKER_PORT`, `WORKER_POLL_INTERVAL_SECONDS` and the standard AWS variables).
 * - `local`: {@link StaticWorkerDiscovery} (`QUERY_WORKERS`, default `127.0.0.1:8081`).
 *
 * @throws ConfigError when the environment is missing, unknown, or its settings are bad.
 *
 * @example
 * ```ts
 * const discovery = createDiscoveryFromEnv({ env: process.env });
 * const cache = new WorkerCache(discovery, { refreshIntervalMs: discovery.refreshIntervalMs });
 * cache.start();
 * ```
 */
export function createDiscoveryFromEnv(options: CreateDiscoveryOptions = {}): ConfiguredDiscovery {
  const env = options.env ?? process.env;
  const where = options.executionEnvironment ?? env.EXECUTION_ENVIRONMENT;
  const setting = options.executionEnvironment === undefined
    ? 'EXECUTION_ENVIRONMENT'
    : 'executionEnvironment';

  return builders[parseExecutionEnvironment(where, setting)](options, env);
}
