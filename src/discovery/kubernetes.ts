import {
  CoreV1Api,
  DiscoveryV1Api,
  Observable,
  type KubeConfig,
  type V1EndpointSlice,
  type V1EndpointSliceList,
  type V1ServiceList,
} from '@kubernetes/client-node';
import { quote, type Environment } from '../config.js';
import { ConfigError, DiscoveryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  RefusalLog,
  addressPolicyFromEnv,
  type AddressPolicy,
} from './address-policy.js';
import {
  workersFromSlices,
  type DiscoveryCompatibility,
  type SliceReport,
} from './endpoint-slices.js';
import { loadKubeConfig, type LoadedKubeConfig } from './kube-config.js';
import { toDiscoveryError, type ApiCallContext } from './kubernetes-errors.js';
import {
  kubernetesSettings,
  type KubernetesSettings,
  type KubernetesSettingsInput,
  type SettingNames,
} from './kubernetes-settings.js';
import { ListWatchLoop, type WatchTimings } from './slice-watcher.js';
import { streamWatch, type WatchEnd, type WatchEvent } from './watch-stream.js';
import type {
  GetWorkersOptions,
  Worker,
  WorkerDiscovery,
  WorkerWatch,
  WorkerWatchHandlers,
} from './worker.js';

/**
 * What the label selector is matched against:
 * - `endpointslices` (default): the EndpointSlices' own labels, which are their Service's labels.
 * - `services`: the Services' labels; each matching Service's slices are then found through the
 *   `kubernetes.io/service-name` label.
 *
 * @example
 * ```ts
 * const selectorTarget: SelectorTarget = 'services';
 * const discovery = new KubernetesWorkerDiscovery({ selectorTarget, labelSelector: 'app=lake' });
 * ```
 */
export type SelectorTarget = 'endpointslices' | 'services';

/**
 * The environment variable that picks the {@link SelectorTarget}.
 *
 * @example
 * ```ts
 * const env = { ...process.env, [selectorTargetVariable]: 'services' };
 * const discovery = new KubernetesWorkerDiscovery({ env });
 * ```
 */
export const selectorTargetVariable = 'WORKER_SELECTOR_TARGET';

/**
 * The environment variable that picks a {@link DiscoveryCompatibility} mode; the
 * `compatibility` option wins over it.
 *
 * @example
 * ```ts
 * const discovery = new KubernetesWorkerDiscovery({
 *   env: { ...process.env, [compatibilityVariable]: 'lakerunner-go' },
 * });
 * ```
 */
export const compatibilityVariable = 'LAKERUNNER_DISCOVERY_COMPAT';

/**
 * The label that ties an EndpointSlice to its Service.
 *
 * @example
 * ```ts
 * const ours = slices.filter(
 *   (slice) => slice.metadata?.labels?.[serviceNameLabel] === 'query-worker',
 * );
 * ```
 */
export const serviceNameLabel = 'kubernetes.io/service-name';

/**
 * Options for {@link KubernetesWorkerDiscovery}; explicit settings win over the environment.
 *
 * @example
 * ```ts
 * const options: KubernetesDiscoveryOptions = {
 *   namespace: 'lake',
 *   labelSelector: 'app=lakerunner,component=query-worker',
 *   port: 7101,
 *   keepDraining: true,
 *   requestTimeoutMs: 5_000,
 *   logger: pino(),
 * };
 * const cache = new WorkerCache(new KubernetesWorkerDiscovery(options)).start();
 * ```
 */
