import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Environment } from '../config.js';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { originOf } from './urls.js';

/** Where the kubelet mounts a pod's service-account credentials. */
export const defaultServiceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Options for {@link loadKubeConfig}.
 *
 * @example
 * ```ts
 * const options: KubeConfigOptions = { env: process.env, logger: pino() };
 * const { kubeConfig, server } = loadKubeConfig(options);
 * ```
 */
export interface KubeConfigOptions {
  /** Environment to read `KUBECONFIG`, `HOME` and `KUBERNETES_SERVICE_*` from. */
  readonly env?: Environment | undefined;
  /** The service-account directory for in-cluster mode. Default: the kubelet's mount. */
  readonly serviceAccountDir?: string | undefined;
  /** Where to warn about insecure settings. Silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * A loaded cluster configuration and where it came from.
 *
 * @example
 * ```ts
 * const loaded: LoadedKubeConfig = loadKubeConfig();
 * console.log(`${loaded.source} credentials from ${loaded.from} for ${loaded.server}`);
 * const discovery = new KubernetesWorkerDiscovery({ kubeConfig: loaded.kubeConfig });
 * ```
 */
export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** `kubeconfig` or `in-cluster`. */
  readonly source: 'kubeconfig' | 'in-cluster';
  /** The API server URL. */
  readonly server: string;
  /** The kubeconfig files read, or the service-account directory. */
  readonly from: string;
}

/** Why a way of reaching the cluster did not work; the message names the file or variable. */
class AttemptFailed extends Error {}

/**
 * Finds cluster credentials: kubeconfig first (`KUBECONFIG`, else `~/.kube/config`), then the
 * in-cluster service account. Unlike the client's default loader, it never falls back to
 * `http://localhost:8080`: when neither works it throws a {@link ConfigError} that says why
 * each attempt failed.
 *
 * @example
 * ```ts
 * const { kubeConfig, source, server } = loadKubeConfig({ env: process.env });
 * console.log(`talking to ${server} using ${source} credentials`);
 * ```
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  const logger = options.logger ?? silentLogger;
  const reasons: string[] = [];

  for (const attempt of [fromKubeConfigFiles, fromServiceAccount]) {
    try {
      const loaded = attempt(env, options.serviceAccountDir ?? defaultServiceAccountDir);
      warnIfInsecure(loaded, logger);
      return loaded;
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      reasons.push(error.message);
    }
  }

  throw new ConfigError(
    'KUBECONFIG',
    'failed to create kubernetes config (tried kubeconfig and in-cluster): ' +
      reasons.join('; '),
  );
}

function kubeConfigPaths(env: Environment): { paths: string[]; described: string } {
  const variable = env['KUBECONFIG'];
  if (variable !== undefined && variable.trim() !== '') {
    const paths = variable.split(delimiter).filter((path) => path.trim() !== '');
    return { paths, described: `KUBECONFIG=${JSON.stringify(variable)}` };
  }

  const home = env['HOME'] ?? homedir();
  const path = join(home, '.kube', 'config');
  return { paths: [path], described: `${path} (KUBECONFIG is not set)` };
}

function fromKubeConfigFiles(env: Environment): LoadedKubeConfig {
  const { paths, described } = kubeConfigPaths(env);
  const existing = paths.filter((path) => existsSync(path));
  if (existing.length === 0) throw new AttemptFailed(`kubeconfig: no file at ${described}`);

  const kubeConfig = new KubeConfig();
  for (const [index, path] of existing.entries()) {
    const part = new KubeConfig();
    try {
      part.loadFromFile(path);
    } catch (error) {
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new AttemptFailed(`kubeconfig: ${path} does not parse: ${why}`);
    }
    if (index === 0) kubeConfig.loadFromString(part.exportConfig());
    else kubeConfig.mergeConfig(part, true);
  }

  const context = kubeConfig.getCurrentContext();
  if (!context) {
    throw new AttemptFailed(`kubeconfig: ${existing.join(', ')} has no current-context`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null || !cluster.server) {
    throw new AttemptFailed(
      `kubeconfig: current-context "${context}" in ${existing.join(', ')} names no cluster ` +
        'with a server',
    );
  }
  return { kubeConfig, source: 'kubeconfig', server: cluster.server, from: existing.join(', ') };
}

function fromServiceAccount(env: Environment, directory: string): LoadedKubeConfig {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) {
    throw new AttemptFailed(
      'in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set ' +
        '(not running in a pod?)',
    );
  }

  const tokenFile = join(directory, 'token');
  const caFile = join(directory, 'ca.crt');
  for (const file of [tokenFile, caFile]) {
    if (!existsSync(file)) throw new AttemptFailed(`in-cluster: ${file} does not exist`);
  }

  const server = inClusterServer(host, port);
  const namespaceFile = join(directory, 'namespace');
  const namespace = existsSync(namespaceFile)
    ? readFileSync(namespaceFile, 'utf8').trim()
    : undefined;

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile, skipTLSVerify: false }],
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace }],
    currentContext: 'in-cluster',
  });
  return { kubeConfig, source: 'in-cluster', server, from: directory };
}

/**
 * The API server URL from the service variables, built with the URL class so that an IPv6
 * service address comes out in brackets. The port is always written, 443 included, as the
 * client libraries of other languages write it.
 *
 * @example
 * ```ts
 * inClusterServer('fd00:10:96::1', '443'); // 'https://[fd00:10:96::1]:443'
 * ```
 */
export function inClusterServer(host: string, port: string): string {
  try {
    return originOf('https:', host, port, {
      keepDefaultPort: true,
      setting: 'KUBERNETES_SERVICE_HOST',
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const shown = `KUBERNETES_SERVICE_HOST=${JSON.stringify(host)}, ` +
      `KUBERNETES_SERVICE_PORT=${JSON.stringify(port)}`;
    throw new AttemptFailed(`in-cluster: ${shown} do not make a server URL: ${error.message}`);
  }
}

function warnIfInsecure(loaded: LoadedKubeConfig, logger: Logger): void {
  const cluster = loaded.kubeConfig.getCurrentCluster();
  if (cluster?.skipTLSVerify) {
    logger.warn(
      { server: loaded.server, from: loaded.from },
      'kubeconfig sets insecure-skip-tls-verify: the API server certificate is NOT verified',
    );
  }
}
