import { describe, expect, it } from 'vitest';
import type { Worker } from '../../src/discovery/worker.js';
import { ConfigError } from '../../src/errors.js';
import { LoadTracker } from '../../src/balancer/load-tracker.js';
import { MaglevPicker } from '../../src/balancer/maglev.js';
import { createPicker, policyNames } from '../../src/balancer/registry.js';
import { TableCache } from '../../src/balancer/table-cache.js';
import { workerIdentity } from '../../src/balancer/options.js';
import { makeWorkers, seededRandom } from './helpers.js';

const BUILT_IN = ['round-robin', 'rendezvous', 'maglev', 'ring', 'least-request'];
const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`);

function drainAll(workers: Worker[], ids: string[]): Worker[] {
  return workers.map((w) => (ids.includes(w.id) ? { ...w, state: 'draining' as const } : w));
}

describe.each(BUILT_IN)('%s: draining workers', (policy) => {
  it('are never picked while a ready worker remains, and come last in pickN', () => {
    const workers = drainAll(makeWorkers(6), ['w0', 'w3', 'w5']);
    const picker = createPicker(policy, workers, { random: seededRandom(1) });

    for (const key of keys) {
      expect(picker.pick(key)?.state).toBe('ready');
      const ranked = picker.pickN(key, 6);
      expect(ranked.map((w) => w.state)).toEqual([
        'ready', 'ready', 'ready', 'draining', 'draining', 'draining',
      ]);
      expect(new Set(ranked).size).toBe(6);
    }
    for (const owner of picker.assign(keys).keys()) expect(['w1', 'w2', 'w4']).toContain(owner);
  });

  it('are picked when no ready worker remains', () => {
    const workers = drainAll(makeWorkers(3), ['w0', 'w1', 'w2']);
    const picker = createPicker(policy, workers, { random: seededRandom(2) });
    for (const key of keys.slice(0, 20)) expect(picker.pick(key)?.state).toBe('draining');
  });
});

describe.each(BUILT_IN)('%s: zone preference', (policy) => {
  const zoned = makeWorkers(9).map((w, i) => ({ ...w, zone: i < 3 ? 'zone-a' : 'zone-b' }));

  it('keeps picks in the local zone while enough of it is ready', () => {
    const picker = createPicker(policy, zoned, {
      zonePreference: { zone: 'zone-a' },
      random: seededRandom(3),
    });
    for (const key of keys) expect(picker.pick(key)?.zone).toBe('zone-a');
    expect(picker.pickN('k', 9).map((w) => w.zone).slice(0, 4)).toEqual([
      'zone-a', 'zone-a', 'zone-a', 'zone-b',
    ]);
  });

  it('spills over to every ready worker when too few local ones are ready', () => {
    // Two of three local workers draining: 1/3 ready is below the default half.
    const workers = drainAll(zoned, ['w0', 'w1']);
    const picker = createPicker(policy, workers, {
      zonePreference: { zone: 'zone-a' },
      random: seededRandom(4),
    });
    const zones = new Set(keys.map((key) => picker.pick(key)?.zone));
    expect(zones).toEqual(new Set(['zone-a', 'zone-b']));
  });
});

describe.each(['round-robin', 'rendezvous', 'maglev', 'ring', 'least-request'])(
  '%s: slow start',
  (policy) => {
    it("ramps a new worker's share up over the window", () => {
      let now = 0;
      const tracker = new LoadTracker({ now: () => now });
      const old = makeWorkers(4);
      tracker.observe(old.map((w) => w.id));

      const fresh: Worker = { id: 'new', ip: '10.0.9.1', port: 7101, state: 'ready' };
      const options = { tracker, slowStart: { windowMs: 10_000 }, random: seededRandom(5) };
      const picker = createPicker(policy, [...old, fresh], options);
      const sample = Array.from({ length: 2_000 }, (_, i) => `s-${i}`);
      // Requests stay in flight while a sample runs, as under real load: least-request only
      // weighs a ramping worker against busy ones.
      const share = () => {
        let toNew = 0;
        const ends = sample.map((key) => {
          const worker = picker.pick(key) as Worker;
          if (worker.id === 'new') toNew += 1;
          return tracker.start(worker.id);
        });
        ends.forEach((end) => end());
        return toNew / sample.length;
      };

      // Fair share is 1/5 = 20%. At the start it gets about 10% of that; at the end all.
      const atStart = share();
      now = 5_000;
      const halfway = share();
      now = 10_000;
      const after = share();

      expect(atStart).toBeLessThan(0.08);
      expect(halfway).toBeGreaterThan(atStart);
      expect(after).toBeGreaterThan(halfway);
      expect(after).toBeGreaterThan(0.12);
    });
  },
);

describe('slow start with hashing keeps placement monotone', () => {
  it('a key given to a warming worker stays with it as the ramp grows', () => {
    let now = 0;
    const tracker = new LoadTracker({ now: () => now });
    const old = makeWorkers(4);
    tracker.observe(old.map((w) => w.id));
    const fresh: Worker = { id: 'new', ip: '10.0.9.1', port: 7101, state: 'ready' };
    const picker = createPicker('rendezvous', [...old, fresh], {
      tracker,
      slowStart: { windowMs: 10_000 },
    });

    const early = keys.filter((key) => picker.pick(key)?.id === 'new');
    now = 6_000;
    const later = new Set(keys.filter((key) => picker.pick(key)?.id === 'new'));
    for (const key of early) expect(later.has(key)).toBe(true);
  });

  it('spreads keys as usual when a whole new set ramps up together', () => {
    const tracker = new LoadTracker({ now: () => 0 });
    tracker.observe(['gone']);
    const workers = makeWorkers(4);
    const plain = createPicker('rendezvous', workers);
    const slow = createPicker('rendezvous', workers, { tracker, slowStart: { windowMs: 1e6 } });
    const owners = new Set(keys.map((key) => slow.pick(key)?.id));
    expect(owners.size).toBe(4);
    const same = keys.filter((key) => slow.pick(key) === plain.pick(key)).length;
    expect(same).toBeGreaterThan(keys.length * 0.85);
  });

  it('treats the first set a tracker sees as established', () => {
    const tracker = new LoadTracker({ now: () => 0 });
    const workers = makeWorkers(3);
    const plain = createPicker('rendezvous', workers);
    const slow = createPicker('rendezvous', workers, { tracker, slowStart: { windowMs: 1e6 } });
    for (const key of keys) expect(slow.pick(key)).toBe(plain.pick(key));
  });
});

describe('identity source', () => {
  const worker: Worker = { id: 'uid-1', ip: 'fd00::7', port: 7101, state: 'ready' };

  it('uses the uid, the pod name, or ip:port when they are unknown', () => {
    expect(workerIdentity(worker, 'uid')).toBe('uid-1');
    expect(workerIdentity({ ...worker, podName: 'query-worker-3' }, 'pod-name'))
      .toBe('query-worker-3');
    expect(workerIdentity(worker, 'pod-name')).toBe('[fd00::7]:7101');
    expect(workerIdentity({ ...worker, id: '' }, 'uid')).toBe('[fd00::7]:7101');
    expect(workerIdentity(worker, 'address')).toBe('[fd00::7]:7101');
  });
});

describe('maglev table size', () => {
  it('rejects a size that is not prime, naming the option', () => {
    try {
      new MaglevPicker(makeWorkers(3), { tableSize: 65536 });
      expect.fail('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).setting).toBe('tableSize');
      expect((error as ConfigError).message).toContain('65536');
    }
  });

  it('grows past 100 × workers to the next prime, and keeps the default otherwise', () => {
    expect(new MaglevPicker(makeWorkers(10), { tableSize: 101 }).tableSize).toBe(1009);
    expect(new MaglevPicker(makeWorkers(10)).tableSize).toBe(65537);
    expect(new MaglevPicker(makeWorkers(1_000)).tableSize).toBe(100_003);
  });
});

describe('table cache', () => {
  it('reuses the table when a set flaps back, and rebuilds for a new set', () => {
    const tableCache = new TableCache({ max: 4 });
    const full = makeWorkers(10);
    const without = full.slice(1);

    for (const policy of ['maglev', 'ring']) {
      const before = tableCache.builds;
      for (let flap = 0; flap < 5; flap += 1) {
        createPicker(policy, full, { tableCache });
        createPicker(policy, without, { tableCache });
      }
      expect(tableCache.builds - before).toBe(2);
    }

    // A state change is a different table: draining workers leave the first tier.
    createPicker('maglev', drainAll(full, ['w4']), { tableCache });
    expect(tableCache.builds).toBe(5);
  });
});

describe('registry', () => {
  it('has every built-in policy', () => {
    expect(policyNames()).toEqual(expect.arrayContaining(BUILT_IN));
  });
});
