import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { ConfigError } from '../errors.js';
import { originOf } from '../discovery/urls.js';
import type { Worker } from '../discovery/worker.js';
import { createAddressPolicy } from '../discovery/address-policy.js';

/**
 * How a {@link FakeWorker} treats the next requests.
 *
 * - `normal`: answers with the handler (echo JSON by default) after `latencyMs`.
 * - `reset`: reads the request, then resets the connection without a response byte.
 * - `hang`: accepts the request and never answers (until the client gives up or `stop()`).
 * - `draining`: answers `503` with `Retry-After`, as a pod shutting down does.
 * - `truncate`: sends the headers and half of a declared body, then closes the socket.
 * - `truncate-chunked`: sends a chunked body without its terminating chunk, then closes.
 * - `flood`: answers 200 with a chunked body that never ends, until the client hangs up
 *   (see {@link FakeWorker.floodedBytes}), to check that clients bound what they read.
 *
 * @example
 * ```ts
 * const fake = await FakeWorker.start({ mode: 'hang' });
 * fake.setMode('truncate');
 * ```
 */
export type FakeWorkerMode =
  | 'normal'
  | 'reset'
  | 'hang'
  | 'draining'
  | 'truncate'
  | 'truncate-chunked'
  | 'flood';

/**
 * A request as the fake worker saw it, handed to a custom handler.
 *
 * @example
 * ```ts
 * await FakeWorker.start({
 *   handler: (request: FakeRequest) => ({ body: request.body.toString().toUpperCase() }),
 * });
 * ```
 */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** Over TLS, the common name of the client certificate presented, if any. */
  readonly clientCertificate?: string | undefined;
}

/**
 * TLS for a {@link FakeWorker}: its certificate (from `createTestPki()`) and, for mutual TLS,
 * the CA whose client certificates it demands.
 *
 * @example
 * ```ts
 * const pki = await createTestPki();
 * await FakeWorker.start({ tls: { ...pki.server, requireClientCertFrom: pki.ca } });
 * ```
 */
export interface FakeWorkerTls {
  readonly cert: string;
  readonly key: string;
  /** Refuse connections without a client certificate issued by this CA. Default: none asked. */
  readonly requireClientCertFrom?: string | undefined;
}

/**
 * What a custom handler answers.
 *
 * @example
 * ```ts
 * await FakeWorker.start({
 *   handler: (): FakeResponse => ({ status: 429, headers: { 'retry-after': '1' } }),
 * });
 * ```
 */
export interface FakeResponse {
  readonly status?: number | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: string | Uint8Array | undefined;
  /** Extra delay before answering this request, in milliseconds. */
  readonly latencyMs?: number | undefined;
}

/**
 * Options for {@link FakeWorker.start}.
 *
 * @example
 * ```ts
 * const fake = await FakeWorker.start({ name: 'w1', latencyMs: 5, keepAliveTimeoutMs: 5_000 });
 * ```
 */
export interface FakeWorkerOptions {
  /** The name the worker puts in its answers; default `fake-<port>`. */
  readonly name?: string | undefined;
  /**
   * Where to listen: `127.0.0.1` (default), another 127.0.0.0/8 address (so several fakes can
   * share one port, as pods do) or `::1`. Nothing off loopback is allowed.
   */
  readonly host?: string | undefined;
  /** The port; `0` (default) picks a free one. */
  readonly port?: number | undefined;
  /** Delay before each answer in `normal` mode, in milliseconds. Default 0. */
  readonly latencyMs?: number | undefined;
  /** The status of the default echo answer. Default 200. */
  readonly status?: number | undefined;
  /** Answers requests in `normal` mode instead of the echo. */
  readonly handler?: ((request: FakeRequest) => FakeResponse | Promise<FakeResponse>) | undefined;
  /** The starting mode; default `normal`. */
  readonly mode?: FakeWorkerMode | undefined;
  /** Seconds sent in `Retry-After` in `draining` mode. Default 5. */
  readonly retryAfterSeconds?: number | undefined;
  /**
   * Speak HTTP/2 without TLS (h2c, prior knowledge) instead of HTTP/1.1, to test clients with
   * `allowH2`. The failure modes are HTTP/1.1 only. Default false.
   */
  readonly http2?: boolean | undefined;
  /** Speak HTTPS with this certificate (and demand client certificates, if set). */
  readonly tls?: FakeWorkerTls | undefined;
  /** The server's keep-alive timeout, in milliseconds. Default 5,000 (Node's default). */
  readonly keepAliveTimeoutMs?: number | undefined;
}

/**
 * The JSON the default handler answers with.
 *
 * @example
 * ```ts
 * const echo = JSON.parse(Buffer.from(outcome.body).toString()) as FakeEcho;
 * console.log(echo.worker, echo.bytes);
 * ```
 */
