import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';

/**
 * A host as it is written in a URL or in `host:port` text: an IPv6 literal in brackets
 * (`fd00::7` → `[fd00::7]`), anything else unchanged. Already bracketed input is kept.
 *
 * @example
 * ```ts
 * urlHost('fd00:10:244::7'); // '[fd00:10:244::7]'
 * urlHost('10.0.0.7');       // '10.0.0.7'
 * ```
 */
export function urlHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/**
 * `host:port` text with IPv6 in brackets, as in reports, ids and the `QUERY_WORKERS` form.
 *
 * @example
 * ```ts
 * hostPort('fd00::7', 8080); // '[fd00::7]:8080'
 * ```
 */
export function hostPort(host: string, port: number | string): string {
  return `${urlHost(host)}:${port}`;
}

/**
 * Options for {@link originOf}.
 *
 * @example
 * ```ts
 * const options: OriginOptions = { keepDefaultPort: true, setting: 'KUBERNETES_SERVICE_HOST' };
 * ```
 */
export interface OriginOptions {
  /**
   * Write the port even when it is the scheme's default (`https://[fd00::1]:443`), as the
   * in-cluster API server URL traditionally is. Default `false`: `URL`'s own form.
   */
  readonly keepDefaultPort?: boolean | undefined;
  /** The setting or field to blame when the host or port is unusable. Default `host`. */
  readonly setting?: string | undefined;
}

/**
 * The `scheme://host:port` origin of a server, built with the URL class so that IPv6
 * literals are bracketed and normalised and nothing else can slip into the authority.
 *
 * @throws {ConfigError} naming `options.setting` when the host or the port does not fit in a
 *   URL (a space, a slash, a port out of range).
 * @example
 * ```ts
 * originOf('http:', 'fd00:10:244::7', 8080); // 'http://[fd00:10:244::7]:8080'
 * originOf('https:', 'fd00:10:96::1', 443, { keepDefaultPort: true });
 * // 'https://[fd00:10:96::1]:443'
 * ```
 */
export function originOf(
  protocol: 'http:' | 'https:',
  host: string,
  port: number | string,
  options: OriginOptions = {},
): string {
  const setting = options.setting ?? 'host';
  const portText = String(port);

  // The setters ignore what they cannot parse, so start from a host no input can produce
  // and check that both settings took.
  const url = new URL(`${protocol}//unset.invalid`);
  url.hostname = urlHost(host);
  url.port = portText;

  const hostTook = url.hostname !== 'unset.invalid' && host !== '' && !/[/?#@\s]/.test(host);
  if (!hostTook) {
    throw new ConfigError(setting, `${setting} ${JSON.stringify(host)} is not a host that can ` +
      'go in a URL; expected an IP address or a DNS name');
  }
  const isDefault = url.port === '' && portText === (protocol === 'https:' ? '443' : '80');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 ||
    (url.port !== portText && !isDefault)) {
    throw new ConfigError(setting, `${setting} port ${JSON.stringify(portText)} is not a ` +
      'port; expected a number from 1 to 65535');
  }

  const explicitPort = isDefault && options.keepDefaultPort === true ? `:${portText}` : '';
  return `${url.origin}${explicitPort}`;
}
