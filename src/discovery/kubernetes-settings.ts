import { firstGiven, missingSetting, parsePort, quote, type Environment } from '../config.js';
import { ConfigError } from '../errors.js';
import { parseLabelSelector, SelectorSyntaxError, type LabelSelector } from './label-selector.js';

/**
 * What Kubernetes discovery needs to know: where to look, what to match, which port.
 *
 * @example
 * ```ts
 * const settings: KubernetesSettings = kubernetesSettings({ namespace: 'lake' });
 * console.log(`${settings.namespace}: ${settings.labelSelector.text} on ${settings.port}`);
 * ```
 */
export interface KubernetesSettings {
  /** The namespace the workers' EndpointSlices live in. */
  readonly namespace: string;
  /** The parsed selector; its `text` is what goes to the API server. */
  readonly labelSelector: LabelSelector;
  /** The port each worker answers fragments on. */
  readonly port: number;
}

/**
 * Explicit settings; each one wins over its environment variable.
 *
 * @example
 * ```ts
 * const input: KubernetesSettingsInput = {
 *   namespace: 'lake',
 *   labelSelector: 'app=lakerunner,component=query-worker',
 *   port: 7101,
 * };
 * const settings = kubernetesSettings(input, process.env);
 * ```
 */
export interface KubernetesSettingsInput {
  /** The workers' namespace. Default: `POD_NAMESPACE`. */
  readonly namespace?: string | undefined;
  /**
   * A label selector such as `app=lakerunner,component=query-worker`.
   * Default: `WORKER_POD_LABEL_SELECTOR`.
   */
  readonly labelSelector?: string | undefined;
  /** The workers' query port. Default: `QUERY_WORKER_PORT`. */
  readonly port?: string | number | undefined;
}

/**
 * The names to blame in errors for each explicit setting. The CLI passes its flag names here,
 * so that a bad `--query-worker-port` is reported as that flag.
 *
 * @example
 * ```ts
 * const names: SettingNames = {
 *   namespace: '--namespace',
 *   labelSelector: '--selector',
 *   port: '--query-worker-port',
 * };
 * const settings = kubernetesSettings({ port: flags.port }, process.env, names);
 * ```
 */
export interface SettingNames {
  readonly namespace: string;
  readonly labelSelector: string;
  readonly port: string;
}

const optionNames: SettingNames = {
  namespace: 'namespace',
  labelSelector: 'labelSelector',
  port: 'port',
};

/**
 * The environment variables Kubernetes discovery reads.
 *
 * @example
 * ```ts
 * const settings = kubernetesSettings({}, {
 *   [kubernetesVariables.namespace]: 'lake',
 *   [kubernetesVariables.labelSelector]: 'app=lakerunner',
 *   [kubernetesVariables.port]: '7101',
 * });
 * ```
 */
export const kubernetesVariables = {
  namespace: 'POD_NAMESPACE',
  labelSelector: 'WORKER_POD_LABEL_SELECTOR',
  port: 'QUERY_WORKER_PORT',
} as const;

const namespacePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads and validates the three required settings; explicit values win over the environment.
 *
 * A missing or malformed value throws a {@link ConfigError} that names the variable (or option,
 * or flag) and shows the value. Discovery refuses to start rather than return an empty worker
 * list, because an empty list hides a typo until production traffic finds it.
 *
 * @example
 * ```ts
 * const settings = kubernetesSettings({ port: 7101 }, process.env);
 * settings.labelSelector.text; // 'app.kubernetes.io/component=query-worker'
 * ```
 */
export function kubernetesSettings(
  input: KubernetesSettingsInput = {},
  env: Environment = process.env,
  names: SettingNames = optionNames,
): KubernetesSettings {
  const vars = kubernetesVariables;
  const namespace = firstGiven(
    { name: names.namespace, value: input.namespace },
    { name: vars.namespace, value: env[vars.namespace] },
  );
  const selector = firstGiven(
    { name: names.labelSelector, value: input.labelSelector },
    { name: vars.labelSelector, value: env[vars.labelSelector] },
  );
  const port = firstGiven(
    { name: names.port, value: input.port },
    { name: vars.port, value: env[vars.port] },
  );

  // Name every missing setting at once, so a fresh deployment is fixed in one round.
  const missing: Array<[string[], string]> = [];
  if (namespace === undefined) missing.push([[vars.namespace, names.namespace], 'default']);
  if (selector === undefined) {
    missing.push([
      [vars.labelSelector, names.labelSelector],
      '"app.kubernetes.io/component=query-worker"',
    ]);
  }
  if (port === undefined) missing.push([[vars.port, names.port], '7101']);
  if (missing.length > 0) throw missingSettings(missing);
  if (namespace === undefined || selector === undefined || port === undefined) {
    throw new Error('unreachable: every missing setting was reported above');
  }

  return {
    namespace: parseNamespace(namespace.name, String(namespace.value)),
    labelSelector: parseSelectorSetting(selector.name, String(selector.value)),
    port: parsePort(port),
  };
}

/** Validates a namespace name: a DNS label of at most 63 lowercase characters. */
export function parseNamespace(name: string, value: string): string {
  if (value.length <= 63 && namespacePattern.test(value)) return value;
  throw new ConfigError(
    name,
    `${name} is ${quote(value)}: a namespace is at most 63 lowercase letters, digits and "-", ` +
      'starting and ending with a letter or digit, such as "cardinalhq-datalake"',
  );
}

function parseSelectorSetting(name: string, value: string): LabelSelector {
  try {
    return parseLabelSelector(value);
  } catch (error) {
    if (!(error instanceof SelectorSyntaxError)) throw error;
    throw new ConfigError(
      name,
      `${name} is ${quote(value)}: ${error.message} (at character ${error.position + 1}). ` +
        'A label selector looks like "app=lakerunner,component in (query-worker)"; ' +
        'see the Kubernetes label selector syntax',
    );
  }
}

function missingSettings(missing: ReadonlyArray<[string[], string]>): ConfigError {
  const [first, ...others] = missing;
  if (first === undefined) throw new Error('missingSettings needs at least one setting');
  if (others.length === 0) return missingSetting(first[0], first[1]);

  const described = missing.map(([names, example]) => {
    const [variable = '', option] = names;
    return `${variable} (or ${option}), such as ${example}`;
  });
  return new ConfigError(
    first[0][0] ?? 'setting',
    `${missing.length} required settings are not set: ${described.join('; ')}`,
  );
}
