import { quote, type Environment } from '../config.js';
import { ConfigError } from '../errors.js';

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
export function readEnv(env: Environment, names: readonly string[]): EnvValue | undefined {
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
      `${first.name} is ${quote(first.value)} but ${conflicting.name} is ` +
        `${quote(conflicting.value)}: ` +
        `set only one of ${names.join(', ')}`,
    );
  }

  return first;
}
