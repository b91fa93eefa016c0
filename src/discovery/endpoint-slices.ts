import { BlockList, isIP } from 'node:net';
import { createAddressPolicy, type AddressPolicy, type AddressRefusal } from './address-policy.js';
import { hostPort } from './urls.js';
import { compareWorkers, workerAddress, type Worker, type WorkerState } from './worker.js';
import { isPort } from '../config.js';

/**
 * The parts of a `discovery.k8s.io/v1` EndpointSlice that discovery reads. The client's
 * `V1EndpointSlice` fits this shape, and so does plain JSON from the API.
 *
 * @example
 * ```ts
 * const slice: EndpointSliceLike = {
 *   addressType: 'IPv4',
 *   metadata: { name: 'query-worker-x7k2p' },
 *   endpoints: [{ addresses: ['10.244.1.7'], conditions: { ready: true } }],
 *   ports: [{ name: 'query', port: 7101 }],
 * };
 * const { workers } = workersFromSlices([slice], { port: 7101 });
 * ```
 */
export interface EndpointSliceLike {
  readonly addressType: string;
  readonly metadata?: {
    readonly name?: string | undefined;
    readonly labels?: Readonly<Record<string, string>> | undefined;
  } | undefined;
  readonly endpoints?: readonly EndpointLike[] | undefined | null;
  readonly ports?:
    | readonly { readonly name?: string | undefined | null; readonly port?: number | null }[]
    | undefined
    | null;
}

/**
 * One endpoint of a slice: one pod, with one or more interchangeable addresses.
 *
 * @example
 * ```ts
 * const endpoint: EndpointLike = {
 *   addresses: ['10.244.1.7'],
 *   conditions: { ready: false, serving: true, terminating: true },
 *   targetRef: { name: 'query-worker-0', uid: '5f0c2a9e' },
 *   zone: 'us-east-1a',
 * };
 * endpointState(endpoint.conditions, true); // 'draining'
 * ```
 */
export interface EndpointLike {
  readonly addresses: readonly string[];
  readonly conditions?:
    | {
        readonly ready?: boolean | undefined | null;
        readonly serving?: boolean | undefined | null;
        readonly terminating?: boolean | undefined | null;
      }
    | undefined
    | null;
  readonly targetRef?: { readonly uid?: string | undefined; readonly name?: string | undefined }
    | undefined
    | null;
  readonly nodeName?: string | undefined | null;
  readonly zone?: string | undefined | null;
}

/**
 * A worker-set semantics other than this SDK's own, reproduced exactly so that coordinators of
 * both kinds see the same workers. `lakerunner-go`: lakerunner's Go coordinators (issue 9).
 *
 * @example
 * ```ts
 * const { workers } = workersFromSlices(slices, { port: 7101, compatibility: 'lakerunner-go' });
 * ```
 */
export type DiscoveryCompatibility = 'lakerunner-go';

/**
 * How to turn slices into workers.
 *
 * @example
 * ```ts
 * const options: SliceOptions = {
 *   port: 7101,
 *   keepDraining: true,
 *   addressTypes: ['IPv4', 'IPv6'],
 * };
 * const { workers } = workersFromSlices(slices, options);
 * ```
 */
