import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { originOf } from '../discovery/urls.js';

/**
 * A task to put in a {@link FakeEcs} service. Everything has a default that makes a healthy,
 * running `awsvpc` task; `ip: null` gives a task without an ENI attachment.
 *
 * @example
 * ```ts
 * const task: FakeEcsTaskInit = { ip: '10.0.1.7', healthStatus: 'UNHEALTHY' };
 * ```
 */
export interface FakeEcsTaskInit {
  /** The task id (last part of the ARN). Default: a random UUID without dashes. */
  readonly id?: string | undefined;
  /** The ENI's private IPv4 address; `null` for no ENI. Default `10.0.x.y` by position. */
  readonly ip?: string | null | undefined;
  /** Default `RUNNING`. */
  readonly lastStatus?: string | undefined;
  /** Default `RUNNING`. ListTasks filters on this, as ECS does. */
  readonly desiredStatus?: string | undefined;
  /** Default `HEALTHY`. */
  readonly healthStatus?: string | undefined;
  /** Default `us-east-1a`. */
  readonly availabilityZone?: string | undefined;
}

/**
 * An error the fake answers with instead of doing the work, in the ECS wire format:
 * status 400 (unless told otherwise) and `{"__type": type, "message": message}`.
 *
 * @example
 * ```ts
 * const fault: FakeEcsFault = { type: 'ThrottlingException', message: 'Rate exceeded', times: 2 };
 * ```
 */
export interface FakeEcsFault {
  /** The error shape name, such as `ThrottlingException` or `AccessDeniedException`. */
  readonly type: string;
  readonly message?: string | undefined;
  /** HTTP status. Default 400 (500 for `ServerException`). */
  readonly status?: number | undefined;
  /** How many requests in a row get this fault. Default 1; `Infinity` for all. */
  readonly times?: number | undefined;
  /** Never answer at all (until {@link FakeEcs.close}), to exercise client timeouts. */
  readonly hang?: boolean | undefined;
}

/**
 * One request the fake received, for assertions.
 *
 * @example
 * ```ts
 * const describes = fake.requests.filter((r) => r.operation === 'DescribeTasks');
 * ```
 */
export interface FakeEcsRequest {
  /** The operation from `X-Amz-Target`, such as `ListTasks`. */
  readonly operation: string;
  /** The parsed JSON body. */
  readonly body: Record<string, unknown>;
  /** The access key id from the SigV4 `Authorization` header, if the request was signed. */
  readonly accessKeyId: string | undefined;
}

/**
 * Options for {@link FakeEcs}.
 *
 * @example
 * ```ts
 * const fake = new FakeEcs({ pageSize: 10 });
 * ```
 */
export interface FakeEcsOptions {
  /** Most task ARNs per ListTasks page (ECS allows 100). Default 100. */
  readonly pageSize?: number | undefined;
  /** The account id in ARNs. Default `123456789012`. */
  readonly accountId?: string | undefined;
  /** The region in ARNs. Default `us-east-1`. */
  readonly region?: string | undefined;
}

/**
 * The operations the fake implements.
 *
 * @example
 * ```ts
 * const operation: FakeEcsOperation = 'DescribeTasks';
 * ```
 */
export type FakeEcsOperation = 'ListTasks' | 'DescribeTasks';

type JsonTask = Record<string, unknown> & { taskArn: string; desiredStatus: string };

const targetPrefix = 'AmazonEC2ContainerServiceV20141113.';
const describeLimit = 100;

/**
 * A fake Amazon ECS API on 127.0.0.1 that speaks the real wire protocol (`awsJson1_1`:
 * `POST /` with `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`), so the real
 * AWS SDK can be pointed at it with an endpoint override and test credentials.
 *
 * It implements ListTasks (filtered by service and desired status, paginated with
 * `nextToken`) and DescribeTasks (at most 100 tasks per call, unknown ones reported as
 * `MISSING` failures), answers unknown clusters and services as ECS does, and can be told to
 * fail the next requests with any error, such as throttling or access denied. It never checks
 * signatures; it only records which access key id signed each request.
 *
 * @example
 * ```ts
 * const fake = new FakeEcs();
 * fake.setTasks('lakerunner', 'query-worker', [{ ip: '10.0.1.7' }, { ip: '10.0.1.8' }]);
 * const endpoint = await fake.listen();
 * const discovery = new EcsWorkerDiscovery({
 *   cluster: 'lakerunner',
 *   service: 'query-worker',
 *   endpoint,
 *   region: 'us-east-1',
 *   credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
 * });
 * console.log(await discovery.getWorkers());
 * await fake.close();
 * ```
 */
