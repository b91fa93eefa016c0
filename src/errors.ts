/**
 * Every error this package throws on purpose is a {@link LakerunnerError} with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages.
 *
 * @example
 * ```ts
 * try {
 *   await cache.ready();
 * } catch (err) {
 *   if (!(err instanceof LakerunnerError)) throw err;
 *   if (err.code === 'ERR_LAKERUNNER_NOT_READY') console.error('no workers yet:', err.message);
 *   else console.error(err.code, err.message);
 * }
 * ```
 */
export class LakerunnerError extends Error {
  /** A stable, machine-readable identifier such as `ERR_LAKERUNNER_CONFIG`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A setting (environment variable, option or CLI flag) is missing or malformed.
 *
 * The message names the setting, shows the value at fault and says what a valid one looks like.
 *
 * @example
 * ```ts
 * try {
 *   kubernetesSettings({ env: process.env });
 * } catch (err) {
 *   if (err instanceof ConfigError) console.error(err.setting, err.message);
 * }
 * ```
 */
export class ConfigError extends LakerunnerError {
  /** The variable, option or flag at fault, for example `QUERY_WORKER_PORT`. */
  readonly setting: string;

  constructor(setting: string, message: string) {
    super('ERR_LAKERUNNER_CONFIG', message);
    this.setting = setting;
  }
}

/**
 * Why discovery failed, so callers can tell a bad credential from an unreachable server.
 *
 * @example
 * ```ts
 * const needsOperator: readonly DiscoveryFailure[] = ['config', 'unauthorized', 'forbidden'];
 * if (err instanceof DiscoveryError && needsOperator.includes(err.reason)) {
 *   console.error('fix the cluster access settings:', err.message);
 * }
 * ```
 */
export type DiscoveryFailure =
  | 'config'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'gone'
  | 'throttled'
  | 'server'
  | 'timeout'
  | 'unreachable'
  | 'malformed'
  | 'too-large'
  | 'aborted'
  | 'unavailable';

/**
 * A discovery source could not produce the worker list: the cluster API refused, failed or
 * could not be reached. The message says what failed, where, and what to do about it; it never
 * contains credentials.
 *
 * @example
 * ```ts
 * try {
 *   await discovery.getWorkers();
 * } catch (err) {
 *   if (!(err instanceof DiscoveryError)) throw err;
 *   if (err.reason === 'forbidden') console.error(`RBAC on ${err.server}:`, err.message);
 *   else if (err.retryAfterSeconds !== undefined) {
 *     console.warn(`server busy; retry in ${err.retryAfterSeconds} s`);
 *   }
 * }
 * ```
 */
export class DiscoveryError extends LakerunnerError {
  /** What kind of failure this is. */
  readonly reason: DiscoveryFailure;
  /** The HTTP status from the API server, when there was one. */
  readonly status: number | undefined;
  /** The API server (or ECS endpoint) that was asked, when known. */
  readonly server: string | undefined;
  /** Seconds the server asked us to wait before trying again (`Retry-After`), when given. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    reason: DiscoveryFailure,
    message: string,
    details: {
      status?: number | undefined;
      server?: string | undefined;
      retryAfterSeconds?: number | undefined;
    } = {},
  ) {
    super('ERR_LAKERUNNER_DISCOVERY', message);
    this.reason = reason;
    this.status = details.status;
    this.server = details.server;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/**
 * The caller's signal aborted the operation. `cause` holds the signal's reason.
 *
 * @example
 * ```ts
 * try {
 *   await discovery.getWorkers({ signal: AbortSignal.timeout(2_000) });
 * } catch (err) {
 *   if (err instanceof AbortedError) console.warn('lookup cancelled:', err.cause);
 *   else throw err;
 * }
 * ```
 */
export class AbortedError extends LakerunnerError {
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super('ERR_LAKERUNNER_ABORTED', message, options);
  }
}
