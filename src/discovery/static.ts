import { lookup } from 'node:dns/promises';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { firstGiven, type Environment } from '../config.js';
import { AbortedError, ConfigError, DiscoveryError } from '../errors.js';
import {
  compareWorkers,
  workerAddress,
  type GetWorkersOptions,
  type Worker,
  type WorkerDiscovery,
  type WorkerState,
} from './worker.js';
import { hostPort } from './urls.js';

/**
 * The worker used when `QUERY_WORKERS` is not set: one worker on this machine, which is what a
 * developer running a single worker by hand (or the demo) has.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_LOCAL_WORKERS); // '127.0.0.1:8081'
 * ```
 */
export const DEFAULT_LOCAL_WORKERS = '127.0.0.1:8081';

/**
 * A worker given as an object rather than as `host:port` text. `id` defaults to `ip:port` and
 * `state` to `ready`.
 *
 * @example
 * ```ts
 * const worker: StaticWorkerInit = { ip: '10.0.0.7', port: 7101, zone: 'us-east-1a' };
 * ```
 */
export interface StaticWorkerInit {
  readonly ip: string;
  readonly port: number;
  readonly id?: string | undefined;
  readonly state?: WorkerState | undefined;
  readonly zone?: string | undefined;
  readonly podName?: string | undefined;
  readonly nodeName?: string | undefined;
}

/**
 * One entry of a static worker list: `host:port` text (IPv6 as `[addr]:port`) or an object.
 *
 * @example
 * ```ts
 * const entries: StaticWorkerEntry[] = ['10.0.0.7:7101', { ip: '10.0.0.8', port: 7101 }];
 * ```
 */
export type StaticWorkerEntry = string | StaticWorkerInit;

/**
 * Turns a host name into its addresses. The default asks the system resolver (`dns.lookup`),
 * so `/etc/hosts` and container DNS names work as they do for any other program.
 *
 * @example
 * ```ts
 * const resolveHost: HostResolver = async () => ['10.0.0.7'];
 * ```
 */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

/**
 * Options for {@link StaticWorkerDiscovery}.
 *
 * @example
 * ```ts
 * const options: StaticWorkerDiscoveryOptions = { setting: 'workers' };
 * ```
 */
export interface StaticWorkerDiscoveryOptions {
  /**
   * The name that errors blame for a bad entry: `QUERY_WORKERS` when the list came from the
   * environment, the option name otherwise. Default `workers`.
   */
  readonly setting?: string | undefined;
  /** Resolves host names other than `localhost`; default: the system resolver. */
  readonly resolveHost?: HostResolver | undefined;
}

/** A validated entry: either a literal address or a host name to resolve when asked. */
type ParsedEntry =
  | { readonly kind: 'worker'; readonly worker: Worker }
  | { readonly kind: 'hostname'; readonly hostname: string; readonly port: number };

const entryForm = 'host:port, such as 10.0.0.7:8081, or [fd00::7]:8081 for IPv6';
const hostLabel = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const hostnamePattern = new RegExp(`^(?=.{1,253}$)${hostLabel}(\\.${hostLabel})*\\.?$`);

/**
 * A fixed list of workers, for development, the demo and hand-run setups.
 *
 * The operator wrote the list, so no address is filtered out (127.0.0.1 is the usual case).
 * IP literals are used as given. `localhost` means 127.0.0.1 without asking DNS, because it
 * may resolve to `::1` first while workers commonly listen on IPv4 only. Other host names are
 * resolved on every {@link StaticWorkerDiscovery.getWorkers} call, so a container name that
 * moves is followed; each address becomes a worker with the id `ip:port`.
 *
 * @example
 * ```ts
 * const discovery = StaticWorkerDiscovery.fromEnv(process.env); // QUERY_WORKERS
 * const fixed = new StaticWorkerDiscovery(['127.0.0.1:7101', '[::1]:7102']);
 * console.log(await fixed.getWorkers());
 * ```
 */
export class StaticWorkerDiscovery implements WorkerDiscovery {
  /** Always `local`. */
  readonly kind = 'local';
  /**
   * How often a cache should ask again; `undefined` lets the cache use its default, since a
   * static list only changes when a host name resolves differently.
   */
  readonly refreshIntervalMs: number | undefined = undefined;

