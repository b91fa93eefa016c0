import { ConfigError } from '../errors.js';

/**
 * The environment a discovery source reads its settings from: `process.env` in production,
 * a plain object in tests and in the CLI.
 *
 * @example
 * ```ts
 * const env: SettingsEnv = { QUERY_WORKER_PORT: '7101' };
 * ```
 */
export type SettingsEnv = Readonly<Record<string, string | undefined>>;

/**
 * A value read from the environment, with the variable it came from for error messages.
 *
 * @example
 * ```ts
 * const cluster: EnvValue = { name: 'ECS_WORKER_CLUSTER_NAME', value: 'lakerunner' };
 * ```
 */
export interface EnvValue {
  readonly name: string;
  readonly value: string;
}

/**
 * Reads the first of `names` that is set to something other than blanks. A blank value counts
 * as unset because deployment templates often render `NAME=` for "not configured".
 *
 * When two of the names are set to different values the setting is ambiguous, and guessing
 * which one the operator meant could point discovery at the wrong service.
 *
 * @example
 * ```ts
 * const cluster = readEnv(process.env, ['ECS_WORKER_CLUSTER_NAME', 'QUERY_WORKER_CLUSTER_NAME']);
 * console.log(cluster?.name, cluster?.value);
 * ```
 */
export function readEnv(env: SettingsEnv, names: readonly string[]): EnvValue | undefined {
  const found: EnvValue[] = [];
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') found.push({ name, value });
  }

  const first = found[0];
  const conflicting = found.find((entry) => entry.value !== first?.value);
  if (first && conflicting) {
    throw new ConfigError(
      first.name,
      `${first.name}=${JSON.stringify(first.value)} and ` +
        `${conflicting.name}=${JSON.stringify(conflicting.value)} disagree; ` +
        `set only one of ${names.join(', ')}`,
    );
  }

  return first;
}

const portPattern = /^[1-9][0-9]{0,4}$/;

/**
 * Parses a TCP port: a whole number from 1 to 65535 written with digits only, so `7101x`,
 * `71.5` and ` 7101` are refused instead of being half-read by `parseInt`.
 *
 * @example
 * ```ts
 * parsePort('QUERY_WORKER_PORT', '7101'); // 7101
 * ```
 */
export function parsePort(setting: string, raw: string): number {
  const port = portPattern.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ConfigError(
      setting,
      `${setting}=${JSON.stringify(raw)} is not a valid port; ` +
        'expected a whole number from 1 to 65535, such as 8081',
    );
  }

  return port;
}

const secondsPattern = /^[0-9]+(\.[0-9]+)?$/;

/**
 * Parses a duration in seconds between `min` and `max` (decimals allowed) and returns it in
 * milliseconds.
 *
 * @example
 * ```ts
 * parseSecondsToMs('WORKER_POLL_INTERVAL_SECONDS', '10', { min: 1, max: 3600 }); // 10_000
 * ```
 */
export function parseSecondsToMs(
  setting: string,
  raw: string,
  bounds: { readonly min: number; readonly max: number },
): number {
  const seconds = secondsPattern.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= bounds.min && seconds <= bounds.max)) {
    throw new ConfigError(
      setting,
      `${setting}=${JSON.stringify(raw)} is not a valid number of seconds; ` +
        `expected a number from ${bounds.min} to ${bounds.max}, such as 10`,
    );
  }

  return Math.round(seconds * 1000);
}
