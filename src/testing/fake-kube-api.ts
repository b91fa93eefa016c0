import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { matchesLabels, parseLabelSelector } from '../discovery/label-selector.js';
import { createTestPki, type TestPki } from './test-ca.js';

/** A JSON EndpointSlice as the API serves it (`discovery.k8s.io/v1`). */
export interface FakeEndpointSlice {
  apiVersion?: 'discovery.k8s.io/v1';
  kind?: 'EndpointSlice';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    generateName?: string;
  };
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: FakeEndpoint[] | null;
  ports?: Array<{ name?: string; port?: number; protocol?: string }> | null;
}

/** One endpoint of a fake slice. */
export interface FakeEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  targetRef?: { kind: 'Pod'; name: string; namespace: string; uid: string };
  nodeName?: string;
  zone?: string;
}

/** Options for {@link FakeKubeApiServer.start}. */
export interface FakeKubeApiOptions {
  /** The bearer token the server accepts; others get 401. Default: a random token. */
  readonly token?: string | undefined;
  /** Namespaces whose slices the token may not list (403). */
  readonly forbiddenNamespaces?: readonly string[] | undefined;
  /** Certificates to serve with; by default a fresh test CA is made (needs `openssl`). */
  readonly pki?: TestPki | undefined;
}

/** A request the fake server saw, for tests that count calls. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly status: number;
}

/** A canned failure for the next requests: status, body and headers. */
export interface InjectedFailure {
  readonly status: number;
  readonly body?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

const slicePath = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

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
 * An in-process Kubernetes API server on 127.0.0.1 that serves EndpointSlices the way the real
 * one does: the same JSON shapes, label selector filtering, `limit` and `continue` paging,
 * `resourceVersion`, 401 without the right bearer token and 403 for forbidden namespaces. It
 * writes a kubeconfig that points at itself, so the real `@kubernetes/client-node` talks to it.
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
  /** The bearer token this server accepts. */
  readonly token: string;
  /** Every request so far, in order. */
  readonly requests: RecordedRequest[] = [];

  readonly #server: Server;
  readonly #slices = new Map<string, FakeEndpointSlice>();
  readonly #forbidden: Set<string>;
  readonly #failures: InjectedFailure[] = [];
  #resourceVersion = 1000;

  private constructor(server: Server, url: string, ca: string, options: FakeKubeApiOptions) {
    this.#server = server;
    this.url = url;
    this.ca = ca;
    this.token = options.token ?? `fake-token-${randomUUID()}`;
    this.#forbidden = new Set(options.forbiddenNamespaces ?? []);
  }

  /** Starts an HTTPS server on an ephemeral port of 127.0.0.1. */
  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApiServer> {
    const pki = options.pki ?? (await createTestPki());
    const server = createServer({ cert: pki.server.cert, key: pki.server.key });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const url = `https://127.0.0.1:${port}`;
    const fake = new FakeKubeApiServer(server, url, pki.ca, options);
    server.on('request', (request, response) => fake.#handle(request, response));
    return fake;
  }

  /** The current collection resourceVersion. */
  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  /** Adds or replaces a slice (by namespace and name), bumping its resourceVersion. */
  putSlice(slice: FakeEndpointSlice): FakeEndpointSlice {
    this.#resourceVersion += 1;
    const stored: FakeEndpointSlice = structuredClone({
      ...slice,
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        ...slice.metadata,
        uid: slice.metadata.uid ?? randomUUID(),
        resourceVersion: String(this.#resourceVersion),
      },
    });
    this.#slices.set(`${slice.metadata.namespace}/${slice.metadata.name}`, stored);
    return structuredClone(stored);
  }

  /** Removes a slice; returns whether it existed. */
  deleteSlice(namespace: string, name: string): boolean {
    const existed = this.#slices.delete(`${namespace}/${name}`);
    if (existed) this.#resourceVersion += 1;
    return existed;
  }

  /** A copy of a stored slice, if any. */
  getSlice(namespace: string, name: string): FakeEndpointSlice | undefined {
    const slice = this.#slices.get(`${namespace}/${name}`);
    return slice === undefined ? undefined : structuredClone(slice);
  }

  /** Makes the next `count` API requests fail with the given answer, then behave again. */
  failNext(count: number, failure: InjectedFailure): void {
    for (let i = 0; i < count; i += 1) this.#failures.push(failure);
  }

  /** Lets a namespace be listed again, or forbids it. */
  setForbidden(namespace: string, forbidden: boolean): void {
    if (forbidden) this.#forbidden.add(namespace);
    else this.#forbidden.delete(namespace);
  }

  /** Requests whose path lists EndpointSlices. */
  sliceListRequests(): RecordedRequest[] {
    return this.requests.filter((request) => slicePath.test(request.path));
  }

  /**
   * Writes a kubeconfig file whose current context reaches this server with its token (or
   * another token, to test 401). Returns the path.
   */
  async writeKubeConfig(path: string, options: { token?: string } = {}): Promise<string> {
    const token = options.token ?? this.token;
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'current-context: fake',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      `    certificate-authority-data: ${Buffer.from(this.ca).toString('base64')}`,
      'users:',
      '- name: fake-user',
      '  user:',
      `    token: ${JSON.stringify(token)}`,
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

  /** Stops the server and cuts any open connections. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        status: code,
      });
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

    if (request.headers.authorization !== `Bearer ${this.token}`) {
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }

    const match = slicePath.exec(url.pathname);
    if (request.method !== 'GET' || match === null) {
      send(404, status(404, 'NotFound', `the server could not find ${url.pathname}`));
      return;
    }

    const namespace = decodeURIComponent(match[1] ?? '');
    if (this.#forbidden.has(namespace)) {
      const message =
        'endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:' +
        `${namespace}:default" cannot list resource "endpointslices" in API group ` +
        `"discovery.k8s.io" in the namespace "${namespace}"`;
      send(403, status(403, 'Forbidden', message));
      return;
    }

    this.#list(namespace, url.searchParams, send);
  }

  #list(
    namespace: string,
    query: URLSearchParams,
    send: (code: number, body: unknown) => void,
  ): void {
    let selector;
    try {
      selector = parseLabelSelector(query.get('labelSelector') ?? '');
    } catch (error) {
      const message = `unable to parse requirement: ${(error as Error).message}`;
      send(400, status(400, 'BadRequest', message));
      return;
    }

    const matching = [...this.#slices.values()]
      .filter((slice) => slice.metadata.namespace === namespace)
      .filter((slice) => matchesLabels(selector, slice.metadata.labels))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));

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

/** A compact way to describe an endpoint in tests and demos. */
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
}): FakeEndpointSlice {
  return {
    metadata: { name: spec.name, namespace: spec.namespace, labels: { ...spec.labels } },
    addressType: spec.addressType ?? 'IPv4',
    endpoints: spec.endpoints.map((endpoint) => fakeEndpoint(endpoint, spec.namespace)),
    ports: spec.port === undefined ? null : [{ name: 'query', port: spec.port, protocol: 'TCP' }],
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
