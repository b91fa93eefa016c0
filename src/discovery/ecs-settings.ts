import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  addressPolicyFromEnv,
  allowedCidrsVariable,
  type AddressPolicy,
} from './address-policy.js';
import {
  firstGiven,
  missingSetting,
  isPort,
  parsePort,
  parsePositiveInteger,
  quote,
  type Environment,
} from '../config.js';
import { readEnv } from './env-settings.js';

/**
 * Static AWS credentials, for tests and for setups that do not use the standard chain.
 *
 * @example
 * ```ts
 * const credentials: EcsCredentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
 * ```
 */
export interface EcsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/**
 * How to find worker tasks on Amazon ECS. Only `cluster` and `service` are required; AWS
 * settings left out come from the SDK's standard chains (environment, shared config files,
 * the ECS task role).
 *
 * @example
 * ```ts
 * const options: EcsDiscoveryOptions = { cluster: 'lakerunner', service: 'query-worker' };
 * ```
 */
export interface EcsDiscoveryOptions {
  /** The cluster's name or ARN (`ECS_WORKER_CLUSTER_NAME`). */
  readonly cluster: string;
  /** The worker service's name (`ECS_WORKER_SERVICE_NAME`). */
  readonly service: string;
  /** The port every worker task listens on (`QUERY_WORKER_PORT`). Default 8081. */
  readonly port?: number | undefined;
  /**
   * How often a cache should re-list (`WORKER_POLL_INTERVAL_SECONDS`), in milliseconds.
   * Default 10,000. Each poll costs one ListTasks per 100 tasks and one DescribeTasks per 100.
   */
  readonly refreshIntervalMs?: number | undefined;
  /** AWS region. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the SDK's chain. */
  readonly region?: string | undefined;
  /**
   * Endpoint override, such as a VPC endpoint or a test fake. Default: `AWS_ENDPOINT_URL_ECS`,
   * then `AWS_ENDPOINT_URL` (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else AWS's.
   */
  readonly endpoint?: string | undefined;
  /** Static credentials. Default: the SDK's standard credential chain. */
  readonly credentials?: EcsCredentials | undefined;
  /** Retries after throttling or an ECS server error, per API call. Default 4. */
  readonly retries?: number | undefined;
  /** First delay before such a retry; doubles with jitter. Default 250 ms. */
  readonly minRetryDelayMs?: number | undefined;
  /** Longest delay between such retries. Default 5,000 ms. */
  readonly maxRetryDelayMs?: number | undefined;
  /** How long one API request may take before it fails as a timeout. Default 10,000 ms. */
  readonly requestTimeoutMs?: number | undefined;
  /**
   * Which task addresses may become workers. Default `createAddressPolicy()`: loopback,
   * link-local (the metadata service), multicast and unspecified addresses are refused.
   * {@link ecsOptionsFromEnv} adds the allow-list from `WORKER_ALLOWED_CIDRS` when it is set.
   */
  readonly addressPolicy?: AddressPolicy | undefined;
  /** Where to log retries; silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * The variables each ECS setting is read from, preferred name first.
 *
 * @example
 * ```ts
 * console.log(ecsSettingNames.cluster[0]); // 'ECS_WORKER_CLUSTER_NAME'
 * ```
 */
export const ecsSettingNames = {
  cluster: ['ECS_WORKER_CLUSTER_NAME', 'QUERY_WORKER_CLUSTER_NAME'],
  service: ['ECS_WORKER_SERVICE_NAME', 'QUERY_WORKER_SERVICE_NAME'],
  port: ['QUERY_WORKER_PORT'],
  pollInterval: ['WORKER_POLL_INTERVAL_SECONDS'],
} as const;

/**
 * Defaults for ECS discovery.
 *
 * @example
 * ```ts
 * console.log(ecsDefaults.port); // 8081
 * ```
 */
export const ecsDefaults = {
  port: 8081,
  refreshIntervalMs: 10_000,
  retries: 4,
  minRetryDelayMs: 250,
  maxRetryDelayMs: 5_000,
  requestTimeoutMs: 10_000,
} as const;

const namePattern = /^[A-Za-z0-9_-]{1,255}$/;
const clusterArnPattern =
  /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster\/[A-Za-z0-9_-]{1,255}$/;

/**
 * Explicit settings for {@link ecsOptionsFromEnv}: any option, each winning over its
 * variable; `undefined` means "read the environment".
 *
 * @example
 * ```ts
 * const overrides: EcsDiscoveryOverrides = { port: 7101, cluster: undefined };
 * ```
 */
export type EcsDiscoveryOverrides = {
  readonly [K in keyof EcsDiscoveryOptions]?: EcsDiscoveryOptions[K] | undefined;
};

/**
 * The name to blame in errors for each explicit setting. The CLI passes its flag names, so a
 * bad `--query-worker-port` is reported as that flag. Default: the option's own name.
 *
 * @example
 * ```ts
 * const names: EcsSettingBlame = { port: '--query-worker-port' };
 * ```
 */
export type EcsSettingBlame = Partial<Record<keyof EcsDiscoveryOptions, string>>;

/**
 * Reads ECS discovery settings from the environment; `overrides` (options or CLI flags) win
 * over the environment. Every value is validated here, so a typo fails at start-up with the
 * name of the variable (or option, or flag) rather than as an odd API error later.
 *
 * Besides the worker settings, the standard AWS variables are read from `env` too (region,
 * endpoint override, and static keys in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), exactly
 * as the SDK would read them from `process.env`, so an `env` other than `process.env` is
 * honoured whole. Anything not found there is left to the SDK's chains.
 *
 * @throws ConfigError naming the variable, the value at fault and the form expected.
 *
 * @example
 * ```ts
 * const options = ecsOptionsFromEnv(process.env, { port: 7101 });
 * const discovery = new EcsWorkerDiscovery(options);
 * ```
 */
export function ecsOptionsFromEnv(
  env: Environment,
  overrides: EcsDiscoveryOverrides = {},
  names: EcsSettingBlame = {},
): EcsDiscoveryOptions {
  const cluster = overrides.cluster ?? required(env, ecsSettingNames.cluster, 'lakerunner');
  const service = overrides.service ?? required(env, ecsSettingNames.service, 'query-worker');

  const port = readEnv(env, ecsSettingNames.port);
  const poll = readEnv(env, ecsSettingNames.pollInterval);
  const options: EcsDiscoveryOptions = {
    ...overrides,
    cluster,
    service,
    port: overrides.port ?? (port ? parsePort(port) : undefined),
    refreshIntervalMs:
      overrides.refreshIntervalMs ??
      (poll ? parsePositiveInteger(poll, 'seconds') * 1000 : undefined),
    region: overrides.region ?? firstSet(env, ['AWS_REGION', 'AWS_DEFAULT_REGION']),
    endpoint: overrides.endpoint ?? endpointFromEnv(env),
    credentials: overrides.credentials ?? credentialsFromEnv(env),
    addressPolicy: overrides.addressPolicy ??
      (env[allowedCidrsVariable]?.trim() ? addressPolicyFromEnv(env) : undefined),
  };

  validateEcsOptions(options, blameFor(env, overrides, names));
  return options;
}

/**
 * Checks options with the same rules as the environment. Errors blame `names[option]` when
 * given, else the option's own name.
 *
 * @throws ConfigError
 *
 * @example
 * ```ts
 * validateEcsOptions({ cluster: 'lakerunner', service: 'query-worker', port: 7101 });
 * ```
 */
export function validateEcsOptions(
  options: EcsDiscoveryOptions,
  names: EcsSettingBlame = {},
): void {
  const { cluster, service, port, refreshIntervalMs, endpoint, region } = options;
  const bad = (option: keyof EcsDiscoveryOptions, value: unknown, expected: string) => {
    const setting = names[option] ?? option;
    return new ConfigError(setting, `${setting} is ${quote(value)}: expected ${expected}`);
  };

  const clusterOk = namePattern.test(cluster) || clusterArnPattern.test(cluster);
  if (typeof cluster !== 'string' || !clusterOk) {
    throw bad('cluster', cluster, 'a cluster name (letters, digits, - and _) or a cluster ARN');
  }

  if (typeof service !== 'string' || !namePattern.test(service)) {
    throw bad('service', service, 'a service name (letters, digits, - and _)');
  }

  if (port !== undefined && !isPort(port)) {
    throw bad('port', port, 'a whole number from 1 to 65535');
  }

  if (refreshIntervalMs !== undefined && !(refreshIntervalMs >= 1000)) {
    throw bad('refreshIntervalMs', refreshIntervalMs, 'at least 1000 (one second)');
  }

  if (region !== undefined && !/^[a-z0-9-]{1,64}$/.test(region)) {
    throw bad('region', region, 'an AWS region such as us-east-1');
  }

  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw bad('endpoint', endpoint, 'an http:// or https:// URL');
  }

