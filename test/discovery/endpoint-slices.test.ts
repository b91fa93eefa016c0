import { describe, expect, it } from 'vitest';
import {
  endpointState,
  workersFromSlices,
  type EndpointSliceLike,
} from '../../src/discovery/endpoint-slices.js';
import { endpointSlice, type EndpointSpec } from '../../src/testing/fake-kube-api.js';

function slice(endpoints: EndpointSpec[], addressType: 'IPv4' | 'IPv6' | 'FQDN' = 'IPv4') {
  return endpointSlice({ name: 's', namespace: 'ns', endpoints, addressType });
}

function addresses(slices: EndpointSliceLike[], keepDraining = false): string[] {
  return workersFromSlices(slices, { port: 7101, keepDraining }).workers.map(
    (worker) => `${worker.ip}:${worker.port}/${worker.state}`,
  );
}

describe('endpointState', () => {
  it.each([
    [undefined, 'ready'],
    [{}, 'ready'],
    [{ ready: true }, 'ready'],
    [{ ready: false }, 'not-ready'],
    [{ ready: false, serving: true, terminating: true }, 'terminating'],
    [{ ready: true, terminating: true }, 'terminating'],
    [{ terminating: false }, 'ready'],
  ])('%j is %s', (conditions, expected) => {
    expect(endpointState(conditions, false)).toBe(expected);
  });

  it('keeps serving-while-terminating endpoints as draining when asked', () => {
    expect(endpointState({ ready: false, serving: true, terminating: true }, true)).toBe(
      'draining',
    );
    expect(endpointState({ ready: false, serving: false, terminating: true }, true)).toBe(
      'terminating',
    );
    // Absent serving falls back to ready.
    expect(endpointState({ ready: false, terminating: true }, true)).toBe('terminating');
  });
});

describe('workersFromSlices', () => {
  it('keeps ready endpoints, and endpoints whose ready condition is absent', () => {
    const slices = [
      slice([
        { address: '10.0.0.1', ready: true },
        { address: '10.0.0.2' },
        { address: '10.0.0.3', ready: false },
        { address: '10.0.0.4', ready: false, serving: true, terminating: true },
      ]),
    ];
    expect(addresses(slices)).toEqual(['10.0.0.1:7101/ready', '10.0.0.2:7101/ready']);
    expect(addresses(slices, true)).toEqual([
      '10.0.0.1:7101/ready',
      '10.0.0.2:7101/ready',
      '10.0.0.4:7101/draining',
    ]);
  });

  it('skips IPv6 and FQDN slices and counts them', () => {
    const slices = [
      slice([{ address: 'fd00::7' }], 'IPv6'),
      slice([{ address: 'worker.example.internal' }], 'FQDN'),
      slice([{ address: '10.0.0.7' }]),
    ];
    const { workers, report } = workersFromSlices(slices, { port: 7101 });
    expect(workers.map((worker) => worker.ip)).toEqual(['10.0.0.7']);
    expect(report.skippedSlicesByAddressType).toBe(2);
  });

  it('makes one worker per endpoint, at its first address', () => {
    const slices = [slice([{ address: ['10.0.0.8', '10.0.0.9'], podName: 'w-0' }])];
    expect(addresses(slices)).toEqual(['10.0.0.8:7101/ready']);
  });

  it('merges a worker listed in two slices, ready if any copy is ready', () => {
    const stale = slice([{ address: '10.0.0.5', podName: 'w-5', ready: false }]);
    const fresh = slice([{ address: '10.0.0.5', podName: 'w-5', ready: true }]);
    for (const order of [[stale, fresh], [fresh, stale]]) {
      const { workers, report } = workersFromSlices(order, { port: 7101 });
      expect(workers).toHaveLength(1);
      expect(workers[0]?.state).toBe('ready');
      expect(report.notReady).toBe(1);
    }

    const twice = [slice([{ address: '10.0.0.6' }]), slice([{ address: '10.0.0.6' }])];
    const { workers, report } = workersFromSlices(twice, { port: 7101 });
    expect(workers.map((worker) => worker.id)).toEqual(['10.0.0.6:7101']);
    expect(report.duplicates).toBe(1);
  });

  it('uses the pod UID as id when the endpoint names its pod, else ip:port', () => {
    const slices = [
      slice([
        { address: '10.0.0.1', podName: 'query-worker-0', nodeName: 'node-a', zone: 'us-1a' },
        { address: '10.0.0.2' },
      ]),
    ];
    const { workers } = workersFromSlices(slices, { port: 7101 });
    expect(workers).toEqual([
      {
        id: 'uid-query-worker-0',
        ip: '10.0.0.1',
        port: 7101,
        state: 'ready',
        podName: 'query-worker-0',
        nodeName: 'node-a',
        zone: 'us-1a',
      },
      {
        id: '10.0.0.2:7101',
        ip: '10.0.0.2',
        port: 7101,
        state: 'ready',
        podName: undefined,
        nodeName: undefined,
        zone: undefined,
      },
    ]);
  });

  it('handles empty slices and slices with null endpoints', () => {
    const empty = { ...slice([]), endpoints: null };
    const { workers, report } = workersFromSlices([empty, slice([])], { port: 7101 });
    expect(workers).toEqual([]);
    expect(report.slices).toBe(2);
    expect(report.endpoints).toBe(0);
  });

  it('returns workers in a stable order, whatever order the slices came in', () => {
    const a = slice([{ address: '10.0.0.10' }, { address: '10.0.0.9' }]);
    const b = slice([{ address: '10.0.0.1' }]);
    expect(addresses([a, b])).toEqual(addresses([b, a]));
    expect(addresses([a, b])[0]).toBe('10.0.0.1:7101/ready');
  });

  it('skips and counts addresses that do not match the slice family', () => {
    const { workers, report } = workersFromSlices(
      [slice([{ address: 'not-an-ip' }, { address: '999.1.1.1' }, { address: 'fd00::1' }])],
      { port: 7101 },
    );
    expect(workers).toEqual([]);
    expect(report.badAddresses).toBe(3);
  });

  it('counts what it skipped so an empty result can be explained', () => {
    const { report } = workersFromSlices(
      [
        slice([
          { address: '10.0.0.1', ready: false },
          { address: '10.0.0.2', ready: false, serving: true, terminating: true },
        ]),
      ],
      { port: 7101 },
    );
    expect(report).toMatchObject({ slices: 1, endpoints: 2, notReady: 1, terminating: 1 });
  });
});