export interface KubernetesDiscoveryOptions extends KubernetesSettingsInput {
  /** Environment for settings and cluster access. Default `process.env`. */
  readonly env?: Environment | undefined;
  /** Names to blame in errors for explicit settings (the CLI passes its flag names). */
  readonly settingNames?: SettingNames | undefined;
  /**
   * A ready cluster configuration; by default kubeconfig, then in-cluster, is loaded. A
   * configuration given here cannot be re-read after a 401.
   */
  readonly kubeConfig?: KubeConfig | undefined;
  /** The service-account directory for in-cluster mode (tests point this at a temp dir). */
  readonly serviceAccountDir?: string | undefined;
  /** EndpointSlices asked for per page; larger sets are followed with `continue`. Default 500. */
  readonly pageSize?: number | undefined;
  /** Deadline for one list request (and for a watch's response headers). Default 10,000 ms. */
  readonly requestTimeoutMs?: number | undefined;
  /** Keep terminating-but-serving endpoints as `draining` workers. Default `false`. */
  readonly keepDraining?: boolean | undefined;
  /**
   * What the label selector matches; see {@link SelectorTarget}. Default: the
   * `WORKER_SELECTOR_TARGET` variable, else `endpointslices`.
   */
  readonly selectorTarget?: SelectorTarget | undefined;
  /**
   * Address families to admit. Default `['IPv4']`; `['IPv4', 'IPv6']` for dual-stack clusters,
   * where a pod in an IPv4 and an IPv6 slice is still one worker.
   */
  readonly addressTypes?: readonly ('IPv4' | 'IPv6')[] | undefined;
  /** The family a dual-stack worker is reached at. Default: the first of `addressTypes`. */
  readonly preferredAddressType?: 'IPv4' | 'IPv6' | undefined;
  /**
   * Take each slice's port with this name instead of the configured port. The configured port
   * (`QUERY_WORKER_PORT`) is still required, as a fallback for reports.
   */
  readonly portName?: string | undefined;
  /**
   * Reproduce another implementation's worker set exactly. `lakerunner-go`: the set
   * lakerunner's Go coordinators build (Services selected by label, an absent `ready` is not
   * ready, every IPv4 address a worker, at the slice's first port), so that a mixed fleet
   * places keys alike. It implies `selectorTarget: 'services'` and cannot be combined with
   * `keepDraining`, IPv6 `addressTypes`, `preferredAddressType` or `portName`. Default: the
   * `LAKERUNNER_DISCOVERY_COMPAT` variable, else none (the Kubernetes API's semantics).
   */
  readonly compatibility?: DiscoveryCompatibility | 'none' | undefined;
  /**
   * Which slice addresses may become workers. Default: `createAddressPolicy()` with the
   * allow-list from `WORKER_ALLOWED_CIDRS` when set, which refuses unspecified, loopback,
   * link-local (cloud metadata), multicast and broadcast addresses. Pass
   * `createAddressPolicy({ allowLoopback: true })` to reach workers on 127.0.0.x in tests.
   */
  readonly addressPolicy?: AddressPolicy | undefined;
  /**
   * The most endpoints one list may hold, across all its pages; a larger answer fails with a
   * `DiscoveryError` of reason `too-large` rather than filling memory. The watch path keeps the
   * same bound. Default 100,000.
   */
  readonly maxEndpoints?: number | undefined;
  /**
   * The longest watch event line read, in characters; a longer one ends the watch with a
   * `too-large` error and a re-list. Default 4 Mi (`defaultMaxWatchLineLength`).
   */
  readonly maxWatchLineLength?: number | undefined;
  /** Timings of the list-then-watch loop behind {@link KubernetesWorkerDiscovery.watch}. */
  readonly watch?: Partial<WatchTimings> | undefined;
  /** Jitter source in [0, 1), injectable for tests. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Where to log. Silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * Everything one discovery pass saw: the slices, the workers and the counts behind them.
 *
 * @example
 * ```ts
 * const inspection: KubernetesInspection = await discovery.inspect();
 * console.log(`${inspection.slices.length} slices gave ${inspection.workers.length} workers`);
 * if (inspection.workers.length === 0) console.log(inspection.report);
 * ```
 */
export interface KubernetesInspection {
  readonly workers: Worker[];
  readonly report: SliceReport;
  /** The collection's resourceVersion from the last page, for starting a watch. */
  readonly resourceVersion: string | undefined;
  readonly slices: readonly V1EndpointSlice[];
  /** What the selector was matched against. */
  readonly selectorTarget: SelectorTarget;
  /** In `services` mode, the names of the Services that matched. */
  readonly services?: readonly string[] | undefined;
}

interface SliceListing {
  readonly slices: V1EndpointSlice[];
  readonly resourceVersion: string | undefined;
  readonly services?: readonly string[] | undefined;
}

/**
 * Finds workers through `discovery.k8s.io/v1` EndpointSlices in one namespace that match a label
 * selector: ready endpoints only (optionally draining ones too), IPv4 only unless told
 * otherwise, each a worker at the configured port or at the slice's port of a given name.
 *
 * `getWorkers()` lists; `watch()` keeps a set current with list-then-watch, which is what a
 * `WorkerCache` uses when it is there. The selector matches the slices' labels by default, or
 * Services' labels (`selectorTarget: 'services'`). On a 401 the credentials are re-read once and
 * the call retried, so a rotated service-account token is picked up at once.
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
  /** What the label selector is matched against. */
  readonly selectorTarget: SelectorTarget;
  /** The worker-set semantics reproduced, if not the API's own; see the option. */
  readonly compatibility: DiscoveryCompatibility | undefined;
  /** The API server URL. */
  readonly server: string;
  /** Where cluster access came from: `kubeconfig`, `in-cluster` or `provided`. */
  readonly credentialSource: LoadedKubeConfig['source'] | 'provided';
  /** The address policy in force, described (for logs and the CLI). */
  readonly addressPolicy: string;

