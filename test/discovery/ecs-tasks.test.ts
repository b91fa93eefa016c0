import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { workersFromEcsTasks, type EcsTaskLike } from '../../src/discovery/ecs-tasks.js';

const arn = (id: string): string => `arn:aws:ecs:us-east-1:123456789012:task/lr/${id}`;

function task(id: string, overrides: Partial<EcsTaskLike> & { ip?: string } = {}): EcsTaskLike {
  const { ip = '10.0.1.7', ...rest } = overrides;
  return {
    taskArn: arn(id),
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    healthStatus: 'HEALTHY',
    availabilityZone: 'us-east-1a',
    attachments: [
      {
        type: 'ElasticNetworkInterface',
        details: [
          { name: 'subnetId', value: 'subnet-1' },
          { name: 'privateIPv4Address', value: ip },
        ],
      },
    ],
    ...rest,
  };
}

const noSkips = { notRunning: 0, unhealthy: 0, noAddress: 0, refusedAddress: 0, malformed: 0 };

describe('workersFromEcsTasks', () => {
  it.each<[string, EcsTaskLike, 'ready' | 'draining' | keyof typeof noSkips]>([
    ['a healthy running task', task('a'), 'ready'],
    ['health UNKNOWN (no health check)', task('a', { healthStatus: 'UNKNOWN' }), 'ready'],
    ['no health status at all', task('a', { healthStatus: undefined }), 'ready'],
    ['running but told to stop', task('a', { desiredStatus: 'STOPPED' }), 'draining'],
    ['UNHEALTHY', task('a', { healthStatus: 'UNHEALTHY' }), 'unhealthy'],
    ['PROVISIONING', task('a', { lastStatus: 'PROVISIONING' }), 'notRunning'],
    ['PENDING', task('a', { lastStatus: 'PENDING' }), 'notRunning'],
    ['ACTIVATING', task('a', { lastStatus: 'ACTIVATING' }), 'notRunning'],
    ['DEACTIVATING', task('a', { lastStatus: 'DEACTIVATING' }), 'notRunning'],
    ['STOPPING', task('a', { lastStatus: 'STOPPING' }), 'notRunning'],
    ['DEPROVISIONING', task('a', { lastStatus: 'DEPROVISIONING' }), 'notRunning'],
    ['STOPPED', task('a', { lastStatus: 'STOPPED' }), 'notRunning'],
    ['no lastStatus', task('a', { lastStatus: undefined }), 'notRunning'],
    ['no attachments (bridge mode)', task('a', { attachments: undefined }), 'noAddress'],
    [
      'an ENI with only IPv6',
      task('a', {
        attachments: [
          {
            type: 'ElasticNetworkInterface',
            details: [{ name: 'ipv6Address', value: 'fd00::7' }],
          },
        ],
      }),
      'noAddress',
    ],
    [
      'an address on a non-ENI attachment',
      task('a', {
        attachments: [
          {
            type: 'Service Connect',
            details: [{ name: 'privateIPv4Address', value: '10.0.0.1' }],
          },
        ],
      }),
      'noAddress',
    ],
    ['a malformed address', task('a', { ip: '10.0.1' }), 'noAddress'],
    ['no task ARN', task('a', { taskArn: undefined }), 'malformed'],
  ])('%s', (_name, input, expected) => {
    const selection = workersFromEcsTasks([input], 7101);

    if (expected === 'ready' || expected === 'draining') {
      expect(selection.workers).toEqual([
        { id: arn('a'), ip: '10.0.1.7', port: 7101, state: expected, zone: 'us-east-1a' },
      ]);
      expect(selection.skipped).toEqual(noSkips);
    } else {
      expect(selection.workers).toEqual([]);
      expect(selection.skipped).toEqual({ ...noSkips, [expected]: 1 });
    }
  });

  it('sorts workers by address, counts statuses and ignores a repeated task', () => {
    const selection = workersFromEcsTasks(
      [
        task('b', { ip: '10.0.2.1', availabilityZone: 'us-east-1b' }),
        task('a', { ip: '10.0.1.9' }),
        task('a', { ip: '10.0.1.9' }),
        task('c', { lastStatus: 'PENDING' }),
        task('d', { availabilityZone: '' }),
      ],
      8081,
    );

    expect(selection.workers.map((w) => [w.ip, w.zone])).toEqual([
      ['10.0.1.7', undefined],
      ['10.0.1.9', 'us-east-1a'],
      ['10.0.2.1', 'us-east-1b'],
    ]);
    expect(selection.skipped).toEqual({ ...noSkips, notRunning: 1, malformed: 1 });
    expect(selection.byLastStatus).toEqual({ RUNNING: 4, PENDING: 1 });
  });

  it('returns nothing for no tasks', () => {
    expect(workersFromEcsTasks([], 8081)).toEqual({
      workers: [],
      skipped: noSkips,
      byLastStatus: {},
      refusals: {},
      refused: new Map(),
    });
  });

  it('skips and counts addresses the policy refuses', () => {
    const tasks = [
      task('meta', { ip: '169.254.169.254' }),
      task('loop', { ip: '127.0.0.1' }),
      task('zero', { ip: '0.0.0.0' }),
      task('ok', { ip: '10.0.1.7' }),
      task('far', { ip: '192.168.1.1' }),
    ];

    const selection = workersFromEcsTasks(
      tasks,
      8081,
      createAddressPolicy({ allowedCidrs: ['10.0.0.0/8'] }),
    );

    expect(selection.workers.map((w) => w.id)).toEqual([arn('ok')]);
    expect(selection.skipped).toEqual({ ...noSkips, refusedAddress: 4 });
    expect(selection.refusals).toEqual({
      'link-local': 1,
      loopback: 1,
      unspecified: 1,
      'not-allowed': 1,
    });
    expect(workersFromEcsTasks(tasks, 8081).workers).toHaveLength(5);
  });
});
