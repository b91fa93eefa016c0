import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakeEcs } from '../../src/testing/fake-ecs.js';

// The SDK must only ever talk to the fake: the endpoint, region and static test keys are in
// every environment below, and instance metadata is off in case any chain were consulted.
beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

let fake: FakeEcs;
let endpoint: string;

beforeAll(async () => {
  fake = new FakeEcs();
  endpoint = await fake.listen();
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.clearFaults();
  fake.setTasks('lakerunner', 'query-worker', []);
});

function awsEnv(): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_ECS: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDFAKEECSTEST',
    AWS_SECRET_ACCESS_KEY: 'fake-secret-for-tests',
  };
}

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ...awsEnv(), ...env },
  });
  return { status, stdout, stderr };
}

const ecsEnv = {
  ECS_WORKER_CLUSTER_NAME: 'lakerunner',
  ECS_WORKER_SERVICE_NAME: 'query-worker',
};

describe('lakerunner debug ecs-discovery', () => {
  it('prints exactly the settings and the workers found', async () => {
    fake.setTasks('lakerunner', 'query-worker', [{ ip: '10.0.1.9' }, { ip: '10.0.1.7' }]);

    const { status, stdout, stderr } = await cli(['debug', 'ecs-discovery'], ecsEnv);

    expect(stdout).toBe(
      [
        'Debugging ECS worker discovery...',
        'ECS_WORKER_CLUSTER_NAME: lakerunner',
        'ECS_WORKER_SERVICE_NAME: query-worker',
        'QUERY_WORKER_PORT: 8081',
        'WORKER_POLL_INTERVAL_SECONDS: 10',
        'AWS_REGION: us-east-1',
        `ECS endpoint: ${endpoint}`,
        '',
        'Discovering workers...',
        'Found 2 workers:',
        '  [1] 10.0.1.7:8081',
        '  [2] 10.0.1.9:8081',
        '',
      ].join('\n'),
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });

  it('lets flags win over the environment', async () => {
    fake.setTasks('lakerunner', 'other', [{ ip: '10.0.2.2' }]);

    const { status, stdout } = await cli(
      ['debug', 'ecs-discovery', '--ecs-worker-service-name=other', '--query-worker-port=7101'],
      ecsEnv,
    );

    expect(stdout).toContain('ECS_WORKER_SERVICE_NAME: other');
    expect(stdout).toContain('  [1] 10.0.2.2:7101');
    expect(status).toBe(0);
  });

  it('explains an empty result with what discovery saw, exit status 3', async () => {
    fake.setTasks('lakerunner', 'query-worker', [
      { lastStatus: 'PENDING' },
      { healthStatus: 'UNHEALTHY' },
      { ip: null },
      { ip: '169.254.169.254' },
    ]);

    const { status, stdout } = await cli(['debug', 'ecs-discovery'], ecsEnv);

    expect(status).toBe(3);
    expect(stdout).toContain('Found 0 workers:');
    expect(stdout).toContain('No workers found. Check, in order:');
    expect(stdout).toContain('4 task(s) of service "query-worker"');
    expect(stdout).toContain('1 task address(es) refused (1 link-local)');
    expect(stdout).toContain('(1 PENDING)');
    expect(stdout).toContain('reports UNHEALTHY are left out (1)');
    expect(stdout).toContain('(1 running task(s) without one)');
  });

  it('prints JSON with the report when asked', async () => {
    fake.setTasks('lakerunner', 'query-worker', [{ ip: '10.0.1.7' }]);

    const { status, stdout } = await cli(['debug', 'ecs-discovery', '--output=json'], ecsEnv);
    const result = JSON.parse(stdout) as Record<string, unknown>;

    expect(status).toBe(0);
    expect(result).toMatchObject({
      source: 'ecs',
      cluster: 'lakerunner',
      port: 8081,
      workers: [{ ip: '10.0.1.7', port: 8081, state: 'ready' }],
      report: { listedTasks: 1, workers: 1 },
    });
  });

  it('blames the flag for a bad value, exit status 2, before asking ECS', async () => {
    const before = fake.requests.length;
    const { status, stderr } = await cli(
      ['debug', 'ecs-discovery', '--query-worker-port=70000'],
      ecsEnv,
    );

    expect(status).toBe(2);
    expect(stderr).toContain('--query-worker-port is "70000"');
    expect(fake.requests.length).toBe(before);
  });

  it('says which variable is missing', async () => {
    const { status, stderr } = await cli(['debug', 'ecs-discovery'], {
      ECS_WORKER_SERVICE_NAME: 'query-worker',
    });
    expect(status).toBe(2);
    expect(stderr).toContain('ECS_WORKER_CLUSTER_NAME (or QUERY_WORKER_CLUSTER_NAME) is not set');
  });

  it('reports access denied with the IAM actions, exit status 1', async () => {
    fake.failNext('ListTasks', { type: 'AccessDeniedException', message: 'not authorized' });

    const { status, stderr } = await cli(['debug', 'ecs-discovery'], ecsEnv);

    expect(status).toBe(1);
    expect(stderr).toContain('ecs:ListTasks and ecs:DescribeTasks');
    expect(stderr).not.toContain('fake-secret-for-tests');
  });
});

describe('lakerunner debug discovery', () => {
  it('refuses to guess the environment, listing the accepted values', async () => {
    const { status, stderr } = await cli(['debug', 'discovery'], ecsEnv);
    expect(status).toBe(2);
    expect(stderr).toContain('EXECUTION_ENVIRONMENT is not set');
    expect(stderr).toContain('kubernetes, ecs, local');
  });

  it('runs the ECS report when EXECUTION_ENVIRONMENT=ecs', async () => {
    fake.setTasks('lakerunner', 'query-worker', [{ ip: '10.0.1.7' }]);

    const { status, stdout } = await cli(['debug', 'discovery', '--query-worker-port=7101'], {
      ...ecsEnv,
      EXECUTION_ENVIRONMENT: 'ecs',
    });

    expect(stdout).toContain('Debugging ECS worker discovery...');
    expect(stdout).toContain('  [1] 10.0.1.7:7101');
    expect(status).toBe(0);
  });

  it('prints the local list, the flag winning over the variable', async () => {
    const env = { EXECUTION_ENVIRONMENT: 'ecs', QUERY_WORKERS: '10.0.0.1:1' };
    const { status, stdout } = await cli(
      ['debug', 'discovery', '--execution-environment', 'local', '--query-workers=[::1]:7101'],
      env,
    );

    expect(stdout).toBe(
      [
        'Debugging local worker discovery...',
        'QUERY_WORKERS: [::1]:7101',
        '',
        'Discovering workers...',
        'Found 1 workers:',
        '  [1] [::1]:7101',
        '',
      ].join('\n'),
    );
    expect(status).toBe(0);
  });

  it('shows the local default and blames a bad --query-workers entry', async () => {
    const local = { EXECUTION_ENVIRONMENT: 'local' };
    const fallback = await cli(['debug', 'discovery'], local);
    expect(fallback.stdout).toContain('QUERY_WORKERS: 127.0.0.1:8081 (default)');
    expect(fallback.stdout).toContain('  [1] 127.0.0.1:8081');

    const bad = await cli(['debug', 'discovery', '--query-workers=10.0.0.1'], local);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--query-workers entry 1 ("10.0.0.1")');
  });

  it('refuses an unknown --execution-environment', async () => {
    const { status, stderr } = await cli(['debug', 'discovery', '--execution-environment=k8s']);
    expect(status).toBe(2);
    expect(stderr).toContain('--execution-environment is "k8s"');
  });

  it('shows its help without an environment', async () => {
    const { status, stdout } = await cli(['debug', 'discovery', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('--execution-environment=ENV');
  });
});
