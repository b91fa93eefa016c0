import { BlockList, isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Environment } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Which cluster-supplied addresses may become workers. Whoever can write EndpointSlices (or ECS
 * task metadata) decides where fragments go, and fragments carry customers' data and
 * credentials, so the SDK refuses what Kubernetes itself refuses for endpoints, and more.
 *
 * @example
 * ```ts
 * const options: AddressPolicyOptions = { allowLoopback: false, allowedCidrs: ['10.244.0.0/16'] };
 * const addressPolicy = createAddressPolicy(options);
 * const discovery = new KubernetesWorkerDiscovery({ addressPolicy });
 * ```
 */
export interface AddressPolicyOptions {
  /**
   * Admit loopback addresses (127.0.0.0/8, ::1). Off by default: a real cluster never lists
   * them; the demo and tests turn it on to reach fakes on 127.0.0.1.
   */
  readonly allowLoopback?: boolean | undefined;
  /**
   * If set, only addresses inside one of these CIDR ranges are admitted, for example the pod
   * network `['10.244.0.0/16']`.
   */
  readonly allowedCidrs?: readonly string[] | undefined;
}

/**
 * Why an address was refused.
 *
 * @example
 * ```ts
 * const { refused } = workersFromSlices(slices, { port: 7101 });
 * for (const [address, reason] of refused) {
 *   const why: AddressRefusal = reason;
 *   if (why === 'link-local') console.error(`${address} looks like a metadata endpoint`);
 * }
 * ```
 */
export type AddressRefusal =
  | 'malformed'
  | 'unspecified'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'broadcast'
  | 'not-allowed';

/**
 * Checks addresses against the built-in deny list and the optional allow-list.
 *
 * @example
 * ```ts
 * const policy: AddressPolicy = createAddressPolicy({ allowedCidrs: ['10.244.0.0/16'] });
 * const refusal = policy.check('10.244.3.9');
 * if (refusal !== undefined) console.warn(`refused (${refusal}) by ${policy.description}`);
 * ```
 */
export interface AddressPolicy {
  /** `undefined` when the address may be used, else why not. */
  check(address: string): AddressRefusal | undefined;
  /** A short description, for logs and the CLI. */
  readonly description: string;
}