  readonly #entries: readonly ParsedEntry[];
  readonly #resolveHost: HostResolver;
  readonly #setting: string;

  /**
   * @param entries - `host:port` strings and/or worker objects; at least one.
   * @throws ConfigError naming the entry at fault and the form expected.
   */
  constructor(entries: readonly StaticWorkerEntry[], options: StaticWorkerDiscoveryOptions = {}) {
    this.#setting = options.setting ?? 'workers';
    this.#resolveHost = options.resolveHost ?? resolveWithSystem;
    this.#entries = parseEntries(entries, this.#setting);
  }

  /**
   * Builds the list from `QUERY_WORKERS` (comma separated `host:port` entries), or a single
   * worker at {@link DEFAULT_LOCAL_WORKERS} when it is unset or blank.
   *
   * @example
   * ```ts
   * const discovery = StaticWorkerDiscovery.fromEnv({ QUERY_WORKERS: '127.0.0.1:7101' });
   * ```
   */
  static fromEnv(
    env: Environment = process.env,
    options: Omit<StaticWorkerDiscoveryOptions, 'setting'> = {},
  ): StaticWorkerDiscovery {
    const given = firstGiven({ name: 'QUERY_WORKERS', value: env.QUERY_WORKERS });
    const raw = given === undefined ? DEFAULT_LOCAL_WORKERS : String(given.value);
    const setting = 'QUERY_WORKERS';
    return new StaticWorkerDiscovery(splitWorkerList(raw), { ...options, setting });
  }

  /**
   * The workers, sorted by address. Host names are resolved now; a name that does not resolve
   * fails the whole call, so a cache keeps the last good list instead of losing that worker.
   *
   * @example
   * ```ts
   * const workers = await discovery.getWorkers({ signal: AbortSignal.timeout(5_000) });
   * ```
   */
  async getWorkers(options: GetWorkersOptions = {}): Promise<Worker[]> {
    const { signal } = options;
    throwIfAborted(signal);

    const byId = new Map<string, Worker>();
    for (const entry of this.#entries) {
      const workers = entry.kind === 'worker' ? [entry.worker] : await this.#resolve(entry);
      throwIfAborted(signal);
      // A host name may resolve to an address also listed literally: one worker, not two.
      for (const worker of workers) if (!byId.has(worker.id)) byId.set(worker.id, worker);
    }

    return [...byId.values()].sort(compareWorkers);
  }

  async #resolve(entry: { hostname: string; port: number }): Promise<Worker[]> {
    let addresses: readonly string[];
    try {
      addresses = await this.#resolveHost(entry.hostname);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new DiscoveryError(
        'not-found',
        `${this.#setting}: the host name ${JSON.stringify(entry.hostname)} did not resolve ` +
          `(${detail}); use an IP address or a name this machine can resolve`,
      );
    }

    return addresses.map((ip) => literalWorker(ip, entry.port));
  }
}

/**
 * Splits a comma separated worker list, trimming blanks around entries and ignoring empty
 * ones, so `a:1, b:2,` reads as two entries.
 *
 * @example
 * ```ts
 * splitWorkerList('10.0.0.7:7101, [fd00::7]:7101'); // ['10.0.0.7:7101', '[fd00::7]:7101']
 * ```
 */
export function splitWorkerList(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function parseEntries(entries: readonly StaticWorkerEntry[], setting: string): ParsedEntry[] {
  if (entries.length === 0) {
    const problem = `lists no workers; expected at least one ${entryForm}`;
    throw new ConfigError(setting, `${setting} ${problem}`);
  }

  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const parsed =
      typeof entry === 'string'
        ? parseTextEntry(entry, setting, index)
        : parseObjectEntry(entry, setting, index);

    // A repeated entry would silently double that worker's share, so it is an error.
    const key = parsed.kind === 'worker'
      ? parsed.worker.id
      : hostPort(parsed.hostname, parsed.port);
    if (seen.has(key)) {
      throw entryError(setting, index, entry, 'repeats an earlier entry; list each worker once');
    }
    seen.add(key);

    return parsed;
  });
}