  readonly #options: KubernetesDiscoveryOptions;
  readonly #env: Environment;
  readonly #pageSize: number;
  readonly #requestTimeoutMs: number;
  readonly #logger: Logger;
  readonly #policy: AddressPolicy;
  readonly #refusals: RefusalLog;
  readonly #maxEndpoints: number;
  #kubeConfig: KubeConfig;
  #discoveryApi: DiscoveryV1Api;
  #coreApi: CoreV1Api;
  /** The slice selector the last list used; watches use the same one. */
  #sliceSelector: string | undefined;
  /** Services mode: each matching Service's first port, from the last list. */
  #servicePorts: ReadonlyMap<string, number> = new Map();

  constructor(options: KubernetesDiscoveryOptions = {}) {
    this.#options = options;
    this.#env = options.env ?? process.env;
    this.settings = kubernetesSettings(options, this.#env, options.settingNames);
    this.compatibility = compatibilitySetting(options, this.#env);
    this.selectorTarget = this.compatibility === 'lakerunner-go'
      ? 'services'
      : selectorTargetSetting(options.selectorTarget, this.#env);
    this.#logger = options.logger ?? silentLogger;
    this.#policy = options.addressPolicy ?? addressPolicyFromEnv(this.#env);
    this.addressPolicy = this.#policy.description;
    this.#refusals = new RefusalLog(this.#logger, 'kubernetes');
    this.#maxEndpoints = maxEndpointsSetting(options.maxEndpoints);

    const loaded = options.kubeConfig ? undefined : this.#load(this.#logger);
    this.#kubeConfig = options.kubeConfig ?? (loaded as LoadedKubeConfig).kubeConfig;
    this.server = loaded?.server ?? this.#kubeConfig.getCurrentCluster()?.server ?? 'unknown';
    this.credentialSource = loaded?.source ?? 'provided';
    this.#discoveryApi = this.#kubeConfig.makeApiClient(DiscoveryV1Api);
    this.#coreApi = this.#kubeConfig.makeApiClient(CoreV1Api);

    this.#pageSize = options.pageSize ?? 500;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#sliceSelector = this.selectorTarget === 'endpointslices'
      ? this.settings.labelSelector.text
      : undefined;
  }

  /** Lists the matching EndpointSlices and returns their ready endpoints as workers. */
  async getWorkers(options: GetWorkersOptions = {}): Promise<Worker[]> {
    return (await this.inspect(options)).workers;
  }

  /** Like {@link getWorkers}, with the slices and the counts that explain the result. */
  async inspect(options: GetWorkersOptions = {}): Promise<KubernetesInspection> {
    const listing = await this.listSlices(options.signal);
    const { workers, report } = this.#workers(listing.slices);

    this.#logger.debug(
      {
        namespace: this.settings.namespace,
        selectorTarget: this.selectorTarget,
        slices: listing.slices.length,
        workers: workers.length,
      },
      'listed EndpointSlices',
    );
    return { ...listing, workers, report, selectorTarget: this.selectorTarget };
  }

  /**
   * Lists every matching slice, following `continue` tokens page by page. In `services` mode it
   * first lists the matching Services, then the slices that belong to them.
   */
  async listSlices(signal?: AbortSignal): Promise<SliceListing> {
    return this.#withFreshCredentials(async () => {
      if (this.selectorTarget === 'endpointslices') {
        return this.#listSlicesMatching(this.settings.labelSelector.text, signal);
      }

      const services = await this.matchingServices(signal);
      this.#servicePorts = services.ports;
      if (services.names.length === 0) {
        this.#sliceSelector = undefined;
        return { slices: [], resourceVersion: services.resourceVersion, services: [] };
      }
      const selector = `${serviceNameLabel} in (${services.names.join(',')})`;
      const listing = await this.#listSlicesMatching(selector, signal);
      this.#sliceSelector = selector;
      return { ...listing, services: services.names };
    });
  }

