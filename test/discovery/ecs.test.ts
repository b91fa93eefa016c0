import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError, DiscoveryError } from '../../src/errors.js';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { EcsWorkerDiscovery } from '../../src/discovery/ecs.js';
import { loadEcsSdk } from '../../src/discovery/ecs-sdk.js';
import type { EcsDiscoveryOptions } from '../../src/discovery/ecs-settings.js';
import { FakeEcs } from '../../src/testing/fake-ecs.js';

// The SDK must only ever talk to the fake: explicit endpoint, region and static credentials
// in every client below, and no instance-metadata lookups even if a chain were consulted.
beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

const credentials = { accessKeyId: 'AKIDFAKEECSTEST', secretAccessKey: 'fake-secret-for-tests' };
const cluster = 'lakerunner';
const service = 'query-worker';

let fake: FakeEcs;
let endpoint: string;
const open: EcsWorkerDiscovery[] = [];

beforeEach(async () => {
  fake = new FakeEcs({ pageSize: 40 });
  endpoint = await fake.listen();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((discovery) => discovery.close()));
  await fake.close();
});

function discovery(overrides: Partial<EcsDiscoveryOptions> = {}): EcsWorkerDiscovery {
  const created = new EcsWorkerDiscovery({
    cluster,
    service,
    endpoint,
    region: 'us-east-1',
    credentials,
    port: 7101,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 2,
    ...overrides,
  });
  open.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<DiscoveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DiscoveryError);
  return err as DiscoveryError;
}

const operations = (): string[] => fake.requests.map((r) => r.operation);

describe('EcsWorkerDiscovery against a fake ECS endpoint', () => {
  it('follows nextToken and describes at most 100 tasks per call', async () => {
    fake.setTasks(cluster, service, Array.from({ length: 250 }, () => ({})));
    fake.setTasks(cluster, 'other-service', [{ ip: '10.9.9.9' }]);

    const workers = await discovery().getWorkers();

    expect(workers).toHaveLength(250);
    expect(new Set(workers.map((w) => w.id)).size).toBe(250);
    expect(workers.every((w) => w.port === 7101 && w.state === 'ready')).toBe(true);
    expect(workers.some((w) => w.ip === '10.9.9.9')).toBe(false);

    const lists = fake.requests.filter((r) => r.operation === 'ListTasks');
    expect(lists).toHaveLength(7); // 250 tasks in pages of 40
    expect(lists[0]?.body).toMatchObject({
      cluster,
      serviceName: service,
      desiredStatus: 'RUNNING',
    });
    const describes = fake.requests.filter((r) => r.operation === 'DescribeTasks');
    expect(describes.map((r) => (r.body.tasks as unknown[]).length)).toEqual([100, 100, 50]);
    expect(fake.requests.every((r) => r.accessKeyId === credentials.accessKeyId)).toBe(true);
  });

  it('keeps RUNNING tasks that are not UNHEALTHY and explains the rest', async () => {
    const arns = fake.setTasks(cluster, service, [
      { ip: '10.0.0.20', availabilityZone: 'us-east-1b' },
      { ip: '10.0.0.10', healthStatus: 'UNKNOWN' },
      { healthStatus: 'UNHEALTHY' },
      { lastStatus: 'PROVISIONING' },
      { lastStatus: 'PENDING' },
      { lastStatus: 'ACTIVATING' },
      { lastStatus: 'DEACTIVATING' },
      { lastStatus: 'STOPPING' },
      { ip: null },
      { desiredStatus: 'STOPPED', lastStatus: 'STOPPED' },
      { ip: '10.0.0.30' },
    ]);
    fake.vanish(arns[10] ?? '');
    const source = discovery();

    const workers = await source.getWorkers();

    expect(workers).toEqual([
      { id: arns[1], ip: '10.0.0.10', port: 7101, state: 'ready', zone: 'us-east-1a' },
      { id: arns[0], ip: '10.0.0.20', port: 7101, state: 'ready', zone: 'us-east-1b' },
    ]);
    expect(source.lastReport()).toMatchObject({
      cluster,
      service,
      port: 7101,
      listedTasks: 10,
      describedTasks: 9,
      missingTasks: 1,
      workers: 2,
      skipped: { notRunning: 5, unhealthy: 1, noAddress: 1, refusedAddress: 0, malformed: 0 },
      byLastStatus: {
        RUNNING: 4, PROVISIONING: 1, PENDING: 1, ACTIVATING: 1, DEACTIVATING: 1, STOPPING: 1,
      },
    });
  });

  it('returns no workers for a service with no tasks, without calling DescribeTasks', async () => {
    fake.setTasks(cluster, service, []);
    const source = discovery();

    expect(await source.getWorkers()).toEqual([]);
    expect(operations()).toEqual(['ListTasks']);
    expect(source.lastReport()?.listedTasks).toBe(0);
  });

  it('refuses task addresses such as the metadata service by default', async () => {
    fake.setTasks(cluster, service, [{ ip: '169.254.169.254' }, { ip: '127.0.0.1' }, {}]);
    const source = discovery();

    expect(await source.getWorkers()).toHaveLength(1);
    expect(source.lastReport()?.refusals).toEqual({ 'link-local': 1, loopback: 1 });

    const permissive = discovery({ addressPolicy: createAddressPolicy({ allowLoopback: true }) });
    expect(await permissive.getWorkers()).toHaveLength(2);
  });

  it('accepts a cluster ARN', async () => {
    fake.setTasks(cluster, service, [{}]);
    const arn = `arn:aws:ecs:us-east-1:123456789012:cluster/${cluster}`;
    expect(await discovery({ cluster: arn }).getWorkers()).toHaveLength(1);
  });
});