export interface SliceOptions {
  /** The port every worker answers on (`QUERY_WORKER_PORT`). */
  readonly port: number;
  /**
   * Keep endpoints that are terminating but still serving, as `state: 'draining'`, so in-flight
   * work can finish and balancers can use them as a last resort. Default `false`.
   */
  readonly keepDraining?: boolean | undefined;
  /**
   * Address families to admit. Default `['IPv4']`. Admit `['IPv4', 'IPv6']` on dual-stack
   * clusters: a pod listed in both an IPv4 and an IPv6 slice is still one worker.
   */
  readonly addressTypes?: readonly string[] | undefined;
  /**
   * Which address a dual-stack worker is reached at when both families are ready. Default: the
   * first entry of `addressTypes`.
   */
  readonly preferredAddressType?: string | undefined;
  /**
   * Take each slice's port with this name (such as `query`) instead of `port`. Slices without a
   * port of that name are skipped and counted in {@link SliceReport.missingPort}.
   */
  readonly portName?: string | undefined;
  /**
   * Reproduce another implementation's worker set instead of the API's semantics. With
   * `lakerunner-go`: an absent `ready` is not ready, `serving: false` is not ready, every IPv4
   * address of an endpoint is a worker (one per `ip:port`), whatever the slice's address type,
   * at the slice's first port (else `servicePorts`, else `port`); `keepDraining`, `addressTypes`,
   * `preferredAddressType` and `portName` are ignored. Default: none.
   */
  readonly compatibility?: DiscoveryCompatibility | undefined;
  /**
   * `lakerunner-go` only: each Service's first port, by Service name, for its slices that
   * list no port (the Go coordinators fall back to it before `port`).
   */
  readonly servicePorts?: ReadonlyMap<string, number> | undefined;
  /**
   * Which addresses may become workers. Whoever can write EndpointSlices decides where
   * fragments go, so the default, `createAddressPolicy()`, refuses unspecified, loopback,
   * link-local (cloud metadata), multicast and broadcast addresses. Refused addresses are
   * counted in {@link SliceReport.refusedAddresses} and listed in {@link SliceWorkers.refused}.
   */
  readonly addressPolicy?: Pick<AddressPolicy, 'check'> | undefined;
}

/**
 * What discovery saw, so an empty result can be explained rather than guessed at.
 *
 * @example
 * ```ts
 * const { workers, report } = workersFromSlices(slices, { port: 7101 });
 * if (workers.length === 0) {
 *   const seen: SliceReport = report;
 *   console.warn(`${seen.endpoints} endpoints: ${seen.notReady} not ready, ` +
 *     `${seen.refusedAddresses} refused`);
 * }
 * ```
 */
export interface SliceReport {
  /** Slices looked at. */
  slices: number;
  /** Slices skipped because their address type was not admitted (IPv6, FQDN). */
  skippedSlicesByAddressType: number;
  /** Endpoints looked at, in admitted slices. */
  endpoints: number;
  /** Endpoints whose `ready` condition was false (and that were not kept as draining). */
  notReady: number;
  /** Endpoints that were terminating (and not kept as draining). */
  terminating: number;
  /** Endpoints without a usable address. */
  badAddresses: number;
  /** Endpoints that named a worker already found in another slice. */
  duplicates: number;
  /** Slices skipped because they had no port with the configured name. */
  missingPort: number;
  /** Slices whose port (of the configured name) was not a valid port, 1-65535. */
  badPorts: number;
  /** Endpoints whose address the address policy refused (loopback, link-local, ...). */
  refusedAddresses: number;
  /** Refused addresses by reason. */
  refusals: Partial<Record<AddressRefusal, number>>;
}

/**
 * The result of {@link workersFromSlices}: workers plus the counts behind them.
 *
 * @example
 * ```ts
 * const result: SliceWorkers = workersFromSlices(slices, { port: 7101 });
 * for (const [address, reason] of result.refused) console.warn(`refused ${address}: ${reason}`);
 * ```
 */
export interface SliceWorkers {
  readonly workers: Worker[];
  readonly report: SliceReport;
  /** Each address the address policy refused, with the reason, for a log line per address. */
  readonly refused: ReadonlyMap<string, AddressRefusal>;
}

/** An empty report, for sources that have looked at nothing yet. */
export function emptySliceReport(): SliceReport {
  return {
    slices: 0,
    skippedSlicesByAddressType: 0,
    endpoints: 0,
    notReady: 0,
    terminating: 0,
    badAddresses: 0,
    duplicates: 0,
    missingPort: 0,
    badPorts: 0,
    refusedAddresses: 0,
    refusals: {},
  };
}

const strictPolicy = createAddressPolicy();

/** Checks an address; counts and records a refusal. True when the address may be used. */
function admitted(
  ip: string,
  policy: Pick<AddressPolicy, 'check'>,
  report: SliceReport,
  refused: Map<string, AddressRefusal>,
): boolean {
  const refusal = policy.check(ip);
  if (refusal === undefined) return true;

  report.refusedAddresses += 1;
  report.refusals[refusal] = (report.refusals[refusal] ?? 0) + 1;
  refused.set(ip, refusal);
  return false;
}