const denied: ReadonlyArray<[string, number, 'ipv4' | 'ipv6', AddressRefusal]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  // Link-local, which includes the cloud metadata services at 169.254.169.254.
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['255.255.255.255', 32, 'ipv4', 'broadcast'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

function rangeList(range: readonly [string, number, 'ipv4' | 'ipv6', AddressRefusal]): BlockList {
  const list = new BlockList();
  list.addSubnet(range[0], range[1], range[2]);
  return list;
}

const deniedLists = denied.map((range) => ({ list: rangeList(range), refusal: range[3] }));

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`), if it is one. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return match?.[1] ?? address;
}

/**
 * Parses CIDR ranges such as `10.244.0.0/16` or `fd00::/8` into a BlockList.
 *
 * @throws {ConfigError} naming the option and the range at fault.
 *
 * @example
 * ```ts
 * const ranges = parseCidrs('--allowed-cidrs', ['10.244.0.0/16', 'fd00::/8']);
 * ranges.check('10.244.7.1', 'ipv4'); // true
 * ranges.check('192.168.0.1', 'ipv4'); // false
 * ```
 */
export function parseCidrs(setting: string, ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [network = '', bits, extra] = range.trim().split('/');
    const family = isIP(network);
    const prefix = bits !== undefined && /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    const max = family === 6 ? 128 : 32;

    if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new ConfigError(
        setting,
        `${setting} has ${JSON.stringify(range)}: expected a CIDR range such as ` +
          '"10.244.0.0/16" or "fd00::/8"',
      );
    }
    list.addSubnet(network, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * Builds the address check used before any cluster-supplied address becomes a worker.
 *
 * @example
 * ```ts
 * const policy = createAddressPolicy({ allowedCidrs: ['10.244.0.0/16'] });
 * policy.check('10.244.1.7');      // undefined: allowed
 * policy.check('169.254.169.254'); // 'link-local'
 * policy.check('10.9.0.1');        // 'not-allowed'
 * ```
 */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allowLoopback = options.allowLoopback ?? false;
  const allowed =
    options.allowedCidrs === undefined
      ? undefined
      : parseCidrs('allowedCidrs', options.allowedCidrs);

  const check = (raw: string): AddressRefusal | undefined => {
    const address = unmapped(raw);
    const family = isIP(address);
    if (family === 0) return 'malformed';

    const type = family === 6 ? 'ipv6' : 'ipv4';
    const hit = deniedLists.find(({ list }) => list.check(address, type));
    if (hit !== undefined && !(hit.refusal === 'loopback' && allowLoopback)) return hit.refusal;
    if (allowed !== undefined && !allowed.check(address, type)) return 'not-allowed';
    return undefined;
  };

  const parts = [allowLoopback ? 'loopback allowed' : 'loopback refused'];
  if (options.allowedCidrs !== undefined) parts.push(`only ${options.allowedCidrs.join(', ')}`);
  return { check, description: parts.join('; ') };
}

/**
 * The variable that holds the allow-list of worker CIDR ranges, comma-separated, for
 * Kubernetes and ECS discovery alike: `WORKER_ALLOWED_CIDRS=10.244.0.0/16,fd00:10:244::/56`.
 *
 * @example
 * ```ts
 * const env = { ...process.env, [allowedCidrsVariable]: '10.244.0.0/16' };
 * const discovery = new KubernetesWorkerDiscovery({ env });
 * ```
 */
export const allowedCidrsVariable = 'WORKER_ALLOWED_CIDRS';

/**
 * The address policy from options, else from `WORKER_ALLOWED_CIDRS`. Loopback is never taken
 * from the environment: a deployment that can set variables should not be able to point
 * fragments at the coordinator's own host without a code change or a CLI flag.
 *
 * @throws {ConfigError} naming the variable (or `setting`) and the range at fault.
 *
 * @example
 * ```ts
 * const policy = addressPolicyFromEnv(process.env, { allowLoopback: false });
 * ```
 */
export function addressPolicyFromEnv(
  env: Environment,
  options: AddressPolicyOptions = {},
  setting: string = allowedCidrsVariable,
): AddressPolicy {
  const listed = options.allowedCidrs ?? splitCidrs(env[allowedCidrsVariable]);
  if (listed !== undefined) parseCidrs(setting, listed);
  return createAddressPolicy({ allowLoopback: options.allowLoopback, allowedCidrs: listed });
}

/**
 * Splits a comma-separated list of ranges; blank means not set.
 *
 * @example
 * ```ts
 * splitCidrs(' 10.0.0.0/8, fd00::/8 '); // ['10.0.0.0/8', 'fd00::/8']
 * splitCidrs('');                      // undefined
 * ```
 */
export function splitCidrs(text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split(',').map((range) => range.trim()).filter((range) => range !== '');
}

/**
 * Logs each refused address once, not on every re-list or watch event, so a hostile or broken
 * slice cannot flood the logs. Remembers the last 10,000 addresses, so memory stays bounded.
 *
 * @example
 * ```ts
 * const log = new RefusalLog(logger, 'kubernetes');
 * log.note(workersFromSlices(slices, options).refused);
 * ```
 */
export class RefusalLog {
  readonly #logger: Logger;
  readonly #source: string;
  readonly #seen = new LRUCache<string, AddressRefusal>({ max: 10_000 });

  constructor(logger: Logger, source: string) {
    this.#logger = logger;
    this.#source = source;
  }

  /** Warns about each address not warned about before (or refused for a new reason). */
  note(refused: ReadonlyMap<string, AddressRefusal>): void {
    for (const [address, reason] of refused) {
      if (this.#seen.get(address) === reason) continue;
      this.#seen.set(address, reason);
      this.#logger.warn(
        { source: this.#source, address, reason },
        'refused a worker address from the cluster; it will not receive fragments',
      );
    }
  }
}
