import { describe, expect, it } from 'vitest';
import { ecsOptionsFromEnv, validateEcsOptions } from '../../src/discovery/ecs-settings.js';
import { configErrorOf } from '../support/errors.js';

const base = { ECS_WORKER_CLUSTER_NAME: 'lakerunner', ECS_WORKER_SERVICE_NAME: 'query-worker' };

describe('ecsOptionsFromEnv', () => {
  it('reads cluster and service under either name, with no port or interval by default', () => {
    const options = ecsOptionsFromEnv({
      QUERY_WORKER_CLUSTER_NAME: 'lakerunner',
      QUERY_WORKER_SERVICE_NAME: 'query-worker',
    });
    expect(options).toMatchObject({ cluster: 'lakerunner', service: 'query-worker' });
    expect(options.port).toBeUndefined();
    expect(options.refreshIntervalMs).toBeUndefined();
  });

  it('accepts both names when they agree and refuses them when they differ', () => {
    const agree = { ...base, QUERY_WORKER_CLUSTER_NAME: 'lakerunner' };
    expect(ecsOptionsFromEnv(agree).cluster).toBe('lakerunner');

    const differ = { ...base, QUERY_WORKER_SERVICE_NAME: 'other' };
    const err = configErrorOf(() => ecsOptionsFromEnv(differ));
    expect(err.setting).toBe('ECS_WORKER_SERVICE_NAME');
    expect(err.message).toContain('"other"');
  });

  it.each([
    ['ECS_WORKER_CLUSTER_NAME', { ECS_WORKER_SERVICE_NAME: 'query-worker' }],
    [
      'ECS_WORKER_SERVICE_NAME',
      { ECS_WORKER_CLUSTER_NAME: 'lakerunner', QUERY_WORKER_SERVICE_NAME: ' ' },
    ],
  ])('says %s is missing, with its alias and an example', (setting, env) => {
    const err = configErrorOf(() => ecsOptionsFromEnv(env));
    expect(err.setting).toBe(setting);
    expect(err.message).toContain(setting.replace('ECS_', 'QUERY_'));
    expect(err.message).toContain('is not set: give a value such as');
  });

  it.each([
    ['7101', 7101],
    ['1', 1],
    ['65535', 65535],
  ])('accepts QUERY_WORKER_PORT=%j', (raw, port) => {
    expect(ecsOptionsFromEnv({ ...base, QUERY_WORKER_PORT: raw }).port).toBe(port);
  });

  it.each(['invalid', '0', '70000', '71.5', ' 7101x', '7101x', ' 7101', '-1', '0x1F'])(
    'refuses QUERY_WORKER_PORT=%j, naming the variable and the value',
    (raw) => {
      const err = configErrorOf(() => ecsOptionsFromEnv({ ...base, QUERY_WORKER_PORT: raw }));
      expect(err.setting).toBe('QUERY_WORKER_PORT');
      expect(err.message).toContain(JSON.stringify(raw));
      expect(err.message).toContain('1 to 65535');
    },
  );

  it.each([
    ['10', 10_000],
    ['1', 1_000],
    ['3600', 3_600_000],
  ])('reads WORKER_POLL_INTERVAL_SECONDS=%j', (raw, ms) => {
    const env = { ...base, WORKER_POLL_INTERVAL_SECONDS: raw };
    expect(ecsOptionsFromEnv(env).refreshIntervalMs).toBe(ms);
  });

  it.each(['0', '0.5', '2.5', 'ten', '10s', '-5', ' 10'])(
    'refuses WORKER_POLL_INTERVAL_SECONDS=%j',
    (raw) => {
      const env = { ...base, WORKER_POLL_INTERVAL_SECONDS: raw };
      const err = configErrorOf(() => ecsOptionsFromEnv(env));
      expect(err.setting).toBe('WORKER_POLL_INTERVAL_SECONDS');
      expect(err.message).toContain(JSON.stringify(raw));
    },
  );

  it('refuses malformed cluster and service names', () => {
    const cluster = configErrorOf(() =>
      ecsOptionsFromEnv({ ...base, ECS_WORKER_CLUSTER_NAME: 'my cluster' }),
    );
    expect(cluster.setting).toBe('ECS_WORKER_CLUSTER_NAME');
    expect(cluster.message).toContain('"my cluster"');

    const service = configErrorOf(() =>
      ecsOptionsFromEnv({ ...base, ECS_WORKER_SERVICE_NAME: 'svc/x' }),
    );
    expect(service.setting).toBe('ECS_WORKER_SERVICE_NAME');
  });

  it('takes the ECS endpoint variable over the general one, unless told to ignore both', () => {
    const env = {
      ...base,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_ECS: 'http://127.0.0.1:2',
    };
    expect(ecsOptionsFromEnv(env).endpoint).toBe('http://127.0.0.1:2');
    expect(ecsOptionsFromEnv({ ...base, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }).endpoint)
      .toBe('http://127.0.0.1:1');

    const ignored = { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' };
    expect(ecsOptionsFromEnv(ignored).endpoint).toBeUndefined();

    const bad = configErrorOf(() => ecsOptionsFromEnv({ ...base, AWS_ENDPOINT_URL_ECS: 'ecs' }));
    expect(bad.setting).toBe('AWS_ENDPOINT_URL_ECS');
  });

  it('takes AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(ecsOptionsFromEnv({ ...base, AWS_DEFAULT_REGION: 'eu-west-1' }).region)
      .toBe('eu-west-1');
    const both = { ...base, AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'eu-west-1' };
    expect(ecsOptionsFromEnv(both).region).toBe('us-east-2');
  });

  it('blames the flag or option given, else the variable actually read', () => {
    const names = { cluster: '--ecs-worker-cluster-name' };
    const flag = configErrorOf(() => ecsOptionsFromEnv(base, { cluster: 'a b' }, names));
    expect(flag.setting).toBe('--ecs-worker-cluster-name');
    expect(flag.message).toContain('--ecs-worker-cluster-name is "a b"');

    const env = { ECS_WORKER_SERVICE_NAME: 's', QUERY_WORKER_CLUSTER_NAME: 'a b' };
    expect(configErrorOf(() => ecsOptionsFromEnv(env)).setting).toBe('QUERY_WORKER_CLUSTER_NAME');

    const region = { ...base, AWS_DEFAULT_REGION: 'Nowhere' };
    expect(configErrorOf(() => ecsOptionsFromEnv(region)).setting).toBe('AWS_DEFAULT_REGION');
  });

  it('reads static keys from the given environment, as the SDK does from process.env', () => {
    const env = { ...base, AWS_ACCESS_KEY_ID: 'AKIDFAKE', AWS_SECRET_ACCESS_KEY: 'fake' };
    expect(ecsOptionsFromEnv(env).credentials).toEqual({
      accessKeyId: 'AKIDFAKE',
      secretAccessKey: 'fake',
      sessionToken: undefined,
    });
    expect(ecsOptionsFromEnv(base).credentials).toBeUndefined();
  });

  it('lets explicit options win over the environment', () => {
    const env = { ...base, QUERY_WORKER_PORT: 'invalid-but-overridden' };
    expect(ecsOptionsFromEnv(env, { port: 7101, cluster: 'other' })).toMatchObject({
      port: 7101,
      cluster: 'other',
    });
  });
});

describe('validateEcsOptions', () => {
  it.each([
    [{ port: 0 }, 'port', 'port is "0"'],
    [{ port: 71.5 }, 'port', '71.5'],
    [{ refreshIntervalMs: 10 }, 'refreshIntervalMs', 'one second'],
    [{ endpoint: 'ftp://x' }, 'endpoint', 'http'],
    [{ region: 'US East' }, 'region', 'us-east-1'],
    [{ retries: -1 }, 'retries', '-1'],
  ])('refuses %j, blaming %s', (overrides, setting, text) => {
    const options = { cluster: 'lakerunner', service: 'query-worker', ...overrides };
    const err = configErrorOf(() => validateEcsOptions(options));
    expect(err.setting).toBe(setting);
    expect(err.message).toContain(text);
  });
});