  /**
   * The names of the Services in the namespace whose labels match the selector. The debug CLI
   * uses it to say when the selector matches Services but not EndpointSlices.
   */
  async matchingServices(
    signal?: AbortSignal,
  ): Promise<{
    names: string[];
    resourceVersion: string | undefined;
    /** Each Service's first port, by name, where it has one. */
    ports: Map<string, number>;
  }> {
    const list = await this.#call<V1ServiceList>('services', '', signal, (options) =>
      this.#coreApi.listNamespacedService(
        { namespace: this.settings.namespace, labelSelector: this.settings.labelSelector.text },
        options,
      ),
    );
    const names = list.items.map((service) => service.metadata?.name ?? '').filter(Boolean);
    const ports = new Map<string, number>();
    for (const service of list.items) {
      const port = service.spec?.ports?.[0]?.port;
      if (service.metadata?.name && port) ports.set(service.metadata.name, port);
    }
    return { names: names.sort(), resourceVersion: list.metadata?.resourceVersion, ports };
  }

  /**
   * Keeps a worker set current with list-then-watch on EndpointSlices and reports it to the
   * handlers until closed. See {@link ListWatchLoop} for how it lists, watches, resumes and
   * backs off.
   */
  watch(handlers: WorkerWatchHandlers): WorkerWatch {
    const loop = new ListWatchLoop<V1EndpointSlice>(
      {
        list: async (signal) => {
          const listing = await this.listSlices(signal);
          return { items: listing.slices, resourceVersion: listing.resourceVersion };
        },
        watch: (options) => this.#watchSlices(options),
        toWorkers: (slices) => this.#workers(slices).workers,
      },
      handlers,
      {
        timings: this.#options.watch,
        logger: this.#logger,
        random: this.#options.random,
      },
    );
    return loop.start();
  }

  /**
   * The one place slices become workers, for lists and watches alike: addresses are checked,
   * each refused one logged once, and the endpoint bound held.
   */
  #workers(slices: readonly V1EndpointSlice[]): ReturnType<typeof workersFromSlices> {
    const endpoints = countEndpoints(slices);
    if (endpoints > this.#maxEndpoints) {
      // The watch path: keep the last good set rather than build a huge one.
      throw this.#tooLarge(endpoints);
    }
    const result = workersFromSlices(slices, this.#sliceOptions());
    this.#refusals.note(result.refused);
    return result;
  }

  #tooLarge(endpoints: number): DiscoveryError {
    return new DiscoveryError(
      'too-large',
      `the EndpointSlices in namespace "${this.settings.namespace}" at ${this.server} hold ` +
        `${endpoints} endpoints, more than maxEndpoints (${this.#maxEndpoints}); raise ` +
        'maxEndpoints if that many workers are real, else check who writes these slices',
      { server: this.server },
    );
  }

  #sliceOptions(): Parameters<typeof workersFromSlices>[1] {
    return {
      port: this.settings.port,
      keepDraining: this.#options.keepDraining ?? false,
      addressTypes: this.#options.addressTypes ?? ['IPv4'],
      preferredAddressType: this.#options.preferredAddressType,
      portName: this.#options.portName,
      compatibility: this.compatibility,
      servicePorts: this.#servicePorts,
      addressPolicy: this.#policy,
    };
  }

  async #watchSlices(options: {
    resourceVersion: string | undefined;
    timeoutSeconds: number;
    idleTimeoutMs: number;
    signal: AbortSignal;
    onOpen: () => void;
    onEvent: (event: WatchEvent<V1EndpointSlice>) => void;
  }): Promise<WatchEnd> {
    const selector = this.#sliceSelector;
    if (selector === undefined) {
      // Services mode with no matching Service: nothing to watch until the next re-list.
      options.onOpen();
      if (!options.signal.aborted) {
        await new Promise((resolve) => {
          options.signal.addEventListener('abort', resolve, { once: true });
        });
      }
      return { kind: 'aborted' };
    }

    const run = (): Promise<WatchEnd> => streamWatch<V1EndpointSlice>({
      kubeConfig: this.#kubeConfig,
      path: `/apis/discovery.k8s.io/v1/namespaces/${this.settings.namespace}/endpointslices`,
      query: {
        labelSelector: selector,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(options.timeoutSeconds),
        ...(options.resourceVersion === undefined
          ? {}
          : { resourceVersion: options.resourceVersion }),
      },
      connectTimeoutMs: this.#requestTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      maxLineLength: this.#options.maxWatchLineLength,
      signal: options.signal,
      context: this.#context('endpointslices', 'discovery.k8s.io'),
      onOpen: options.onOpen,
      onEvent: options.onEvent,
    });

    const end = await run();
    if (end.kind !== 'failed' || end.error.reason !== 'unauthorized' || !this.#reload()) {
      return end;
    }
    return run();
  }

  async #listSlicesMatching(selector: string, signal?: AbortSignal): Promise<SliceListing> {
    const slices: V1EndpointSlice[] = [];
    let endpoints = 0;
    let token: string | undefined;
    let resourceVersion: string | undefined;

    do {
      const continueFrom = token;
      const page = await this.#call<V1EndpointSliceList>(
        'endpointslices',
        'discovery.k8s.io',
        signal,
        (options) => this.#discoveryApi.listNamespacedEndpointSlice(
          {
            namespace: this.settings.namespace,
            labelSelector: selector,
            limit: this.#pageSize,
            ...(continueFrom === undefined ? {} : { _continue: continueFrom }),
          },
          options,
        ),
      );
      slices.push(...page.items);
      endpoints += countEndpoints(page.items);
      if (endpoints > this.#maxEndpoints) throw this.#tooLarge(endpoints);
      token = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (token !== undefined);

    return { slices, resourceVersion };
  }

  /** One API call with a deadline, its errors turned into `DiscoveryError`s. */
  async #call<T>(
    resource: string,
    group: string,
    signal: AbortSignal | undefined,
    request: (options: ListOptions) => Promise<T>,
  ): Promise<T> {
    const deadline = AbortSignal.timeout(this.#requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const context = this.#context(resource, group);

    try {
      return await request(withSignal(combined));
    } catch (error) {
      const timedOut = deadline.aborted && !signal?.aborted;
      throw toDiscoveryError(
        error,
        timedOut ? { ...context, timedOutAfterMs: this.#requestTimeoutMs } : context,
        signal,
      );
    }
  }

  #context(resource: string, group: string): ApiCallContext {
    return { server: this.server, namespace: this.settings.namespace, resource, group };
  }

  /**
   * Runs a call; on a 401, re-reads the credentials once and runs it again. The client re-reads
   * a token file only once a minute, so a token rotated under us would otherwise fail for up to
   * a minute; after the one retry, the caller's backoff takes over.
   */
  async #withFreshCredentials<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DiscoveryError) || error.reason !== 'unauthorized') throw error;
      if (!this.#reload()) throw error;
      return call();
    }
  }

  /** Rebuilds the configuration from its files; false when it was handed to us. */
  #reload(): boolean {
    if (this.credentialSource === 'provided') return false;
    try {
      // Warnings about the configuration were given at start; a reload stays quiet.
      this.#kubeConfig = this.#load(silentLogger).kubeConfig;
    } catch (error) {
      this.#logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        're-reading cluster credentials after a 401 failed',
      );
      return false;
    }
    this.#discoveryApi = this.#kubeConfig.makeApiClient(DiscoveryV1Api);
    this.#coreApi = this.#kubeConfig.makeApiClient(CoreV1Api);
    this.#logger.info({ server: this.server }, 're-read cluster credentials after a 401');
    return true;
  }

  #load(logger: Logger): LoadedKubeConfig {
    return loadKubeConfig({
      env: this.#env,
      serviceAccountDir: this.#options.serviceAccountDir,
      logger,
    });
  }
}