function parseTextEntry(entry: string, setting: string, index: number): ParsedEntry {
  const text = entry.trim();
  if (text.includes('://') || text.includes('/')) {
    throw entryError(setting, index, entry, `has a scheme or path; expected ${entryForm}`);
  }

  const split = splitHostPort(text);
  if (!split) throw entryError(setting, index, entry, `is not ${entryForm}`);

  const port = /^[1-9][0-9]{0,4}$/.test(split.port) ? Number(split.port) : 0;
  if (port < 1 || port > 65535) {
    throw entryError(setting, index, entry, 'has a bad port; expected 1 to 65535');
  }

  return parseHost(split.host, split.bracketed, port, { setting, index, entry });
}

function splitHostPort(
  text: string,
): { host: string; port: string; bracketed: boolean } | undefined {
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracketed) return { host: bracketed[1] ?? '', port: bracketed[2] ?? '', bracketed: true };

  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  return { host: text.slice(0, colon), port: text.slice(colon + 1), bracketed: false };
}

function parseHost(
  host: string,
  bracketed: boolean,
  port: number,
  at: { setting: string; index: number; entry: StaticWorkerEntry },
): ParsedEntry {
  if (bracketed) {
    if (isIPv6(host)) return { kind: 'worker', worker: literalWorker(host, port) };
    throw entryError(at.setting, at.index, at.entry, 'has brackets around a non-IPv6 address');
  }

  if (host.includes(':')) {
    throw entryError(at.setting, at.index, at.entry, 'is an IPv6 address without brackets; ' +
      'write it as [addr]:port, such as [fd00::7]:8081');
  }

  if (isIPv4(host)) return { kind: 'worker', worker: literalWorker(host, port) };
  if (host.toLowerCase() === 'localhost') {
    return { kind: 'worker', worker: literalWorker('127.0.0.1', port) };
  }

  // A name whose last label is all digits is a mistyped IPv4 address, not a host name.
  if (hostnamePattern.test(host) && !/(^|\.)[0-9]+\.?$/.test(host)) {
    return { kind: 'hostname', hostname: host, port };
  }

  throw entryError(at.setting, at.index, at.entry, `has a bad host; expected ${entryForm}`);
}

function parseObjectEntry(entry: StaticWorkerInit, setting: string, index: number): ParsedEntry {
  if (typeof entry !== 'object' || entry === null || isIP(String(entry.ip)) === 0) {
    throw entryError(setting, index, entry, 'needs `ip` set to an IPv4 or IPv6 address');
  }

  if (!Number.isInteger(entry.port) || entry.port < 1 || entry.port > 65535) {
    throw entryError(setting, index, entry, 'needs `port` set to a whole number, 1 to 65535');
  }

  const state = entry.state ?? 'ready';
  if (state !== 'ready' && state !== 'draining') {
    throw entryError(setting, index, entry, "has a bad `state`; expected 'ready' or 'draining'");
  }

  if (entry.id !== undefined && (typeof entry.id !== 'string' || entry.id === '')) {
    throw entryError(setting, index, entry, 'has an empty or non-text `id`');
  }

  const worker: Worker = {
    id: entry.id ?? workerAddress(entry),
    ip: entry.ip,
    port: entry.port,
    state,
    zone: entry.zone,
    podName: entry.podName,
    nodeName: entry.nodeName,
  };
  return { kind: 'worker', worker };
}

function literalWorker(ip: string, port: number): Worker {
  return { id: workerAddress({ ip, port }), ip, port, state: 'ready' };
}

function entryError(
  setting: string,
  index: number,
  entry: StaticWorkerEntry,
  problem: string,
): ConfigError {
  return new ConfigError(
    setting,
    `${setting} entry ${index + 1} (${JSON.stringify(entry)}) ${problem}`,
  );
}

async function resolveWithSystem(hostname: string): Promise<string[]> {
  const results = await lookup(hostname, { all: true });
  return results.map((result) => result.address);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new AbortedError('static worker discovery was aborted', { cause: signal.reason });
  }
}
