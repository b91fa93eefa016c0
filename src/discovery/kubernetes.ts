import {
  DiscoveryV1Api,
  Observable,
  type KubeConfig,
  type V1EndpointSlice,
  type V1EndpointSliceList,
} from '@kubernetes/client-node';
import type { Environment } from '../config.js';
import { silentLogger, type Logger } from '../logger.js';
import { workersFromSlices, type SliceReport } from './endpoint-slices.js';
import { loadKubeConfig, type LoadedKubeConfig } from './kube-config.js';
import { toDiscoveryError, type ApiCallContext } from './kubernetes-errors.js';
import {
  kubernetesSettings,
  type KubernetesSettings,
  type KubernetesSettingsInput,
  type SettingNames,
} from './kubernetes-settings.js';
import type { GetWorkersOptions, Worker, WorkerDiscovery } from './worker.js';

/** Options for {@link KubernetesWorkerDiscovery}; explicit settings win over the environment. */
export interface KubernetesDiscoveryOptions extends KubernetesSettingsInput {
  /** Environment for settings and cluster access. Default `process.env`. */
  readonly env?: Environment | undefined;
  /** Names to blame in errors for explicit settings (the CLI passes its flag names). */
  readonly settingNames?: SettingNames | undefined;
  /** A ready cluster configuration; by default kubeconfig, then in-cluster, is loaded. */
  readonly kubeConfig?: KubeConfig | undefined;
  /** The service-account directory for in-cluster mode (tests point this at a temp dir). */
  readonly serviceAccountDir?: string | undefined;
  /** EndpointSlices asked for per page; larger sets are followed with `continue`. Default 500. */
  readonly pageSize?: number | undefined;
  /** Deadline for one list request. Default 10,000 ms. */
  readonly requestTimeoutMs?: number | undefined;
  /** Keep terminating-but-serving endpoints as `draining` workers. Default `false`. */
  readonly keepDraining?: boolean | undefined;
  /** Where to log. Silent by default. */
  readonly logger?: Logger | undefined;
}

/** Everything one discovery pass saw: the slices, the workers and the counts behind them. */
export interface KubernetesInspection {
  readonly workers: Worker[];
  readonly report: SliceReport;
  /** The collection's resourceVersion from the last page, for starting a watch. */
  readonly resourceVersion: string | undefined;
  readonly slices: readonly V1EndpointSlice[];
}

/**
 * Finds workers through `discovery.k8s.io/v1` EndpointSlices in one namespace that match a label
 * selector: ready endpoints only, IPv4 only, each a worker at the configured port.
 *
 * Settings come from `POD_NAMESPACE`, `WORKER_POD_LABEL_SELECTOR` and `QUERY_WORKER_PORT`, or
 * from options, which win; cluster access from kubeconfig, then the in-cluster service account.
 * Bad settings throw a `ConfigError` at construction, so a typo fails loudly at start-up.
 *
 * @example
 * ```ts
 * const discovery = new KubernetesWorkerDiscovery({
 *   namespace: 'cardinalhq-datalake',
 *   labelSelector: 'app.kubernetes.io/component=query-worker',
 *   port: 7101,
 * });
 * const workers = await discovery.getWorkers({ signal: AbortSignal.timeout(10_000) });
 * ```
 */
export class KubernetesWorkerDiscovery implements WorkerDiscovery {
  readonly kind = 'kubernetes';
  /** The validated settings in use. */
  readonly settings: KubernetesSettings;
  /** The API server URL. */
  readonly server: string;
  /** Where cluster access came from: `kubeconfig`, `in-cluster` or `provided`. */
  readonly credentialSource: LoadedKubeConfig['source'] | 'provided';

  readonly #api: DiscoveryV1Api;
  readonly #pageSize: number;
  readonly #requestTimeoutMs: number;
  readonly #keepDraining: boolean;
  readonly #logger: Logger;

  constructor(options: KubernetesDiscoveryOptions = {}) {
    const env = options.env ?? process.env;
    this.settings = kubernetesSettings(options, env, options.settingNames);
    this.#logger = options.logger ?? silentLogger;

    const loaded = options.kubeConfig
      ? undefined
      : loadKubeConfig({
          env,
          serviceAccountDir: options.serviceAccountDir,
          logger: this.#logger,
        });
    const kubeConfig = options.kubeConfig ?? (loaded as LoadedKubeConfig).kubeConfig;
    this.server = loaded?.server ?? kubeConfig.getCurrentCluster()?.server ?? 'unknown';
    this.credentialSource = loaded?.source ?? 'provided';
    this.#api = kubeConfig.makeApiClient(DiscoveryV1Api);

    this.#pageSize = options.pageSize ?? 500;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#keepDraining = options.keepDraining ?? false;
  }

  /** Lists the matching EndpointSlices and returns their ready IPv4 endpoints as workers. */
  async getWorkers(options: GetWorkersOptions = {}): Promise<Worker[]> {
    return (await this.inspect(options)).workers;
  }

  /** Like {@link getWorkers}, with the slices and the counts that explain the result. */
  async inspect(options: GetWorkersOptions = {}): Promise<KubernetesInspection> {
    const { slices, resourceVersion } = await this.listSlices(options.signal);
    const { workers, report } = workersFromSlices(slices, {
      port: this.settings.port,
      keepDraining: this.#keepDraining,
    });

    this.#logger.debug(
      { namespace: this.settings.namespace, slices: slices.length, workers: workers.length },
      'listed EndpointSlices',
    );
    return { workers, report, resourceVersion, slices };
  }

  /** Lists every matching slice, following `continue` tokens page by page. */
  async listSlices(
    signal?: AbortSignal,
  ): Promise<{ slices: V1EndpointSlice[]; resourceVersion: string | undefined }> {
    const slices: V1EndpointSlice[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;

    do {
      const page = await this.#listPage(token, signal);
      slices.push(...page.items);
      token = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (token !== undefined);

    return { slices, resourceVersion };
  }

  async #listPage(token: string | undefined, signal?: AbortSignal): Promise<V1EndpointSliceList> {
    const deadline = AbortSignal.timeout(this.#requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const context: ApiCallContext = {
      server: this.server,
      namespace: this.settings.namespace,
      resource: 'endpointslices',
      group: 'discovery.k8s.io',
    };

    try {
      return await this.#api.listNamespacedEndpointSlice(
        {
          namespace: this.settings.namespace,
          labelSelector: this.settings.labelSelector.text,
          limit: this.#pageSize,
          ...(token === undefined ? {} : { _continue: token }),
        },
        withSignal(combined),
      );
    } catch (error) {
      const timedOut = deadline.aborted && !signal?.aborted;
      throw toDiscoveryError(
        error,
        timedOut ? { ...context, timedOutAfterMs: this.#requestTimeoutMs } : context,
        signal,
      );
    }
  }
}

type ListOptions = Parameters<DiscoveryV1Api['listNamespacedEndpointSlice']>[1];

/**
 * Client options that attach an abort signal to the request the generated API sends; the
 * generated client has no other way to take one.
 */
function withSignal(signal: AbortSignal): ListOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