export interface FakeEcho {
  readonly worker: string;
  readonly method: string;
  readonly path: string;
  readonly bytes: number;
  /** The request body as text. */
  readonly body: string;
}

/**
 * Loopback only: the fakes must never listen where other machines could reach them. The
 * address policy already knows what loopback is, so it is asked rather than told again.
 */
const strictPolicy = createAddressPolicy();

function isLoopback(host: string): boolean {
  return strictPolicy.check(host) === 'loopback';
}

/**
 * An HTTP server on loopback that answers query fragments like a worker would, and can be
 * told to fail in the ways real pods fail: refuse connections (stopped), reset them, hang,
 * drain with `503` and `Retry-After`, or die in the middle of a response body.
 *
 * @example
 * ```ts
 * const fake = await FakeWorker.start({ name: 'w1', latencyMs: 5 });
 * const worker = fake.worker(); // { id: 'w1', ip: '127.0.0.1', port: fake.port, ... }
 * fake.setMode('draining');     // now answers 503 with Retry-After
 * await fake.stop();            // now refuses connections
 * ```
 */
export class FakeWorker {
  readonly name: string;
  readonly host: string;

  #server: FakeServer;
  #port: number;
  #mode: FakeWorkerMode;
  #latencyMs: number;
  #retryAfterSeconds: number;
  readonly #options: FakeWorkerOptions;
  readonly #sockets = new Set<Socket>();
  readonly #open = new Set<ServerResponse>();
  #received = 0;
  #accepted = 0;
  #answered = 0;
  #bodies: Buffer[] = [];
  #requests: FakeRequest[] = [];
  #floodedBytes = 0;

