import { describe, expect, it } from 'vitest';
import { AbortedError, DiscoveryError } from '../../src/errors.js';
import { StaticWorkerDiscovery, splitWorkerList } from '../../src/discovery/static.js';
import { configErrorOf } from '../support/errors.js';

describe('StaticWorkerDiscovery from QUERY_WORKERS', () => {
  it('defaults to one worker at 127.0.0.1:8081 when unset or blank', async () => {
    for (const env of [{}, { QUERY_WORKERS: '  ' }]) {
      const workers = await StaticWorkerDiscovery.fromEnv(env).getWorkers();
      expect(workers).toEqual([
        { id: '127.0.0.1:8081', ip: '127.0.0.1', port: 8081, state: 'ready' },
      ]);
    }
  });

  it('reads IPv4, bracketed IPv6 and localhost entries, sorted, with ip:port ids', async () => {
    const env = { QUERY_WORKERS: ' 10.0.0.9:7101,[fd00::7]:7102 , localhost:7103,' };
    const workers = await StaticWorkerDiscovery.fromEnv(env).getWorkers();
    expect(workers.map((w) => [w.id, w.ip, w.port])).toEqual([
      ['10.0.0.9:7101', '10.0.0.9', 7101],
      ['127.0.0.1:7103', '127.0.0.1', 7103],
      ['[fd00::7]:7102', 'fd00::7', 7102],
    ]);
  });

  it('keeps loopback and private addresses: the operator wrote the list', async () => {
    const discovery = new StaticWorkerDiscovery(['127.0.0.1:1', '[::1]:2', '169.254.1.1:3']);
    expect(await discovery.getWorkers()).toHaveLength(3);
    expect(discovery.kind).toBe('local');
  });

  it.each([
    ['10.0.0.7', 'is not host:port'],
    ['10.0.0.7:', 'bad port'],
    ['10.0.0.7:0', 'bad port'],
    ['10.0.0.7:70000', 'bad port'],
    ['10.0.0.7:71.5', 'bad port'],
    ['10.0.0.7:7101x', 'bad port'],
    ['fd00::7:7101', 'without brackets'],
    ['[10.0.0.7]:7101', 'non-IPv6'],
    ['http://10.0.0.7:7101', 'scheme'],
    ['10.0.0.300:7101', 'bad host'],
    ['bad_host!:7101', 'bad host'],
  ])('refuses %j, naming QUERY_WORKERS and the entry', (entry, problem) => {
    const err = configErrorOf(() =>
      StaticWorkerDiscovery.fromEnv({ QUERY_WORKERS: `10.0.0.1:1,${entry}` }),
    );
    expect(err.setting).toBe('QUERY_WORKERS');
    expect(err.code).toBe('ERR_LAKERUNNER_CONFIG');
    expect(err.message).toContain('entry 2');
    expect(err.message).toContain(JSON.stringify(entry));
    expect(err.message).toContain(problem);
  });

  it('refuses a list of only commas and a repeated entry', () => {
    expect(configErrorOf(() => StaticWorkerDiscovery.fromEnv({ QUERY_WORKERS: ',' })).message)
      .toContain('lists no workers');
    const repeated = { QUERY_WORKERS: '10.0.0.1:1,10.0.0.1:1' };
    expect(configErrorOf(() => StaticWorkerDiscovery.fromEnv(repeated)).message)
      .toContain('repeats');
  });
});

describe('StaticWorkerDiscovery from values', () => {
  it('accepts worker objects and keeps their id, state and zone', async () => {
    const discovery = new StaticWorkerDiscovery([
      { ip: '10.0.0.8', port: 7101, id: 'w-8', state: 'draining', zone: 'z1' },
      '10.0.0.7:7101',
    ]);
    expect(await discovery.getWorkers()).toEqual([
      { id: '10.0.0.7:7101', ip: '10.0.0.7', port: 7101, state: 'ready' },
      {
        id: 'w-8', ip: '10.0.0.8', port: 7101, state: 'draining', zone: 'z1',
        podName: undefined, nodeName: undefined,
      },
    ]);
  });

  it.each([
    [{ ip: 'example', port: 1 }, '`ip`'],
    [{ ip: '10.0.0.1', port: 0 }, '`port`'],
    [{ ip: '10.0.0.1', port: 1.5 }, '`port`'],
    [{ ip: '10.0.0.1', port: 1, state: 'up' as 'ready' }, '`state`'],
    [{ ip: '10.0.0.1', port: 1, id: '' }, '`id`'],
  ])('refuses the object %j, naming the option', (entry, problem) => {
    const err = configErrorOf(() => new StaticWorkerDiscovery([entry]));
    expect(err.setting).toBe('workers');
    expect(err.message).toContain(problem);
  });

  it('refuses an empty list', () => {
    expect(configErrorOf(() => new StaticWorkerDiscovery([])).message).toContain('no workers');
  });
});

describe('StaticWorkerDiscovery host names', () => {
  it('resolves names on each call and merges duplicates', async () => {
    const answers = [['10.0.0.5', '10.0.0.6'], ['10.0.0.6']];
    const asked: string[] = [];
    const discovery = new StaticWorkerDiscovery(['worker.internal:7101', '10.0.0.5:7101'], {
      resolveHost: async (name) => {
        asked.push(name);
        return answers.shift() ?? [];
      },
    });

    expect((await discovery.getWorkers()).map((w) => w.id)).toEqual([
      '10.0.0.5:7101',
      '10.0.0.6:7101',
    ]);
    expect((await discovery.getWorkers()).map((w) => w.id)).toEqual([
      '10.0.0.5:7101',
      '10.0.0.6:7101',
    ]);
    expect(asked).toEqual(['worker.internal', 'worker.internal']);
  });

  it('fails the call with a DiscoveryError when a name does not resolve', async () => {
    const discovery = StaticWorkerDiscovery.fromEnv(
      { QUERY_WORKERS: 'gone.internal:7101' },
      { resolveHost: () => Promise.reject(new Error('getaddrinfo ENOTFOUND gone.internal')) },
    );
    const err = await discovery.getWorkers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as DiscoveryError).reason).toBe('not-found');
    expect((err as DiscoveryError).message).toMatch(/QUERY_WORKERS.*"gone.internal"/);
  });

  it('honours an aborted signal', async () => {
    const discovery = new StaticWorkerDiscovery(['127.0.0.1:1']);
    const err = await discovery
      .getWorkers({ signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
  });
});

describe('splitWorkerList', () => {
  it('trims entries and drops empty ones', () => {
    expect(splitWorkerList(' a:1 ,, b:2 ,')).toEqual(['a:1', 'b:2']);
  });
});
