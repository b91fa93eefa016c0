import {
  ApiException,
  HttpMethod,
  RequestContext,
  type KubeConfig,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import { DiscoveryError, type AbortedError } from '../errors.js';
import { redactCredentials, toDiscoveryError, type ApiCallContext } from './kubernetes-errors.js';

/**
 * The event types a Kubernetes watch stream carries.
 *
 * @example
 * ```ts
 * const counts: Record<WatchEventType, number> = {
 *   ADDED: 0, MODIFIED: 0, DELETED: 0, BOOKMARK: 0,
 * };
 * const onEvent = (event: WatchEvent<unknown>): void => {
 *   counts[event.type] += 1;
 * };
 * ```
 */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/**
 * One object event from a watch: never a `Status` (those end the stream instead).
 *
 * @example
 * ```ts
 * const onEvent = (event: WatchEvent<V1EndpointSlice>): void => {
 *   const name = event.object.metadata?.name ?? '';
 *   if (event.type === 'DELETED') slices.delete(name);
 *   else if (event.type !== 'BOOKMARK') slices.set(name, event.object);
 * };
 * ```
 */
export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/**
 * Why a watch stream ended:
 * - `closed`: the server ended it cleanly (its `timeoutSeconds` ran out); resume from the last
 *   resourceVersion.
 * - `idle`: nothing arrived within the idle limit, so the stream was torn down; the connection
 *   may have been half dead, so events may have been lost.
 * - `gone`: `410 Gone` as an HTTP status or an ERROR event: the resourceVersion is too old and
 *   only a fresh list helps.
 * - `failed`: an HTTP error, a network or TLS failure, an ERROR event, or a line that is not a
 *   valid event; `lostEvents` says whether a fresh list is needed.
 * - `aborted`: our own signal stopped it.
 *
 * @example
 * ```ts
 * const end: WatchEnd = await streamWatch(request);
 * if (end.kind === 'gone') console.warn('resourceVersion too old; list again');
 * else if (end.kind === 'failed' && end.lostEvents) {
 *   console.warn('events may be lost; list again:', end.error.message);
 * }
 * ```
 */
export type WatchEnd =
  | { readonly kind: 'closed' | 'idle' | 'gone' | 'aborted' }
  | { readonly kind: 'failed'; readonly error: DiscoveryError; readonly lostEvents: boolean };

/**
 * What {@link streamWatch} needs.
 *
 * @example
 * ```ts
 * const request: WatchStreamRequest<V1EndpointSlice> = {
 *   kubeConfig,
 *   path: '/apis/discovery.k8s.io/v1/namespaces/lake/endpointslices',
 *   query: { labelSelector: 'app=lakerunner', resourceVersion: '42' },
 *   connectTimeoutMs: 10_000,
 *   idleTimeoutMs: 90_000,
 *   signal: controller.signal,
 *   context: { server, namespace: 'lake', resource: 'endpointslices', group: 'discovery.k8s.io' },
 *   onOpen: () => console.log('watching'),
 *   onEvent: (event) => console.log(event.type, event.object.metadata?.name),
 * };
 * const end = await streamWatch(request);
 * ```
 */
export interface WatchStreamRequest<T> {
  readonly kubeConfig: KubeConfig;
  /** The collection path, such as `/apis/discovery.k8s.io/v1/namespaces/x/endpointslices`. */
  readonly path: string;
  /** Query parameters besides `watch=true`. */
  readonly query: Readonly<Record<string, string>>;
  /** How long to wait for the response headers. */
  readonly connectTimeoutMs: number;
  /** Longest silence allowed once the stream is open. */
  readonly idleTimeoutMs: number;
  /**
   * The longest event line accepted, in characters; a longer one ends the stream as
   * `failed` with reason `too-large` instead of growing a buffer without bound. Default
   * {@link defaultMaxWatchLineLength} (4 Mi), well above the API server's object size limit.
   */
  readonly maxLineLength?: number | undefined;
  /** Stops the stream; the result is then `aborted`. */
  readonly signal: AbortSignal;
  /** For error messages. */
  readonly context: ApiCallContext;
  /** Called once the server accepted the watch (status 200). */
  onOpen(): void;
  /** Called for every object event, in order. */
  onEvent(event: WatchEvent<T>): void;
}

/** The shape of a watch line; checked before anything is trusted. */
interface RawEvent {
  readonly type?: unknown;
  readonly object?: {
    readonly kind?: unknown;
    readonly code?: unknown;
    readonly message?: unknown;
    readonly metadata?: { readonly name?: unknown; readonly resourceVersion?: unknown };
  };
}

/**
 * The default longest watch line: 4 Mi characters. etcd stores objects of at most 1.5 MiB, so
 * a real event line is far shorter.
 *
 * @example
 * ```ts
 * new KubernetesWorkerDiscovery({ maxWatchLineLength: defaultMaxWatchLineLength * 2 });
 * ```
 */
export const defaultMaxWatchLineLength = 4 * 1024 * 1024;

/** The most of a refused watch's error body read, for its Status message. */
const maxErrorBodyLength = 64 * 1024;

const objectEvents = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

/**
 * Runs one Kubernetes watch request to its end and says why it ended.
 *
 * This is our own watch rather than the client's `Watch` class: that class drops lines it
 * cannot parse without a word, throws away the status body and `Retry-After` of a refused watch,
 * and has a fixed private 30 s inactivity limit. Authentication and TLS still come from the
 * client's `KubeConfig` (`applySecurityAuthentication`), so the API server's certificate is
 * checked against the configured CA exactly as for lists.
 *
 * @example
 * ```ts
 * const end = await streamWatch({ kubeConfig, path, query: { resourceVersion: '42' },
 *   connectTimeoutMs: 10_000, idleTimeoutMs: 90_000, signal, context,
 *   onOpen: () => undefined, onEvent: (event) => console.log(event.type) });
 * if (end.kind === 'gone') console.log('list again');
 * ```
 */
export async function streamWatch<T>(request: WatchStreamRequest<T>): Promise<WatchEnd> {
  const controller = new AbortController();
  const stop = (): void => controller.abort(request.signal.reason);
  request.signal.addEventListener('abort', stop, { once: true });

  let phase: 'connecting' | 'streaming' = 'connecting';
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no data for ${ms} ms`));
    }, ms);
  };

  try {
    if (request.signal.aborted) return { kind: 'aborted' };
    arm(request.connectTimeoutMs);
    const response = await open(request, controller.signal);
    if (response.status !== 200) return await refused(response, request.context);

    phase = 'streaming';
    request.onOpen();
    arm(request.idleTimeoutMs);
    const end = await readLines(response.body, request, () => arm(request.idleTimeoutMs));
    return end ?? { kind: 'closed' };
  } catch (error) {
    if (request.signal.aborted) return { kind: 'aborted' };
    if (timedOut && phase === 'streaming') return { kind: 'idle' };
    const context = timedOut
      ? { ...request.context, timedOutAfterMs: request.connectTimeoutMs }
      : request.context;
    // A cut connection loses nothing: the server replays from the last resourceVersion. A
    // bound exceeded while applying an event does: the state is no longer what the server has.
    const typed = toDiscoveryError(error, context);
    return failed(typed, typed instanceof DiscoveryError && typed.reason === 'too-large');
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', stop);
    controller.abort();
  }
}

async function open(
  request: WatchStreamRequest<unknown>,
  signal: AbortSignal,
): Promise<Awaited<ReturnType<typeof fetch>>> {
  const server = request.kubeConfig.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster');

  const url = new URL(server.replace(/\/+$/, '') + request.path);
  for (const [key, value] of Object.entries(request.query)) url.searchParams.set(key, value);
  url.searchParams.set('watch', 'true');

  const context = new RequestContext(url.toString(), HttpMethod.GET);
  await request.kubeConfig.applySecurityAuthentication(context);
  const dispatcher = context.getDispatcher();
  return fetch(url, {
    method: 'GET',
    headers: context.getHeaders(),
    signal,
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
}

/** A non-200 answer to a watch: read its Status body and headers into a typed error. */
async function refused(
  response: Awaited<ReturnType<typeof fetch>>,
  context: ApiCallContext,
): Promise<WatchEnd> {
  const body = await boundedText(response, maxErrorBodyLength);
  if (response.status === 410) return { kind: 'gone' };

  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const exception = new ApiException(response.status, 'watch refused', body, headers);
  return failed(toDiscoveryError(exception, context), false);
}

/** Reads at most `limit` characters of a body, then drops the rest of it. */
async function boundedText(
  response: Awaited<ReturnType<typeof fetch>>,
  limit: number,
): Promise<string> {
  if (response.body === null) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length >= limit) break;
    }
  } catch {
    // The Status message is a courtesy; the status code alone still classifies the failure.
  }
  return text.slice(0, limit);
}

function failed(error: DiscoveryError | AbortedError, lostEvents: boolean): WatchEnd {
  const typed = error instanceof DiscoveryError
    ? error
    : new DiscoveryError('unavailable', error.message);
  return { kind: 'failed', error: typed, lostEvents };
}

/** Splits the body into lines and handles each; returns how the stream ended, if early. */
async function readLines<T>(
  body: AsyncIterable<Uint8Array> | null,
  request: WatchStreamRequest<T>,
  onData: () => void,
): Promise<WatchEnd | undefined> {
  if (body === null) return undefined;
  const decoder = new TextDecoder();
  const maxLineLength = request.maxLineLength ?? defaultMaxWatchLineLength;
  let buffered = '';

  for await (const chunk of body) {
    onData();
    buffered += decoder.decode(chunk, { stream: true });

    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line === '') continue;
      if (line.length > maxLineLength) return lineTooLong(maxLineLength, request.context);

      const end = handleLine(line, request);
      if (end !== undefined) return end;
    }
    // What is left is one unfinished line: stop before it outgrows the bound.
    if (buffered.length > maxLineLength) return lineTooLong(maxLineLength, request.context);
  }
  return undefined;
}

function handleLine<T>(line: string, request: WatchStreamRequest<T>): WatchEnd | undefined {
  const where = `watching ${request.context.resource} in namespace ` +
    `"${request.context.namespace}" at ${request.context.server}`;
  let event: RawEvent;
  try {
    event = JSON.parse(line) as RawEvent;
  } catch {
    return malformed(`a line that is not JSON while ${where}`, request.context);
  }

  const object = event.object;
  if (event.type === 'ERROR') return statusEnd(object, where, request.context);

  // A Status (or anything without a name) is never taken for the watched kind.
  const named = typeof object?.metadata?.name === 'string' || event.type === 'BOOKMARK';
  const versioned = typeof object?.metadata?.resourceVersion === 'string';
  if (typeof event.type !== 'string' || !objectEvents.has(event.type) || object === undefined ||
    object.kind === 'Status' || !named || !versioned) {
    return malformed(`an event that is not a ${request.context.resource} event while ${where}`,
      request.context);
  }

  request.onEvent({ type: event.type as WatchEventType, object: object as T });
  return undefined;
}

function statusEnd(
  object: RawEvent['object'],
  where: string,
  context: ApiCallContext,
): WatchEnd {
  const code = typeof object?.code === 'number' ? object.code : 500;
  if (code === 410) return { kind: 'gone' };

  const said = typeof object?.message === 'string'
    ? `: ${redactCredentials(object.message.slice(0, 300))}`
    : '';
  return {
    kind: 'failed',
    error: new DiscoveryError(
      code === 403 ? 'forbidden' : code === 401 ? 'unauthorized' : 'server',
      `the API server at ${context.server} ended ${where} with an error (${code})${said}`,
      { status: code, server: context.server },
    ),
    lostEvents: true,
  };
}

function lineTooLong(limit: number, context: ApiCallContext): WatchEnd {
  return {
    kind: 'failed',
    error: new DiscoveryError(
      'too-large',
      `the API server at ${context.server} sent a watch event longer than ${limit} characters ` +
        `(maxLineLength) while watching ${context.resource} in namespace ` +
        `"${context.namespace}"; dropped the stream and re-listing`,
      { server: context.server },
    ),
    lostEvents: true,
  };
}

function malformed(what: string, context: ApiCallContext): WatchEnd {
  return {
    kind: 'failed',
    error: new DiscoveryError(
      'malformed',
      `the API server at ${context.server} sent ${what}; re-listing to be sure nothing was missed`,
      { server: context.server },
    ),
    lostEvents: true,
  };
}