/**
 * The state an endpoint's conditions give it, or `undefined` when it takes no fragments.
 * The API defines absent `ready` as ready, absent `serving` as `ready`, absent `terminating`
 * as false.
 *
 * @example
 * ```ts
 * endpointState({ ready: true }, false); // 'ready'
 * endpointState({ ready: false }, false); // 'not-ready'
 * endpointState({ ready: false, serving: true, terminating: true }, true); // 'draining'
 * endpointState({ ready: false, serving: true, terminating: true }, false); // 'terminating'
 * ```
 */
export function endpointState(
  conditions: EndpointLike['conditions'],
  keepDraining: boolean,
): WorkerState | 'not-ready' | 'terminating' {
  // The API's own rule (absent ready is ready); the Go parity rule is goEndpointState.
  const ready = conditions?.ready ?? true;
  const serving = conditions?.serving ?? ready;
  const terminating = conditions?.terminating ?? false;

  if (terminating) return keepDraining && serving ? 'draining' : 'terminating';
  if (ready) return 'ready';
  return 'not-ready';
}

function addressMatches(address: string, addressType: string): boolean {
  const family = isIP(address);
  return (addressType === 'IPv4' && family === 4) || (addressType === 'IPv6' && family === 6);
}

/** Ready beats draining; between equals, the preferred address family wins. */
function rank(state: WorkerState, addressType: string, preferred: string | undefined): number {
  return (state === 'ready' ? 2 : 0) + (addressType === preferred ? 1 : 0);
}

function slicePort(
  slice: EndpointSliceLike,
  options: SliceOptions,
): number | 'missing' | 'invalid' {
  if (options.portName === undefined) return options.port;
  const named = slice.ports?.find((port) => port.name === options.portName);
  if (named === undefined) return 'missing';
  // A slice is written by whoever can write slices: its port is checked like its addresses.
  return isPort(named.port) ? named.port : 'invalid';
}

/**
 * Turns EndpointSlices into workers. Pure: no I/O.
 *
 * One worker per endpoint, at its first address (the API says an endpoint's addresses are
 * interchangeable). The worker's `id` is the pod UID when the endpoint names its pod, else
 * `ip:port`. A worker seen in several slices (slices are rebalanced, and watchers see the halves
 * of a move at different times; dual-stack Services have one slice per family) is one worker,
 * ready if any copy is ready, at the preferred family's address when both are usable. Workers
 * come back sorted by address.
 *
 * Slices are written by whoever may write them, not only by the EndpointSlice controller, so
 * each address passes `options.addressPolicy` (loopback, link-local, multicast, broadcast and
 * unspecified refused by default) and a named port must be 1-65535; what fails is counted in
 * the report, and refused addresses are listed in `refused` for logging.
 *
 * @example
 * ```ts
 * const { workers, report } = workersFromSlices(slices, { port: 7101 });
 * if (workers.length === 0) console.log(`${report.notReady} endpoints were not ready`);
 * ```
 */
export function workersFromSlices(
  slices: readonly EndpointSliceLike[],
  options: SliceOptions,
): SliceWorkers {
  if (options.compatibility === 'lakerunner-go') return goParityWorkers(slices, options);

  const families = options.addressTypes ?? ['IPv4'];
  const keepDraining = options.keepDraining ?? false;
  const report = emptySliceReport();
  const preferred = options.preferredAddressType ?? families[0];
  const byId = new Map<string, { worker: Worker; rank: number }>();
  const policy = options.addressPolicy ?? strictPolicy;
  const refused = new Map<string, AddressRefusal>();

  for (const slice of slices) {
    report.slices += 1;
    if (!families.includes(slice.addressType)) {
      report.skippedSlicesByAddressType += 1;
      continue;
    }
    const port = slicePort(slice, options);
    if (port === 'missing' || port === 'invalid') {
      if (port === 'missing') report.missingPort += 1;
      else report.badPorts += 1;
      continue;
    }

    for (const endpoint of slice.endpoints ?? []) {
      report.endpoints += 1;
      const state = endpointState(endpoint.conditions, keepDraining);
      if (state === 'not-ready') report.notReady += 1;
      if (state === 'terminating') report.terminating += 1;
      if (state === 'not-ready' || state === 'terminating') continue;

      const ip = endpoint.addresses[0];
      if (ip === undefined || !addressMatches(ip, slice.addressType)) {
        report.badAddresses += 1;
        continue;
      }
      if (!admitted(ip, policy, report, refused)) continue;

      const worker = endpointWorker(endpoint, ip, port, state);
      const workerRank = rank(state, slice.addressType, preferred);
      const seen = byId.get(worker.id);
      if (seen !== undefined) report.duplicates += 1;
      if (seen === undefined || workerRank > seen.rank) {
        byId.set(worker.id, { worker, rank: workerRank });
      }
    }
  }

  const workers = [...byId.values()].map((entry) => entry.worker);
  return { workers: workers.sort(compareWorkers), report, refused };
}