function selectorTargetSetting(
  explicit: SelectorTarget | undefined,
  env: Environment,
): SelectorTarget {
  const given = explicit ?? env[selectorTargetVariable];
  if (given === undefined || given === '') return 'endpointslices';
  if (given === 'endpointslices' || given === 'services') return given;

  const name = explicit === undefined ? selectorTargetVariable : 'selectorTarget';
  throw new ConfigError(
    name,
    `${name} is ${quote(given)}: expected "endpointslices" (match the EndpointSlices' labels) ` +
      'or "services" (match the Services\' labels)',
  );
}

/**
 * The compatibility mode from the option, else the variable; a ConfigError names the setting
 * when the value is unknown or when it contradicts another setting.
 */
function compatibilitySetting(
  options: KubernetesDiscoveryOptions,
  env: Environment,
): DiscoveryCompatibility | undefined {
  const given = options.compatibility ?? env[compatibilityVariable];
  const name = options.compatibility === undefined ? compatibilityVariable : 'compatibility';
  if (given === undefined || given === '' || given === 'none') return undefined;
  if (given !== 'lakerunner-go') {
    throw new ConfigError(
      name,
      `${name} is ${quote(given)}: expected "lakerunner-go" (the worker set of lakerunner's ` +
        'Go coordinators) or "none"',
    );
  }

  const targetGiven = options.selectorTarget ?? env[selectorTargetVariable];
  const conflicts: [string, boolean][] = [
    [
      options.selectorTarget === undefined ? selectorTargetVariable : 'selectorTarget',
      targetGiven !== undefined && targetGiven !== '' && targetGiven !== 'services',
    ],
    ['keepDraining', options.keepDraining === true],
    ['addressTypes', (options.addressTypes ?? ['IPv4']).some((type) => type !== 'IPv4')],
    ['preferredAddressType', options.preferredAddressType !== undefined],
    ['portName', options.portName !== undefined],
  ];
  const conflict = conflicts.find(([, conflicting]) => conflicting)?.[0];
  if (conflict !== undefined) {
    throw new ConfigError(
      conflict,
      `${conflict} cannot be combined with ${name}=lakerunner-go, which reproduces the Go ` +
        "coordinators' worker set (Services by label, IPv4 only, the slice's first port, " +
        'no draining workers); drop one of the two',
    );
  }
  return given;
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

function countEndpoints(slices: readonly V1EndpointSlice[]): number {
  return slices.reduce((total, slice) => total + (slice.endpoints?.length ?? 0), 0);
}

function maxEndpointsSetting(given: number | undefined): number {
  const value = given ?? 100_000;
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(
      'maxEndpoints',
      `maxEndpoints is ${quote(value)}: expected a whole number of at least 1, such as 100000`,
    );
  }
  return value;
}