  const counts = ['retries', 'minRetryDelayMs', 'maxRetryDelayMs', 'requestTimeoutMs'] as const;
  for (const key of counts) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw bad(key, value, 'a whole number, 0 or more');
    }
  }
}

/** For each setting: the flag or option when it was given explicitly, else the variable read. */
function blameFor(
  env: Environment,
  overrides: EcsDiscoveryOverrides,
  names: EcsSettingBlame,
): EcsSettingBlame {
  const pick = (option: keyof EcsDiscoveryOptions, variables: readonly string[]) =>
    overrides[option] !== undefined
      ? (names[option] ?? option)
      : (firstGiven(...variables.map((name) => ({ name, value: env[name] })))?.name ?? option);

  return {
    ...names,
    cluster: pick('cluster', ecsSettingNames.cluster),
    service: pick('service', ecsSettingNames.service),
    region: pick('region', ['AWS_REGION', 'AWS_DEFAULT_REGION']),
    endpoint: pick('endpoint', ['AWS_ENDPOINT_URL_ECS', 'AWS_ENDPOINT_URL']),
  };
}

/** Static keys from the environment, as the SDK's first credential provider reads them. */
function credentialsFromEnv(env: Environment): EcsCredentials | undefined {
  const accessKeyId = firstSet(env, ['AWS_ACCESS_KEY_ID']);
  const secretAccessKey = firstSet(env, ['AWS_SECRET_ACCESS_KEY']);
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;

  const sessionToken = firstSet(env, ['AWS_SESSION_TOKEN']);
  return { accessKeyId, secretAccessKey, sessionToken };
}

function required(env: Environment, names: readonly string[], example: string): string {
  const found = readEnv(env, names);
  if (found) return found.value;
  throw missingSetting(names, example);
}

function firstSet(env: Environment, names: readonly string[]): string | undefined {
  const given = firstGiven(...names.map((name) => ({ name, value: env[name] })));
  return given === undefined ? undefined : String(given.value).trim();
}

/** The SDK's own rule for endpoint variables, applied to the environment we were given. */
function endpointFromEnv(env: Environment): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.trim().toLowerCase() === 'true') return undefined;

  for (const name of ['AWS_ENDPOINT_URL_ECS', 'AWS_ENDPOINT_URL']) {
    const value = firstSet(env, [name]);
    if (value === undefined) continue;
    if (!isHttpUrl(value)) {
      throw new ConfigError(
        name,
        `${name} is ${quote(value)}: expected an http:// or https:// URL, ` +
          'such as https://ecs.us-east-1.amazonaws.com',
      );
    }
    return value;
  }

  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