describe('EcsWorkerDiscovery failures', () => {
  it('retries throttling with backoff and then succeeds', async () => {
    fake.setTasks(cluster, service, [{}, {}]);
    const throttled = { type: 'ThrottlingException', message: 'Rate exceeded' };
    fake.failNext('ListTasks', { ...throttled, times: 2 });
    fake.failNext('DescribeTasks', throttled);

    expect(await discovery().getWorkers()).toHaveLength(2);
    expect(operations()).toEqual([
      'ListTasks', 'ListTasks', 'ListTasks', 'DescribeTasks', 'DescribeTasks',
    ]);
  });

  it('gives up on throttling after the configured retries with a throttled error', async () => {
    fake.setTasks(cluster, service, [{}]);
    const throttled = { type: 'ThrottlingException', message: 'Rate exceeded' };
    fake.failNext('ListTasks', { ...throttled, times: Infinity });

    const err = await failure(discovery({ retries: 2 }).getWorkers());

    expect(err.reason).toBe('throttled');
    expect(err.code).toBe('ERR_LAKERUNNER_DISCOVERY');
    expect(err.server).toBe(endpoint);
    expect(err.message).toContain('ThrottlingException: Rate exceeded');
    expect(err.message).toContain('after 3 of 3 attempts');
    expect(err.message).toContain('WORKER_POLL_INTERVAL_SECONDS');
    expect(operations()).toEqual(['ListTasks', 'ListTasks', 'ListTasks']);
  });

  it('treats HTTP 429 as throttling whatever the error name', async () => {
    fake.setTasks(cluster, service, [{}]);
    fake.failNext('ListTasks', { type: 'SomethingElse', status: 429, times: Infinity });

    expect((await failure(discovery({ retries: 0 }).getWorkers())).reason).toBe('throttled');
  });

  it('retries ECS server errors', async () => {
    fake.setTasks(cluster, service, [{}]);
    fake.failNext('DescribeTasks', { type: 'ServerException', message: 'oops', times: 1 });

    expect(await discovery().getWorkers()).toHaveLength(1);
    expect(operations()).toEqual(['ListTasks', 'DescribeTasks', 'DescribeTasks']);
  });

  it.each(['ListTasks', 'DescribeTasks'] as const)(
    'does not retry access denied on %s and names the IAM actions',
    async (operation) => {
      fake.setTasks(cluster, service, [{}]);
      const message =
        'User: arn:aws:sts::123456789012:assumed-role/worker/AKIDFAKEECSTEST is not ' +
        `authorized to perform: ecs:${operation}`;
      fake.failNext(operation, { type: 'AccessDeniedException', message, times: Infinity });

      const err = await failure(discovery().getWorkers());

      expect(err.reason).toBe('forbidden');
      expect(err.status).toBe(400);
      expect(err.message).toContain(`ECS ${operation}`);
      expect(err.message).toContain('ecs:ListTasks and ecs:DescribeTasks');
      expect(err.message).not.toContain(credentials.secretAccessKey);
      expect(operations().filter((op) => op === operation)).toHaveLength(1);
    },
  );

  it('explains a missing cluster and a missing service', async () => {
    fake.setTasks(cluster, service, [{}]);

    const noCluster = await failure(discovery({ cluster: 'nope' }).getWorkers());
    expect(noCluster.reason).toBe('not-found');
    expect(noCluster.message).toMatch(/ClusterNotFound.*"nope".*ECS_WORKER_CLUSTER_NAME/);

    const noService = await failure(discovery({ service: 'nope' }).getWorkers());
    expect(noService.reason).toBe('not-found');
    expect(noService.message).toMatch(/ServiceNotFound.*"nope".*ECS_WORKER_SERVICE_NAME/);
    expect(operations()).toEqual(['ListTasks', 'ListTasks']);
  });

  it('reports bad credentials as unauthorized without showing them', async () => {
    fake.setTasks(cluster, service, [{}]);
    fake.failNext('ListTasks', {
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });

    const err = await failure(discovery().getWorkers());
    expect(err.reason).toBe('unauthorized');
    expect(err.message).not.toContain(credentials.secretAccessKey);
  });

  it('reports an endpoint nobody listens on as unreachable', async () => {
    const closed = new FakeEcs();
    const deadEndpoint = await closed.listen();
    await closed.close();

    const err = await failure(discovery({ endpoint: deadEndpoint }).getWorkers());
    expect(err.reason).toBe('unreachable');
    expect(err.server).toBe(deadEndpoint);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('reports an endpoint that never answers as a timeout', async () => {
    fake.setTasks(cluster, service, [{}]);
    fake.failNext('ListTasks', { type: 'unused', hang: true });

    const err = await failure(discovery({ requestTimeoutMs: 50 }).getWorkers());
    expect(err.reason).toBe('timeout');
  });

  it('stops waiting to retry when the signal aborts', async () => {
    fake.setTasks(cluster, service, [{}]);
    fake.failNext('ListTasks', { type: 'ThrottlingException', times: Infinity });
    const controller = new AbortController();
    const source = discovery({ minRetryDelayMs: 600_000, maxRetryDelayMs: 600_000 });

    const pending = source.getWorkers({ signal: controller.signal }).catch((e: unknown) => e);
    while (fake.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('shutting down'));

    expect(await pending).toBeInstanceOf(AbortedError);
  });

  it('rejects at once for an already aborted signal, without a request', async () => {
    const err = await discovery()
      .getWorkers({ signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses lookups after close', async () => {
    fake.setTasks(cluster, service, [{}]);
    const source = discovery();
    await source.getWorkers();
    await source.close();

    expect((await failure(source.getWorkers())).reason).toBe('unavailable');
  });
});

describe('EcsWorkerDiscovery from the environment', () => {
  it('reads the standard endpoint variables and the worker settings', async () => {
    fake.setTasks(cluster, service, [{ ip: '10.0.3.3' }]);
    const env = {
      QUERY_WORKER_CLUSTER_NAME: cluster,
      ECS_WORKER_SERVICE_NAME: service,
      QUERY_WORKER_PORT: '7102',
      WORKER_POLL_INTERVAL_SECONDS: '3',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9/not-this-one',
      AWS_ENDPOINT_URL_ECS: endpoint,
    };

    const source = EcsWorkerDiscovery.fromEnv(env, { credentials });
    open.push(source);

    expect(source.kind).toBe('ecs');
    expect(source.refreshIntervalMs).toBe(3000);
    expect(await source.getWorkers()).toMatchObject([{ ip: '10.0.3.3', port: 7102 }]);
  });

  it('defaults to port 8081 and a 10 s poll interval', () => {
    const source = EcsWorkerDiscovery.fromEnv({
      ECS_WORKER_CLUSTER_NAME: cluster,
      ECS_WORKER_SERVICE_NAME: service,
      AWS_REGION: 'us-east-1',
    });
    expect([source.port, source.refreshIntervalMs]).toEqual([8081, 10_000]);
  });
});

describe('loading the optional AWS SDK', () => {
  it('says how to install @aws-sdk/client-ecs when it is missing', async () => {
    const missing = Object.assign(
      new Error("Cannot find package '@aws-sdk/client-ecs' imported from /app/dist/ecs.js"),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );

    const err = await failure(loadEcsSdk(() => Promise.reject(missing)));
    expect(err.reason).toBe('config');
    expect(err.message).toContain('npm install @aws-sdk/client-ecs');
  });

  it('loads the installed SDK', async () => {
    const sdk = await loadEcsSdk();
    expect(typeof sdk.ECSClient).toBe('function');
  });
});
