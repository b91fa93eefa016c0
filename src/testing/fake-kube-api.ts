import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  matchesLabels,
  parseLabelSelector,
  type LabelSelector,
} from '../discovery/label-selector.js';
import { originOf } from '../discovery/urls.js';
import { createTestPki, type TestPki } from './test-ca.js';

/**
 * The object metadata the fake stores for slices and Services alike.
 *
 * @example
 * ```ts
 * const metadata: FakeObjectMeta = { name: 'query-workers', namespace: 'lake', labels: {} };
 * api.putService({ metadata });
 * ```
 */
export interface FakeObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
}

/**
 * A JSON EndpointSlice as the API serves it (`discovery.k8s.io/v1`).
 *
 * @example
 * ```ts
 * const slice: FakeEndpointSlice = {
 *   metadata: { name: 'query-worker-abc12', namespace: 'lake', labels: { app: 'query-worker' } },
 *   addressType: 'IPv4',
 *   endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
 *   ports: [{ name: 'query', port: 7101 }],
 * };
 * api.putSlice(slice);
 * ```
 */
export interface FakeEndpointSlice {
  apiVersion?: 'discovery.k8s.io/v1';
  kind?: 'EndpointSlice';
  metadata: FakeObjectMeta & { generateName?: string };
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: FakeEndpoint[] | null;
  ports?: Array<{ name?: string; port?: number; protocol?: string }> | null;
}

/**
 * One endpoint of a fake slice.
 *
 * @example
 * ```ts
 * const draining: FakeEndpoint = {
 *   addresses: ['127.0.0.2'],
 *   conditions: { ready: false, serving: true, terminating: true },
 *   targetRef: { kind: 'Pod', name: 'qw-1', namespace: 'lake', uid: 'uid-qw-1' },
 *   zone: 'zone-a',
 * };
 * api.putSlice({ ...slice, endpoints: [draining] });
 * ```
 */
export interface FakeEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  targetRef?: { kind: 'Pod'; name: string; namespace: string; uid: string };
  nodeName?: string;
  zone?: string;
}

/**
 * Options for {@link FakeKubeApiServer.start}.
 *
 * @example
 * ```ts
 * const api = await FakeKubeApiServer.start({
 *   token: 'test-token',
 *   forbiddenNamespaces: ['kube-system'],
 *   bookmarkIntervalMs: 1_000,
 * });
 * ```
 */
export interface FakeKubeApiOptions {
  /** The bearer token the server accepts; others get 401. Default: a random token. */
  readonly token?: string | undefined;
  /** Namespaces whose slices the token may not list (403). */
  readonly forbiddenNamespaces?: readonly string[] | undefined;
  /** Certificates to serve with; by default a fresh test CA is made (needs `openssl`). */
  readonly pki?: TestPki | undefined;
  /**
   * Send a BOOKMARK this often to watches that asked for them (`allowWatchBookmarks`), as the
   * real API server does about once a minute. Default: never, unless {@link
   * FakeKubeApiServer.sendBookmarks} is called.
   */
  readonly bookmarkIntervalMs?: number | undefined;
  /** Watch events kept for watches that resume from an older resourceVersion. Default 1000. */
  readonly historyLimit?: number | undefined;
  /**
   * How a watch from a resourceVersion older than the history is refused: `event` (the real
   * server: 200, then an ERROR event holding a 410 Status) or `status` (an HTTP 410).
   */
  readonly goneAs?: 'event' | 'status' | undefined;
  /** How many milliseconds one second of `timeoutSeconds` lasts, to scale tests. Default 1000. */
  readonly secondMs?: number | undefined;
  /** The port to listen on (to bring a server back where it was). Default: any free port. */
  readonly port?: number | undefined;
}

/**
 * A request the fake server saw, for tests that count calls.
 *
 * @example
 * ```ts
 * const lists: RecordedRequest[] = api.sliceListRequests();
 * expect(lists).toHaveLength(1);
 * expect(lists[0]?.query.get('labelSelector')).toBe('app=query-worker');
 * ```
 */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly status: number;
}

