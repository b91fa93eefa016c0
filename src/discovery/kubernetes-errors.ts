import { ApiException } from '@kubernetes/client-node';
import { AbortedError, DiscoveryError } from '../errors.js';
import { errorCode, retryAfterMs } from '../error-details.js';
import { unreachableCodes } from './network-errors.js';

/** What was being asked of the API server when something failed. */
export interface ApiCallContext {
  readonly server: string;
  readonly namespace: string;
  /** The resource listed, such as `endpointslices`. */
  readonly resource: string;
  /** The API group of that resource, such as `discovery.k8s.io` (empty for the core group). */
  readonly group: string;
  /** Whether the call was aborted by our own deadline rather than by the caller. */
  readonly timedOutAfterMs?: number | undefined;
}

const networkCodes = new Set([
  ...unreachableCodes,
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const tlsCodePattern = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/;

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** The RBAC rule a service account needs to list (and watch) a resource. */
export function rbacRule(context: ApiCallContext): string {
  const group = context.group === '' ? '"" (core)' : context.group;
  return (
    `"list" and "watch" on "${context.resource}" in API group ${group} ` +
    `in namespace "${context.namespace}"`
  );
}

/**
 * Turns whatever the Kubernetes client threw into a {@link DiscoveryError} that says what failed,
 * where, and what to do. It reads only the status, the headers and the Status message; it never
 * copies request headers, so tokens cannot leak into the message.
 */
export function toDiscoveryError(
  error: unknown,
  context: ApiCallContext,
  callerSignal?: AbortSignal,
): DiscoveryError | AbortedError {
  if (callerSignal?.aborted) {
    return new AbortedError('Kubernetes discovery was aborted', { cause: callerSignal.reason });
  }
  // Already typed by our own code (a bound exceeded, say): keep its reason and message.
  if (error instanceof DiscoveryError) return error;
  // `what` for messages that name the server already; `where` adds it for the others.
  const what = `${context.resource} in namespace "${context.namespace}"`;
  const where = `${what} at ${context.server}`;

  if (error instanceof ApiException) return fromStatus(error, context, what);

  if (isAbort(error) && context.timedOutAfterMs !== undefined) {
    return new DiscoveryError(
      'timeout',
      `listing ${where} timed out after ${context.timedOutAfterMs} ms: the API server is slow ` +
        'or unreachable; check the network path to it',
      { server: context.server },
    );
  }

  const code = errorCode(error);
  if (code !== undefined && tlsCodePattern.test(code)) {
    return new DiscoveryError(
      'unreachable',
      `TLS to ${context.server} failed (${code}): the API server's certificate does not ` +
        'match the configured CA or host name; check certificate-authority in the kubeconfig',
      { server: context.server },
    );
  }
  if (code !== undefined && networkCodes.has(code)) {
    return new DiscoveryError(
      'unreachable',
      `cannot reach the Kubernetes API server at ${context.server} (${code}) while listing ` +
        `${what}; check that the server address in the kubeconfig is right and reachable`,
      { server: context.server },
    );
  }
  if (error instanceof SyntaxError) {
    return new DiscoveryError(
      'malformed',
      `the API server at ${context.server} sent a response that is not valid JSON while ` +
        `listing ${what}`,
      { server: context.server },
    );
  }

  const kind = error instanceof Error ? error.name : typeof error;
  return new DiscoveryError(
    'unavailable',
    `listing ${where} failed (${kind}${code ? ` ${code}` : ''})`,
    { server: context.server },
  );
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const message = (body as { message: unknown }).message;
    if (typeof message === 'string') return redactCredentials(message.slice(0, 300));
  }
  return undefined;
}

/**
 * Removes anything shaped like a credential from text the server wrote: a proxy in front of
 * the API server may echo the request's `Authorization` header back in its error.
 *
 * @example
 * ```ts
 * redactCredentials('bad header: Bearer abc.def'); // 'bad header: Bearer [redacted]'
 * ```
 */
export function redactCredentials(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[^\s"',;)}\]]+/gi, '$1 [redacted]')
    .replace(/\b(token|password|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;)}\]]+/gi,
      '$1$2[redacted]');
}

function fromStatus(
  error: ApiException<unknown>,
  context: ApiCallContext,
  what: string,
): DiscoveryError {
  const where = `${what} at ${context.server}`;
  const status = error.code;
  const said = statusMessage(error.body);
  const server = context.server;
  const detail = said === undefined ? '' : ` (the server said: ${said})`;
  const headers = error.headers ?? {};
  const waitMs = retryAfterMs(headers['retry-after'] ?? headers['Retry-After'], Date.now());
  const retryAfter = waitMs === undefined ? undefined : Math.ceil(waitMs / 1000);

  const retrying = retryAfter === undefined ? 'with backoff' : `after ${retryAfter} s`;

  switch (status) {
    case 401:
      return new DiscoveryError(
        'unauthorized',
        `the API server at ${server} rejected our credentials (401 Unauthorized) while listing ` +
          `${what}: the token or client certificate is missing, expired or wrong; check the ` +
          'kubeconfig user, or the mounted service-account token',
        { status, server },
      );
    case 403:
      return new DiscoveryError(
        'forbidden',
        `the API server at ${server} refused to let us list ${what} (403 Forbidden)` +
          `${detail}. Grant the service account ${rbacRule(context)} with a Role and ` +
          'RoleBinding',
        { status, server },
      );
    case 404:
      return new DiscoveryError(
        'not-found',
        `the API server at ${server} has no ${context.resource} API in group ` +
          `${context.group || 'core'} (404 Not Found)${detail}: the cluster may be older than ` +
          'Kubernetes 1.21, or the server URL points at something else',
        { status, server },
      );
    case 410:
      return new DiscoveryError('gone', `listing ${where} expired (410 Gone)${detail}`, {
        status,
        server,
      });
    case 429:
      return new DiscoveryError(
        'throttled',
        `the API server at ${server} is throttling us (429 Too Many Requests) while listing ` +
          `${what}; retrying ${retrying}`,
        { status, server, retryAfterSeconds: retryAfter },
      );
    default:
      return new DiscoveryError(
        status >= 500 ? 'server' : 'unavailable',
        `the API server at ${server} answered ${status} while listing ${what}${detail}`,
        { status, server, retryAfterSeconds: retryAfter },
      );
  }
}
