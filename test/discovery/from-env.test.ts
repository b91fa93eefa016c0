import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EcsWorkerDiscovery } from '../../src/discovery/ecs.js';
import {
  createDiscoveryFromEnv,
  parseExecutionEnvironment,
} from '../../src/discovery/from-env.js';
import { KubernetesWorkerDiscovery } from '../../src/discovery/kubernetes.js';
import { StaticWorkerDiscovery } from '../../src/discovery/static.js';
import { FakeEcs } from '../../src/testing/fake-ecs.js';
import { endpointSlice, FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { tempDir } from '../support/temp.js';
import { configErrorOf } from '../support/errors.js';

// The SDK must only ever talk to fakes on 127.0.0.1; never let it reach instance metadata.
beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

const credentials = { accessKeyId: 'AKIDFAKEECSTEST', secretAccessKey: 'fake-secret-for-tests' };

describe('parseExecutionEnvironment', () => {
  it.each([
    ['kubernetes', 'kubernetes'],
    ['ecs', 'ecs'],
    [' Local ', 'local'],
    ['ECS', 'ecs'],
  ])('reads %j', (raw, expected) => {
    expect(parseExecutionEnvironment(raw)).toBe(expected);
  });

  it.each([undefined, '', '  '])('refuses a missing value (%j), not assuming local', (raw) => {
    const err = configErrorOf(() => parseExecutionEnvironment(raw));
    expect(err.setting).toBe('EXECUTION_ENVIRONMENT');
    expect(err.message).toContain('is not set');
    expect(err.message).toContain('kubernetes, ecs, local');
  });

  it.each(['k8s', 'fargate', 'production'])('refuses %j, listing the accepted values', (raw) => {
    const err = configErrorOf(() => parseExecutionEnvironment(raw));
    expect(err.message).toContain(JSON.stringify(raw));
    expect(err.message).toContain('kubernetes, ecs, local');
  });
});

describe('createDiscoveryFromEnv', () => {
  it('refuses to guess when EXECUTION_ENVIRONMENT is missing', () => {
    const env = { QUERY_WORKERS: '1.2.3.4:1' };
    const err = configErrorOf(() => createDiscoveryFromEnv({ env }));
    expect(err.setting).toBe('EXECUTION_ENVIRONMENT');
  });

  it('builds the local list from QUERY_WORKERS, or explicit workers', async () => {
    const env = { EXECUTION_ENVIRONMENT: 'local', QUERY_WORKERS: '10.0.0.1:7101' };

    const fromEnv = createDiscoveryFromEnv({ env });
    expect(fromEnv).toBeInstanceOf(StaticWorkerDiscovery);
    expect((await fromEnv.getWorkers()).map((w) => w.id)).toEqual(['10.0.0.1:7101']);

    const explicit = createDiscoveryFromEnv({ env, local: { workers: ['10.0.0.2:7101'] } });
    expect((await explicit.getWorkers()).map((w) => w.id)).toEqual(['10.0.0.2:7101']);

    const err = configErrorOf(() => createDiscoveryFromEnv({ env, local: { workers: ['x'] } }));
    expect(err.setting).toBe('local.workers');
  });

  it('lets the executionEnvironment option override the variable', () => {
    const env = { EXECUTION_ENVIRONMENT: 'kubernetes' };
    const discovery = createDiscoveryFromEnv({ env, executionEnvironment: 'local' });
    expect(discovery.kind).toBe('local');
  });

  it('builds ECS discovery from the environment, explicit options winning', async () => {
    const fake = new FakeEcs();
    const endpoint = await fake.listen();
    fake.setTasks('lakerunner', 'query-worker', [{ ip: '10.0.7.7' }]);
    const env = {
      EXECUTION_ENVIRONMENT: 'ecs',
      ECS_WORKER_CLUSTER_NAME: 'lakerunner',
      ECS_WORKER_SERVICE_NAME: 'query-worker',
      QUERY_WORKER_PORT: '7101',
      WORKER_POLL_INTERVAL_SECONDS: '5',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_ECS: endpoint,
    };

    const discovery = createDiscoveryFromEnv({ env, ecs: { credentials, port: 7300 } });
    try {
      expect(discovery).toBeInstanceOf(EcsWorkerDiscovery);
      expect(discovery.refreshIntervalMs).toBe(5000);
      expect(await discovery.getWorkers()).toMatchObject([{ ip: '10.0.7.7', port: 7300 }]);
    } finally {
      await discovery.close?.();
      await fake.close();
    }
  });

  it('passes ECS setting errors through', () => {
    const env = { EXECUTION_ENVIRONMENT: 'ecs', ECS_WORKER_SERVICE_NAME: 'query-worker' };
    const err = configErrorOf(() => createDiscoveryFromEnv({ env }));
    expect(err.setting).toBe('ECS_WORKER_CLUSTER_NAME');
  });

  it('builds Kubernetes discovery from the environment', async () => {
    const api = await FakeKubeApiServer.start();
    try {
      const kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
      api.putSlice(endpointSlice({
        name: 'query-worker-a',
        namespace: 'lakerunner',
        labels: { app: 'query-worker' },
        endpoints: [{ address: '10.244.0.9' }],
      }));
      const env = {
        EXECUTION_ENVIRONMENT: 'kubernetes',
        KUBECONFIG: kubeconfig,
        POD_NAMESPACE: 'lakerunner',
        WORKER_POD_LABEL_SELECTOR: 'app=query-worker',
        QUERY_WORKER_PORT: '7101',
      };

      const discovery = createDiscoveryFromEnv({ env });
      expect(discovery).toBeInstanceOf(KubernetesWorkerDiscovery);
      expect(await discovery.getWorkers()).toMatchObject([{ ip: '10.244.0.9', port: 7101 }]);
    } finally {
      await api.close();
    }
  });
});