  private constructor(server: FakeServer, port: number, options: FakeWorkerOptions) {
    this.#server = server;
    this.#port = port;
    this.#options = options;
    this.name = options.name ?? `fake-${port}`;
    this.host = options.host ?? '127.0.0.1';
    this.#mode = options.mode ?? 'normal';
    this.#latencyMs = options.latencyMs ?? 0;
    this.#retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }

  /** Starts a fake worker on loopback and resolves once it listens. */
  static async start(options: FakeWorkerOptions = {}): Promise<FakeWorker> {
    const host = options.host ?? '127.0.0.1';
    if (!isLoopback(host)) {
      throw new ConfigError('host', `FakeWorker host must be a 127.0.0.0/8 address or ::1, ` +
        `got ${JSON.stringify(host)}`);
    }

    const server = makeServer(options);
    const port = await listen(server, host, options.port ?? 0);
    const fake = new FakeWorker(server, port, options);
    fake.#attach(server);
    return fake;
  }

  /** The port it listens on (kept after `stop()`, so `restart()` can reuse it). */
  get port(): number {
    return this.#port;
  }

  /** The current mode. */
  get mode(): FakeWorkerMode {
    return this.#mode;
  }

  /** Requests whose response has not finished and whose connection is still open. */
  get openRequests(): number {
    return this.#open.size;
  }

  /** Requests received since start. */
  get received(): number {
    return this.#received;
  }

  /** Requests answered with a complete response since start. */
  get answered(): number {
    return this.#answered;
  }

  /** Connections accepted since start (a reused keep-alive connection counts once). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Bytes of body written in `flood` mode, before the clients hung up. */
  get floodedBytes(): number {
    return this.#floodedBytes;
  }

  /** Every request body received, in order (for checking retries send the same bytes). */
  get bodies(): readonly Buffer[] {
    return this.#bodies;
  }

  /**
   * Every request received in full, in order, with its headers as sent: for checking that a
   * retry declares the same `content-length` as the bytes it carries.
   */
  get requests(): readonly FakeRequest[] {
    return this.#requests;
  }

  /** The `http://host:port` (or `https://` with TLS) origin. */
  get origin(): string {
    return originOf(this.#options.tls ? 'https:' : 'http:', this.host, this.#port);
  }

  /** A {@link Worker} pointing at this fake; `id` defaults to the fake's name. */
  worker(overrides: Partial<Worker> = {}): Worker {
    return { id: this.name, ip: this.host, port: this.#port, state: 'ready', ...overrides };
  }

  /** Changes how the next requests are treated; requests already waiting keep their mode. */
  setMode(
    mode: FakeWorkerMode,
    options: { latencyMs?: number | undefined; retryAfterSeconds?: number | undefined } = {},
  ): void {
    this.#mode = mode;
    if (options.latencyMs !== undefined) this.#latencyMs = options.latencyMs;
    if (options.retryAfterSeconds !== undefined) {
      this.#retryAfterSeconds = options.retryAfterSeconds;
    }
  }

  /** Sets the delay before each answer in `normal` mode. */
  setLatency(latencyMs: number): void {
    this.#latencyMs = latencyMs;
  }

  /** Stops listening and destroys every connection: new connections are refused. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port after `stop()`. */
  async restart(): Promise<void> {
    const server = makeServer(this.#options);
    await listen(server, this.host, this.#port);
    this.#server = server;
    this.#attach(server);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #attach(server: FakeServer): void {
    if ('keepAliveTimeout' in server) {
      server.keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 5_000;
    }
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      this.#accepted += 1;
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (request, response) => void this.#serve(request, response));
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.#received += 1;
    this.#open.add(response);
    response.on('close', () => this.#open.delete(response));

    const mode = this.#mode;
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch {
      return;
    }
    this.#bodies.push(body);
    this.#requests.push({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: { ...request.headers },
      body,
    });

    if (mode === 'hang') return;
    if (mode === 'reset') {
      request.socket.resetAndDestroy();
      return;
    }
    if (mode === 'draining') {
      this.#finish(response, 503, { 'retry-after': String(this.#retryAfterSeconds) }, 'draining');
      return;
    }
    if (mode === 'truncate' || mode === 'truncate-chunked') {
      truncate(response, mode === 'truncate-chunked');
      return;
    }
    if (mode === 'flood') {
      this.#flood(response);
      return;
    }

    await this.#answer(request, response, body);
  }

  async #answer(request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<void> {
    const socket = request.socket as Partial<TLSSocket>;
    const peer = typeof socket.getPeerCertificate === 'function'
      ? socket.getPeerCertificate()
      : undefined;
    const fakeRequest: FakeRequest = {
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body,
      clientCertificate: [peer?.subject?.CN].flat()[0],
    };
    const answer = this.#options.handler
      ? await this.#options.handler(fakeRequest)
      : this.#echo(fakeRequest);

    const latency = answer.latencyMs ?? this.#latencyMs;
    if (latency > 0) await sleep(latency);
    if (response.destroyed) return;

    const headers = { 'content-type': 'application/json', ...answer.headers };
    this.#finish(response, answer.status ?? 200, headers, answer.body ?? '');
  }

  /** Writes 64 KiB chunks, each when the last has drained, until the connection closes. */
  #flood(response: ServerResponse): void {
    const chunk = Buffer.alloc(64 * 1024, 120);
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    const more = (): void => {
      while (!response.destroyed && !response.writableEnded) {
        this.#floodedBytes += chunk.length;
        if (!response.write(chunk)) {
          response.once('drain', more);
          return;
        }
      }
    };
    more();
  }

  #echo(request: FakeRequest): FakeResponse {
    const echo: FakeEcho = {
      worker: this.name,
      method: request.method,
      path: request.path,
      bytes: request.body.length,
      body: request.body.toString('utf8'),
    };
    return { status: this.#options.status ?? 200, body: JSON.stringify(echo) };
  }

  #finish(
    response: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: string | Uint8Array,
  ): void {
    response.writeHead(status, headers);
    response.end(body, () => {
      this.#answered += 1;
    });
  }
}

/** Declares 1,000 bytes (or starts a chunked body), sends part of it, then kills the socket. */
function truncate(response: ServerResponse, chunked: boolean): void {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (!chunked) headers['content-length'] = '1000';
  response.writeHead(200, headers);

  // Flush the partial body before the socket dies, so the client sees a real half body.
  response.write(Buffer.alloc(500, 120), () => {
    setImmediate(() => response.socket?.destroy());
  });
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
    request.on('aborted', () => reject(new Error('request aborted')));
  });
}

/**
 * The HTTP/1.1 or h2c server. The HTTP/2 compatibility API hands the handler request and
 * response objects shaped like HTTP/1.1's, so one handler serves both.
 */
type FakeServer = {
  listen(port: number, host: string, callback: () => void): unknown;
  close(callback: () => void): unknown;
  address(): ReturnType<NetServer['address']>;
  once(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'connection', listener: (socket: Socket) => void): unknown;
  on(
    event: 'request',
    listener: (request: IncomingMessage, response: ServerResponse) => void,
  ): unknown;
  keepAliveTimeout?: number;
};

function makeServer(options: FakeWorkerOptions): FakeServer {
  const tls = options.tls;
  if (tls !== undefined) {
    if (options.http2) {
      throw new ConfigError('tls', 'FakeWorker speaks HTTP/2 only without TLS (h2c); drop ' +
        'http2 or tls');
    }
    const mutual = tls.requireClientCertFrom;
    return createHttpsServer({
      cert: tls.cert,
      key: tls.key,
      ...(mutual === undefined ? {} : { ca: mutual, requestCert: true, rejectUnauthorized: true }),
    });
  }
  return options.http2 ? (createH2cServer() as unknown as FakeServer) : createServer();
}

function listen(server: FakeServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