function endpointWorker(
  endpoint: EndpointLike,
  ip: string,
  port: number,
  state: WorkerState,
): Worker {
  const uid = endpoint.targetRef?.uid;
  const worker: Worker = {
    id: uid !== undefined && uid !== '' ? uid : hostPort(ip, port),
    ip,
    port,
    state,
    podName: endpoint.targetRef?.name ?? undefined,
    nodeName: endpoint.nodeName ?? undefined,
    zone: endpoint.zone ?? undefined,
  };
  return worker;
}

/**
 * The Go coordinators' rule: ready only when `ready` is present and true, `serving` is not
 * false and `terminating` is not true.
 */
function goEndpointState(conditions: EndpointLike['conditions']): 'ready' | 'not-ready' |
  'terminating' {
  if (conditions?.terminating === true) return 'terminating';
  if (conditions?.ready !== true || conditions.serving === false) return 'not-ready';
  return 'ready';
}

const ipv4Mapped = new BlockList();
ipv4Mapped.addSubnet('::ffff:0:0', 96, 'ipv6');

/** Go's `net.ParseIP(a).To4() != nil`: an IPv4 address, or IPv6 that maps one. */
function goIsIPv4(address: string): boolean {
  const family = isIP(address);
  return family === 4 || (family === 6 && ipv4Mapped.check(address, 'ipv6'));
}

/**
 * The worker set of lakerunner's Go coordinators, address for address: every IPv4 address of
 * every ready endpoint, one worker per `ip:port` (the first seen wins), at the slice's first
 * port, else its Service's first port, else the configured one. Ids stay unique: the pod UID
 * goes to the pod's first address in address order, any other address of the same pod is
 * known by `ip:port`.
 */
function goParityWorkers(slices: readonly EndpointSliceLike[], options: SliceOptions):
  SliceWorkers {
  const report = emptySliceReport();
  const byAddress = new Map<string, Worker>();
  const policy = options.addressPolicy ?? strictPolicy;
  const refused = new Map<string, AddressRefusal>();

  for (const slice of slices) {
    report.slices += 1;
    const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
    const servicePort = service === undefined ? undefined : options.servicePorts?.get(service);
    const port = slice.ports?.[0]?.port ?? servicePort ?? options.port;
    if (!isPort(port)) {
      report.badPorts += 1;
      continue;
    }

    for (const endpoint of slice.endpoints ?? []) {
      report.endpoints += 1;
      const state = goEndpointState(endpoint.conditions);
      if (state === 'not-ready') report.notReady += 1;
      if (state === 'terminating') report.terminating += 1;
      if (state !== 'ready') continue;

      const usable = endpoint.addresses.filter(goIsIPv4);
      if (usable.length === 0) report.badAddresses += 1;
      for (const ip of usable) {
        if (!admitted(ip, policy, report, refused)) continue;
        const address = hostPort(ip, port);
        if (byAddress.has(address)) report.duplicates += 1;
        else byAddress.set(address, endpointWorker(endpoint, ip, port, 'ready'));
      }
    }
  }

  const workers = [...byAddress.values()].sort(compareWorkers);
  const claimed = new Set<string>();
  return {
    workers: workers.map((worker) => {
      const unique = !claimed.has(worker.id);
      claimed.add(worker.id);
      return unique ? worker : { ...worker, id: workerAddress(worker) };
    }),
    report,
    refused,
  };
}
