import { ConfigError } from './errors.js';

/**
 * Environment variables as `process.env` holds them.
 *
 * @example
 * ```ts
 * const env: Environment = { ...process.env, POD_NAMESPACE: 'lake' };
 * const discovery = new KubernetesWorkerDiscovery({ env });
 * ```
 */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * A raw setting and the name to blame in errors: an option, a flag or a variable.
 *
 * @example
 * ```ts
 * const setting: RawSetting = { name: '--port', value: flags.port };
 * const port = parsePort(setting); // a ConfigError names `--port` when the value is bad
 * ```
 */
export interface RawSetting {
  readonly name: string;
  readonly value: string | number | undefined;
}

/**
 * Picks the first given setting: explicit options win over the environment.
 * Empty or blank strings count as not given, so `FOO=` in a manifest reads as missing.
 */
export function firstGiven(...candidates: RawSetting[]): RawSetting | undefined {
  return candidates.find(({ value }) =>
    typeof value === 'number' ? true : value !== undefined && value.trim() !== '',
  );
}

/** Shows a value in an error message with its quotes and any stray whitespace visible. */
export function quote(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value : String(value));
}

/** Raises the error for a required setting that nobody gave, naming every place it was sought. */
export function missingSetting(names: readonly string[], example: string): ConfigError {
  const [first = 'setting', ...others] = names;
  const alternatives = others.length > 0 ? ` (or ${others.join(', ')})` : '';
  const message = `${first}${alternatives} is not set: give a value such as ${example}`;
  return new ConfigError(first, message);
}

/**
 * Parses a TCP port: a whole decimal number from 1 to 65535, nothing before or after it.
 *
 * @example
 * ```ts
 * parsePort({ name: 'QUERY_WORKER_PORT', value: '7101' }); // 7101
 * parsePort({ name: 'QUERY_WORKER_PORT', value: '70000' }); // throws ConfigError
 * ```
 */
export function parsePort(setting: RawSetting): number {
  const { name, value } = setting;
  const text = typeof value === 'number' ? String(value) : value;
  const port = text !== undefined && /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;

  if (!isPort(port)) {
    throw new ConfigError(
      name,
      `${name} is ${quote(value)}: expected a whole number from 1 to 65535, such as 7101`,
    );
  }
  return port;
}

/**
 * Whether a value is a usable TCP port: a whole number from 1 to 65535.
 *
 * @example
 * ```ts
 * isPort(7101); // true
 * isPort(0);    // false
 * ```
 */
export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535;
}

/**
 * Parses a positive whole number of seconds, milliseconds or items.
 *
 * @example
 * ```ts
 * parsePositiveInteger({ name: 'WORKER_POLL_INTERVAL_SECONDS', value: '10' }, 'seconds'); // 10
 * ```
 */
export function parsePositiveInteger(setting: RawSetting, unit: string): number {
  const { name, value } = setting;
  const text = typeof value === 'number' ? String(value) : value;
  const number = text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : NaN;

  if (!Number.isSafeInteger(number) || number < 1) {
    throw new ConfigError(
      name,
      `${name} is ${quote(value)}: expected a whole number of ${unit} greater than 0`,
    );
  }
  return number;
}