export class FakeEcs {
  /** Every request received, oldest first. */
  readonly requests: FakeEcsRequest[] = [];

  readonly #pageSize: number;
  readonly #accountId: string;
  readonly #region: string;
  /** cluster name -> service name -> task ARNs, in the order they were added. */
  readonly #clusters = new Map<string, Map<string, string[]>>();
  readonly #tasks = new Map<string, JsonTask>();
  readonly #vanished = new Set<string>();
  readonly #faults = new Map<FakeEcsOperation, { fault: FakeEcsFault; left: number }[]>();
  #server: Server | undefined;
  #endpoint: string | undefined;

  constructor(options: FakeEcsOptions = {}) {
    this.#pageSize = options.pageSize ?? 100;
    this.#accountId = options.accountId ?? '123456789012';
    this.#region = options.region ?? 'us-east-1';
  }

  /** The `http://127.0.0.1:port` URL, once {@link FakeEcs.listen} has resolved. */
  get endpoint(): string {
    if (this.#endpoint === undefined) throw new Error('FakeEcs: call listen() first');
    return this.#endpoint;
  }

  /**
   * Replaces a service's tasks (creating the cluster and service) and returns their ARNs in
   * the order given. An empty list gives a service with no tasks.
   *
   * @example
   * ```ts
   * const [arn] = fake.setTasks('lakerunner', 'query-worker', [{ lastStatus: 'PENDING' }]);
   * ```
   */
  setTasks(cluster: string, service: string, tasks: readonly FakeEcsTaskInit[]): string[] {
    const services = this.#clusters.get(cluster) ?? new Map<string, string[]>();
    this.#clusters.set(cluster, services);

    for (const arn of services.get(service) ?? []) this.#tasks.delete(arn);
    const arns = tasks.map((init, index) => {
      const task = this.#task(cluster, init, index);
      this.#tasks.set(task.taskArn, task);
      return task.taskArn;
    });
    services.set(service, arns);

    return arns;
  }

  /**
   * Keeps a task in ListTasks answers but makes DescribeTasks report it `MISSING`, as ECS
   * does for a task that stopped and was cleaned up between the two calls.
   *
   * @example
   * ```ts
   * fake.vanish(arns[0]);
   * ```
   */
  vanish(taskArn: string): void {
    this.#vanished.add(taskArn);
  }

  /**
   * Makes the next requests for `operation` fail with `fault` (queued after earlier faults).
   *
   * @example
   * ```ts
   * fake.failNext('ListTasks', { type: 'ThrottlingException', message: 'Rate exceeded' });
   * fake.failNext('DescribeTasks', { type: 'AccessDeniedException', times: Infinity });
   * ```
   */
  failNext(operation: FakeEcsOperation, fault: FakeEcsFault): void {
    const queue = this.#faults.get(operation) ?? [];
    queue.push({ fault, left: fault.times ?? 1 });
    this.#faults.set(operation, queue);
  }

  /**
   * Forgets queued faults.
   *
   * @example
   * ```ts
   * fake.clearFaults();
   * ```
   */
  clearFaults(): void {
    this.#faults.clear();
  }

  /**
   * Starts listening on 127.0.0.1 on a free port and returns the endpoint URL.
   *
   * @example
   * ```ts
   * const endpoint = await fake.listen(); // 'http://127.0.0.1:40123'
   * ```
   */
  async listen(): Promise<string> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });

    const { port } = server.address() as AddressInfo;
    this.#endpoint = originOf('http:', '127.0.0.1', port);
    return this.#endpoint;
  }

  /**
   * Stops the server and drops its connections, including any left hanging.
   *
   * @example
   * ```ts
   * await fake.close();
   * ```
   */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;

    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #task(cluster: string, init: FakeEcsTaskInit, index: number): JsonTask {
    const id = init.id ?? randomUUID().replaceAll('-', '');
    const prefix = `arn:aws:ecs:${this.#region}:${this.#accountId}`;
    const ip = init.ip === undefined ? defaultIp(index) : init.ip;
    const attachments =
      ip === null
        ? []
        : [
            {
              id: randomUUID(),
              type: 'ElasticNetworkInterface',
              status: 'ATTACHED',
              details: [
                { name: 'subnetId', value: 'subnet-0fake' },
                { name: 'networkInterfaceId', value: 'eni-0fake' },
                { name: 'privateIPv4Address', value: ip },
              ],
            },
          ];

    return {
      taskArn: `${prefix}:task/${cluster}/${id}`,
      clusterArn: `${prefix}:cluster/${cluster}`,
      lastStatus: init.lastStatus ?? 'RUNNING',
      desiredStatus: init.desiredStatus ?? 'RUNNING',
      healthStatus: init.healthStatus ?? 'HEALTHY',
      availabilityZone: init.availabilityZone ?? `${this.#region}a`,
      launchType: 'FARGATE',
      attachments,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);

    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || req.url !== '/' || typeof target !== 'string') {
      reply(res, 404, { __type: 'UnknownOperationException', message: 'not an ECS request' });
      return;
    }

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      reply(res, 400, { __type: 'SerializationException', message: 'body is not JSON' });
      return;
    }

    const operation = target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : target;
    this.requests.push({ operation, body, accessKeyId: signingKeyId(req.headers.authorization) });

    const fault = this.#takeFault(operation);
    if (fault?.hang) return;
    if (fault) {
      const status = fault.status ?? (fault.type === 'ServerException' ? 500 : 400);
      reply(res, status, { __type: fault.type, message: fault.message ?? fault.type });
      return;
    }

    if (operation === 'ListTasks') this.#listTasks(body, res);
    else if (operation === 'DescribeTasks') this.#describeTasks(body, res);
    else reply(res, 400, { __type: 'UnknownOperationException', message: operation });
  }

  #takeFault(operation: string): FakeEcsFault | undefined {
    const queue = this.#faults.get(operation as FakeEcsOperation);
    const head = queue?.[0];
    if (!queue || !head) return undefined;

    head.left -= 1;
    if (head.left <= 0) queue.shift();
    return head.fault;
  }

  #listTasks(body: Record<string, unknown>, res: ServerResponse): void {
    const services = this.#clusters.get(clusterName(body.cluster));
    if (!services) {
      reply(res, 400, { __type: 'ClusterNotFoundException', message: 'Cluster not found.' });
      return;
    }

    const serviceArns =
      typeof body.serviceName === 'string' ? services.get(body.serviceName) : allArns(services);
    if (!serviceArns) {
      reply(res, 400, { __type: 'ServiceNotFoundException', message: 'Service not found.' });
      return;
    }

    const desired = typeof body.desiredStatus === 'string' ? body.desiredStatus : 'RUNNING';
    const matching = serviceArns.filter((arn) => this.#tasks.get(arn)?.desiredStatus === desired);
    const offset = decodeToken(body.nextToken);
    if (offset === undefined) {
      reply(res, 400, { __type: 'InvalidParameterException', message: 'Invalid nextToken.' });
      return;
    }

    const limit = Math.min(Number(body.maxResults ?? 100), this.#pageSize);
    const page = matching.slice(offset, offset + limit);
    const next = offset + limit < matching.length ? encodeToken(offset + limit) : undefined;
    reply(res, 200, next === undefined ? { taskArns: page } : { taskArns: page, nextToken: next });
  }

  #describeTasks(body: Record<string, unknown>, res: ServerResponse): void {
    const requested = Array.isArray(body.tasks) ? body.tasks.map(String) : [];
    if (requested.length === 0 || requested.length > describeLimit) {
      const message = `Tasks cannot be empty or longer than ${describeLimit} elements.`;
      reply(res, 400, { __type: 'InvalidParameterException', message });
      return;
    }

    if (!this.#clusters.has(clusterName(body.cluster))) {
      reply(res, 400, { __type: 'ClusterNotFoundException', message: 'Cluster not found.' });
      return;
    }

    const tasks: JsonTask[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const arn of requested) {
      const task = this.#tasks.get(arn);
      if (task && !this.#vanished.has(arn)) tasks.push(task);
      else failures.push({ arn, reason: 'MISSING' });
    }

    reply(res, 200, { tasks, failures });
  }
}

/** 10.0.0.1, 10.0.0.2, ... 10.0.0.250, 10.0.1.1, ...: distinct for the first 64,000 tasks. */
function defaultIp(index: number): string {
  return `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

function reply(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

/** ECS accepts a cluster's name or ARN and defaults to the cluster named `default`. */
function clusterName(value: unknown): string {
  if (typeof value !== 'string' || value === '') return 'default';
  const slash = value.lastIndexOf('cluster/');
  return value.startsWith('arn:') && slash >= 0 ? value.slice(slash + 'cluster/'.length) : value;
}

function allArns(services: Map<string, string[]>): string[] {
  return [...services.values()].flat();
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

function decodeToken(token: unknown): number | undefined {
  if (token === undefined || token === null) return 0;

  try {
    const parsed = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as {
      offset?: unknown;
    };
    return typeof parsed.offset === 'number' ? parsed.offset : undefined;
  } catch {
    return undefined;
  }
}

function signingKeyId(authorization: string | undefined): string | undefined {
  return /Credential=([^/]+)\//.exec(authorization ?? '')?.[1];
}