/**
 * A canned failure for the next requests: status, body and headers.
 *
 * @example
 * ```ts
 * const throttled: InjectedFailure = { status: 429, headers: { 'retry-after': '2' } };
 * api.failNext(1, throttled);
 * await expect(discovery.getWorkers()).rejects.toMatchObject({ reason: 'throttled' });
 * ```
 */
export interface InjectedFailure {
  readonly status: number;
  readonly body?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * A Service as the fake serves it: only what selecting by Service labels needs.
 *
 * @example
 * ```ts
 * const service: FakeService = {
 *   metadata: { name: 'query-worker', namespace: 'lake', labels: { app: 'lakerunner' } },
 *   spec: { ports: [{ name: 'query', port: 7101 }] },
 * };
 * api.putService(service);
 * ```
 */
export interface FakeService {
  apiVersion?: 'v1';
  kind?: 'Service';
  metadata: FakeObjectMeta;
  spec?: {
    selector?: Record<string, string>;
    ports?: Array<{ name?: string; port: number; protocol?: string }>;
  };
}

interface SliceEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly rv: number;
  readonly previous: FakeEndpointSlice | undefined;
  readonly object: FakeEndpointSlice;
}

interface LiveWatch {
  readonly namespace: string;
  readonly selector: LabelSelector;
  readonly response: ServerResponse;
  readonly bookmarks: boolean;
  silent: boolean;
}

const slicePath = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;
const servicePath = /^\/api\/v1\/namespaces\/([^/]+)\/services$/;

function status(code: number, reason: string, message: string): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

/**
 * An in-process Kubernetes API server on 127.0.0.1 that serves EndpointSlices (and Services)
 * the way the real one does: the same JSON shapes, label selector filtering, `limit` and
 * `continue` paging, `resourceVersion`, watches that replay from a resourceVersion and answer
 * `410 Gone` when it is too old, bookmarks, 401 without the right bearer token and 403 for
 * forbidden namespaces. Faults are injected on demand: canned answers, slow answers, cut or
 * silent watch streams, raw lines inside a stream. It writes a kubeconfig that points at itself,
 * so the real `@kubernetes/client-node` talks to it.
 *
 * @example
 * ```ts
 * const api = await FakeKubeApiServer.start();
 * api.putSlice(endpointSlice({ name: 'workers-1', namespace: 'lake', labels: { app: 'w' },
 *   endpoints: [{ address: '127.0.0.1' }] }));
 * const kubeconfig = await api.writeKubeConfig('/tmp/kubeconfig');
 * // KUBECONFIG=/tmp/kubeconfig now reaches this server
 * await api.close();
 * ```
 */
export class FakeKubeApiServer {
  /** The base URL, such as `https://127.0.0.1:40123`. */
  readonly url: string;
  /** The CA that signed the server's certificate (PEM), for clients to trust. */
  readonly ca: string;
  /** Every request so far, in order (a watch is recorded when it starts). */
  readonly requests: RecordedRequest[] = [];

  readonly #server: Server;
  readonly #slices = new Map<string, FakeEndpointSlice>();
  readonly #services = new Map<string, FakeService>();
  readonly #forbidden: Set<string>;
  readonly #failures: InjectedFailure[] = [];
  readonly #delays: number[] = [];
  readonly #history: SliceEvent[] = [];
  readonly #historyLimit: number;
  readonly #watches = new Set<LiveWatch>();
  readonly #sockets = new Set<Socket>();
  readonly #secondMs: number;
  #goneAs: 'event' | 'status';
  #token: string;
  #resourceVersion = 1000;
  /** Watches from a resourceVersion below this are answered with 410 Gone. */
  #oldestResumable = 1000;
  #peakWatches = 0;
  #bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(server: Server, url: string, ca: string, options: FakeKubeApiOptions) {
    this.#server = server;
    this.url = url;
    this.ca = ca;
    this.#token = options.token ?? `fake-token-${randomUUID()}`;
    this.#forbidden = new Set(options.forbiddenNamespaces ?? []);
    this.#historyLimit = options.historyLimit ?? 1000;
    this.#goneAs = options.goneAs ?? 'event';
    this.#secondMs = options.secondMs ?? 1000;
    if (options.bookmarkIntervalMs !== undefined) {
      this.#bookmarkTimer = setInterval(() => this.sendBookmarks(), options.bookmarkIntervalMs);
      this.#bookmarkTimer.unref();
    }
  }

  /** Starts an HTTPS server on an ephemeral port of 127.0.0.1. */
  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApiServer> {
    const pki = options.pki ?? (await createTestPki());
    const server = createServer({ cert: pki.server.cert, key: pki.server.key });
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const url = originOf('https:', '127.0.0.1', port);
    const fake = new FakeKubeApiServer(server, url, pki.ca, options);
    server.on('request', (request, response) => fake.#handle(request, response));
    server.on('secureConnection', (socket: Socket) => {
      fake.#sockets.add(socket);
      socket.on('close', () => fake.#sockets.delete(socket));
    });
    return fake;
  }

  /** The bearer token this server accepts now. */
  get token(): string {
    return this.#token;
  }

  /** Accepts another token from now on (the old one gets 401), as after a token rotation. */
  setToken(token: string): void {
    this.#token = token;
  }

  /** The current collection resourceVersion. */
  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  /** Watch streams open right now. */
  get liveWatches(): number {
    return this.#watches.size;
  }

  /** The most watch streams that were ever open at once. */
  get peakLiveWatches(): number {
    return this.#peakWatches;
  }

  /** Open TLS connections right now, watches included. */
  get openConnections(): number {
    return this.#sockets.size;
  }

  /**
   * Adds or replaces a slice (by namespace and name), bumping its resourceVersion. With
   * `unannounced`, no watch hears of it, as if the event had been lost on the way.
   */
  putSlice(slice: FakeEndpointSlice, options: { unannounced?: boolean } = {}): FakeEndpointSlice {
    this.#resourceVersion += 1;
    const key = `${slice.metadata.namespace}/${slice.metadata.name}`;
    const previous = this.#slices.get(key);
    const stored: FakeEndpointSlice = structuredClone({
      ...slice,
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        ...slice.metadata,
        uid: slice.metadata.uid ?? previous?.metadata.uid ?? randomUUID(),
        resourceVersion: String(this.#resourceVersion),
      },
    });
    this.#slices.set(key, stored);
    if (options.unannounced) return structuredClone(stored);
    this.#record({
      type: previous === undefined ? 'ADDED' : 'MODIFIED',
      rv: this.#resourceVersion,
      previous,
      object: stored,
    });
    return structuredClone(stored);
  }

  /** Removes a slice; returns whether it existed. */
  deleteSlice(namespace: string, name: string): boolean {
    const previous = this.#slices.get(`${namespace}/${name}`);
    if (previous === undefined) return false;

    this.#slices.delete(`${namespace}/${name}`);
    this.#resourceVersion += 1;
    const object = structuredClone(previous);
    object.metadata.resourceVersion = String(this.#resourceVersion);
    this.#record({ type: 'DELETED', rv: this.#resourceVersion, previous, object });
    return true;
  }

  /** A copy of a stored slice, if any. */
  getSlice(namespace: string, name: string): FakeEndpointSlice | undefined {
    const slice = this.#slices.get(`${namespace}/${name}`);
    return slice === undefined ? undefined : structuredClone(slice);
  }

  /** Adds or replaces a Service (for selecting slices through their Service's labels). */
  putService(service: FakeService): void {
    this.#resourceVersion += 1;
    this.#services.set(`${service.metadata.namespace}/${service.metadata.name}`, {
      ...structuredClone(service),
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        ...structuredClone(service.metadata),
        uid: service.metadata.uid ?? randomUUID(),
        resourceVersion: String(this.#resourceVersion),
      },
    });
  }

  /** Makes the next `count` API requests fail with the given answer, then behave again. */
  failNext(count: number, failure: InjectedFailure): void {
    for (let i = 0; i < count; i += 1) this.#failures.push(failure);
  }

  /** Makes the next `count` API requests wait `delayMs` before they are answered. */
  slowNext(count: number, delayMs: number): void {
    for (let i = 0; i < count; i += 1) this.#delays.push(delayMs);
  }

  /** Lets a namespace be listed again, or forbids it. */
  setForbidden(namespace: string, forbidden: boolean): void {
    if (forbidden) this.#forbidden.add(namespace);
    else this.#forbidden.delete(namespace);
  }

  /** Changes how a too-old watch is refused: an ERROR event in a 200 stream, or an HTTP 410. */
  setGoneAs(goneAs: 'event' | 'status'): void {
    this.#goneAs = goneAs;
  }

  /**
   * Forgets the watch history, as etcd compaction does: any watch that resumes from a
   * resourceVersion before now is answered `410 Gone`. Open watches are not touched.
   */
  compactHistory(): void {
    this.#history.length = 0;
    this.#oldestResumable = this.#resourceVersion;
  }

  /** Requests whose path lists or watches EndpointSlices. */
  sliceListRequests(): RecordedRequest[] {
    return this.requests.filter((request) => slicePath.test(request.path));
  }

  /** Slice requests that were watches. */
  sliceWatchRequests(): RecordedRequest[] {
    return this.sliceListRequests().filter((request) => isWatch(request.query));
  }

  /** Slice requests that were lists (not watches). */
  sliceListOnlyRequests(): RecordedRequest[] {
    return this.sliceListRequests().filter((request) => !isWatch(request.query));
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for them. */
  sendBookmarks(): void {
    for (const watch of this.#watches) {
      if (!watch.bookmarks || watch.silent) continue;
      this.#writeEvent(watch, 'BOOKMARK', {
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: { resourceVersion: this.resourceVersion },
      });
    }
  }

  /** Writes a raw line (malformed JSON, an ERROR event...) into every open watch stream. */
  injectWatchLine(line: string): void {
    for (const watch of this.#watches) watch.response.write(`${line}\n`);
  }

  /** Sends an ERROR event holding a Status with this code into every open watch, then ends it. */
  failWatches(code: number, reason: string, message: string): void {
    for (const watch of [...this.#watches]) {
      this.#writeEvent(watch, 'ERROR', status(code, reason, message));
      this.#endWatch(watch);
    }
  }

  /** Ends every open watch stream cleanly, as the server does when `timeoutSeconds` runs out. */
  endWatches(): void {
    for (const watch of [...this.#watches]) this.#endWatch(watch);
  }

  /** Cuts every open watch's connection abruptly, as a dying load balancer does. */
  cutWatches(): void {
    for (const watch of [...this.#watches]) {
      this.#watches.delete(watch);
      watch.response.socket?.destroy();
    }
  }

  /**
   * Makes every open watch go silent: the connection stays open but carries nothing more, not
   * even bookmarks, as a half-dead connection does. New watches behave normally.
   */
  stallWatches(): void {
    for (const watch of this.#watches) watch.silent = true;
  }

  /**
   * Writes a kubeconfig file whose current context reaches this server with its token (or
   * another token, to test 401), or with an `exec` credential plugin that prints tokens
   * (`client.authentication.k8s.io/v1` ExecCredential). Returns the path.
   */
  async writeKubeConfig(
    path: string,
    options: {
      token?: string;
      insecureSkipTlsVerify?: boolean;
      exec?: { command: string; args?: readonly string[] };
    } = {},
  ): Promise<string> {
    const token = options.token ?? this.#token;
    const trust = options.insecureSkipTlsVerify
      ? '    insecure-skip-tls-verify: true'
      : `    certificate-authority-data: ${Buffer.from(this.ca).toString('base64')}`;
    const user = options.exec === undefined
      ? [`    token: ${JSON.stringify(token)}`]
      : [
        '    exec:',
        '      apiVersion: client.authentication.k8s.io/v1',
        `      command: ${JSON.stringify(options.exec.command)}`,
        `      args: ${JSON.stringify(options.exec.args ?? [])}`,
        '      interactiveMode: Never',
      ];
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'current-context: fake',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      trust,
      'users:',
      '- name: fake-user',
      '  user:',
      ...user,
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: fake-user',
      '',
    ].join('\n');
    await writeFile(path, text, { mode: 0o600 });
    return path;
  }

  /**
   * Writes a service-account directory (`token`, `ca.crt`, `namespace`) like the one the kubelet
   * mounts, and returns the environment that points in-cluster configuration at this server.
   */
  async writeServiceAccount(
    directory: string,
    options: { token?: string; namespace?: string } = {},
  ): Promise<Record<string, string>> {
    await writeFile(join(directory, 'token'), options.token ?? this.#token, { mode: 0o600 });
    await writeFile(join(directory, 'ca.crt'), this.ca);
    await writeFile(join(directory, 'namespace'), options.namespace ?? 'default');
    const { port } = new URL(this.url);
    return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port };
  }

  /** Stops the server and cuts any open connections. */
  async close(): Promise<void> {
    clearInterval(this.#bookmarkTimer);
    for (const watch of this.#watches) watch.response.destroy();
    this.#watches.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const delay = this.#delays.shift();
    if (delay !== undefined) {
      const timer = setTimeout(() => this.#answer(request, response), delay);
      response.on('close', () => clearTimeout(timer));
      return;
    }
    this.#answer(request, response);
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const record = (code: number): void => {
      this.requests.push({
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        status: code,
      });
    };
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      record(code);
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      response.writeHead(code, { 'content-type': 'application/json', ...headers });
      response.end(text);
    };

    const injected = this.#failures.shift();
    if (injected !== undefined) {
      send(
        injected.status,
        injected.body ?? status(injected.status, 'Injected', 'injected failure'),
        { ...injected.headers },
      );
      return;
    }

    if (request.headers.authorization !== `Bearer ${this.#token}`) {
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }

    const sliceMatch = slicePath.exec(url.pathname);
    const serviceMatch = servicePath.exec(url.pathname);
    const match = sliceMatch ?? serviceMatch;
    if (request.method !== 'GET' || match === null) {
      send(404, status(404, 'NotFound', `the server could not find ${url.pathname}`));
      return;
    }

    const namespace = decodeURIComponent(match[1] ?? '');
    const resource = sliceMatch === null ? 'services' : 'endpointslices';
    if (this.#forbidden.has(namespace)) {
      const group = sliceMatch === null ? '' : 'discovery.k8s.io';
      const message =
        `${resource}${group ? `.${group}` : ''} is forbidden: User "system:serviceaccount:` +
        `${namespace}:default" cannot list resource "${resource}" in API group ` +
        `"${group}" in the namespace "${namespace}"`;
      send(403, status(403, 'Forbidden', message));
      return;
    }

    let selector: LabelSelector;
    try {
      selector = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
    } catch (error) {
      const message = `unable to parse requirement: ${(error as Error).message}`;
      send(400, status(400, 'BadRequest', message));
      return;
    }

    if (sliceMatch === null) {
      this.#listServices(namespace, selector, send);
    } else if (isWatch(url.searchParams)) {
      this.#watch(namespace, selector, url.searchParams, response, record, send);
    } else {
      this.#list(namespace, selector, url.searchParams, send);
    }
  }

  #list(
    namespace: string,
    selector: LabelSelector,
    query: URLSearchParams,
    send: (code: number, body: unknown) => void,
  ): void {
    const matching = selectObjects(this.#slices.values(), namespace, selector);

    const offset = decodeContinue(query.get('continue'));
    if (offset === undefined) {
      send(410, status(410, 'Expired', 'the provided continue parameter is too old'));
      return;
    }
    const limit = Number(query.get('limit') ?? '0');
    const end = limit > 0 ? offset + limit : matching.length;
    const page = matching.slice(offset, end);
    const more = end < matching.length;
    const next = { continue: encodeContinue(end), remainingItemCount: matching.length - end };

    send(200, {
      kind: 'EndpointSliceList',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: {
        resourceVersion: this.resourceVersion,
        ...(more ? next : {}),
      },
      items: page,
    });
  }

  #listServices(
    namespace: string,
    selector: LabelSelector,
    send: (code: number, body: unknown) => void,
  ): void {
    const items = selectObjects(this.#services.values(), namespace, selector);
    send(200, {
      kind: 'ServiceList',
      apiVersion: 'v1',
      metadata: { resourceVersion: this.resourceVersion },
      items,
    });
  }

  #watch(
    namespace: string,
    selector: LabelSelector,
    query: URLSearchParams,
    response: ServerResponse,
    record: (code: number) => void,
    send: (code: number, body: unknown) => void,
  ): void {
    const from = query.get('resourceVersion');
    const resumeFrom = from === null || from === '' || from === '0' ? undefined : Number(from);
    const tooOld = resumeFrom !== undefined &&
      (!Number.isInteger(resumeFrom) || resumeFrom < this.#oldestResumable);
    const gone = status(
      410,
      'Expired',
      `too old resource version: ${from ?? ''} (${this.#oldestResumable})`,
    );

    if (tooOld && this.#goneAs === 'status') {
      send(410, gone);
      return;
    }

    record(200);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.flushHeaders();
    const watch: LiveWatch = {
      namespace,
      selector,
      response,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      silent: false,
    };

    if (tooOld) {
      this.#writeEvent(watch, 'ERROR', gone);
      response.end();
      return;
    }

    this.#watches.add(watch);
    this.#peakWatches = Math.max(this.#peakWatches, this.#watches.size);
    response.on('close', () => this.#watches.delete(watch));

    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) {
      const timer = setTimeout(() => this.#endWatch(watch), timeoutSeconds * this.#secondMs);
      response.on('close', () => clearTimeout(timer));
    }

    if (resumeFrom === undefined) {
      for (const slice of selectObjects(this.#slices.values(), namespace, selector)) {
        this.#writeEvent(watch, 'ADDED', slice);
      }
      return;
    }
    for (const event of this.#history) {
      if (event.rv > resumeFrom) this.#deliver(watch, event);
    }
  }

  #record(event: SliceEvent): void {
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.shift() as SliceEvent;
      this.#oldestResumable = dropped.rv;
    }
    for (const watch of this.#watches) {
      if (!watch.silent) this.#deliver(watch, event);
    }
  }

  /** Sends one event as this watch sees it: leaving or entering its selector is a delete/add. */
  #deliver(watch: LiveWatch, event: SliceEvent): void {
    if (event.object.metadata.namespace !== watch.namespace) return;

    const matchedBefore = event.previous !== undefined &&
      matchesLabels(watch.selector, event.previous.metadata.labels);
    const matchesNow = matchesLabels(watch.selector, event.object.metadata.labels);

    if (event.type === 'DELETED') {
      if (matchedBefore) this.#writeEvent(watch, 'DELETED', event.object);
    } else if (matchedBefore && matchesNow) {
      this.#writeEvent(watch, 'MODIFIED', event.object);
    } else if (matchesNow) {
      this.#writeEvent(watch, 'ADDED', event.object);
    } else if (matchedBefore) {
      this.#writeEvent(watch, 'DELETED', event.object);
    }
  }

  #writeEvent(watch: LiveWatch, type: string, object: unknown): void {
    watch.response.write(`${JSON.stringify({ type, object })}\n`);
  }

  #endWatch(watch: LiveWatch): void {
    this.#watches.delete(watch);
    watch.response.end();
  }
}

function isWatch(query: URLSearchParams): boolean {
  return query.get('watch') === 'true' || query.get('watch') === '1';
}


/** The objects in `namespace` whose labels match, sorted by name as the API server lists. */
function selectObjects<T extends { metadata: FakeObjectMeta }>(
  objects: Iterable<T>,
  namespace: string,
  selector: LabelSelector,
): T[] {
  return [...objects]
    .filter((object) => object.metadata.namespace === namespace)
    .filter((object) => matchesLabels(selector, object.metadata.labels))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

function encodeContinue(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeContinue(token: string | null): number | undefined {
  if (token === null || token === '') return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      offset: unknown;
    };
    return typeof offset === 'number' && Number.isInteger(offset) && offset >= 0
      ? offset
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A compact way to describe an endpoint in tests and demos.
 *
 * @example
 * ```ts
 * const endpoints: EndpointSpec[] = [
 *   { address: '127.0.0.1', podName: 'query-worker-0', zone: 'zone-a' },
 *   { address: '127.0.0.2', ready: false, serving: true, terminating: true },
 * ];
 * api.putSlice(endpointSlice({ name: 'qw-abc12', namespace: 'lake', endpoints, port: 7101 }));
 * ```
 */
export interface EndpointSpec {
  readonly address: string | readonly string[];
  readonly ready?: boolean | undefined;
  readonly serving?: boolean | undefined;
  readonly terminating?: boolean | undefined;
  /** The pod's name; its UID defaults to `uid-<podName>`. */
  readonly podName?: string | undefined;
  readonly podUid?: string | undefined;
  readonly nodeName?: string | undefined;
  readonly zone?: string | undefined;
}

/**
 * Builds an EndpointSlice object in the API's JSON shape.
 *
 * @example
 * ```ts
 * const slice = endpointSlice({
 *   name: 'query-worker-abc12', namespace: 'lake', labels: { app: 'query-worker' },
 *   endpoints: [{ address: '127.0.0.1', podName: 'query-worker-0' }, { address: '127.0.0.2',
 *     ready: false }],
 * });
 * ```
 */
export function endpointSlice(spec: {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  addressType?: FakeEndpointSlice['addressType'];
  endpoints: readonly EndpointSpec[];
  port?: number;
  portName?: string;
}): FakeEndpointSlice {
  return {
    metadata: { name: spec.name, namespace: spec.namespace, labels: { ...spec.labels } },
    addressType: spec.addressType ?? 'IPv4',
    endpoints: spec.endpoints.map((endpoint) => fakeEndpoint(endpoint, spec.namespace)),
    ports: spec.port === undefined
      ? null
      : [{ name: spec.portName ?? 'query', port: spec.port, protocol: 'TCP' }],
  };
}

function fakeEndpoint(spec: EndpointSpec, namespace: string): FakeEndpoint {
  const conditions: FakeEndpoint['conditions'] = {};
  if (spec.ready !== undefined) conditions.ready = spec.ready;
  if (spec.serving !== undefined) conditions.serving = spec.serving;
  if (spec.terminating !== undefined) conditions.terminating = spec.terminating;

  const endpoint: FakeEndpoint = {
    addresses: typeof spec.address === 'string' ? [spec.address] : [...spec.address],
    conditions,
  };
  if (spec.podName !== undefined) {
    endpoint.targetRef = {
      kind: 'Pod',
      name: spec.podName,
      namespace,
      uid: spec.podUid ?? `uid-${spec.podName}`,
    };
  }
  if (spec.nodeName !== undefined) endpoint.nodeName = spec.nodeName;
  if (spec.zone !== undefined) endpoint.zone = spec.zone;
  return endpoint;
}
