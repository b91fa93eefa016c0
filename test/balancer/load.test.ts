import { describe, expect, it } from 'vitest';
import type { Worker } from '../../src/discovery/worker.js';
import { LeastRequestPicker } from '../../src/balancer/least-request.js';
import { LoadTracker } from '../../src/balancer/load-tracker.js';
import { RingPicker } from '../../src/balancer/ring.js';
import { TableCache } from '../../src/balancer/table-cache.js';
import { makeWorkers, seededRandom } from './helpers.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('load tracker', () => {
  it('returns counts to zero on success, error, abort and disposal, and ends once', () => {
    const tracker = new LoadTracker();
    const id = 'w0';

    const success = tracker.start(id);
    const failure = tracker.start(id);
    const controller = new AbortController();
    tracker.start(id, controller.signal);
    const already = AbortSignal.abort();
    tracker.start(id, already);
    expect(tracker.load(id).inFlight).toBe(3);

    success(12);
    success(12);
    failure();
    controller.abort();
    {
      using scoped = tracker.start(id);
      expect(tracker.load(id).inFlight).toBe(1);
      expect(scoped).toBeTypeOf('function');
    }

    expect(tracker.load(id).inFlight).toBe(0);
    expect(tracker.totalInFlight).toBe(0);
  });

  it('keeps a peak-EWMA latency: jumps on a slow answer, decays over about 10 s', () => {
    const clock = manualClock();
    const tracker = new LoadTracker({ now: clock.now });
    expect(tracker.latencyMs('w0')).toBe(30);

    tracker.start('w0')(400);
    expect(tracker.latencyMs('w0')).toBe(400);

    clock.advance(10_000);
    expect(tracker.latencyMs('w0')).toBeCloseTo(400 / Math.E, 6);

    // A fast answer pulls the average down by the decay weight, not at once.
    tracker.start('w0')(10);
    const expected = 400 * Math.exp(-1) + 10 * (1 - Math.exp(-1));
    expect(tracker.latencyMs('w0')).toBeCloseTo(expected, 6);
  });

  it('forgets idle workers outside the set, and keeps busy ones', () => {
    const tracker = new LoadTracker();
    tracker.observe(['a', 'b', 'c']);
    const end = tracker.start('b');
    const aBefore = tracker.load('a');
    tracker.retain(['a']);
    expect(tracker.load('a')).toBe(aBefore);
    expect(tracker.load('b').inFlight).toBe(1);
    end();
    expect(tracker.load('c').firstSeenAt).not.toBe(Number.NEGATIVE_INFINITY);
  });

  it('rejects bad options with a ConfigError naming them', () => {
    expect(() => new LoadTracker({ decayMs: 0 })).toThrow(/decayMs/);
    expect(() => new LoadTracker({ initialLatencyMs: -1 })).toThrow(/initialLatencyMs/);
  });
});

describe('least-request', () => {
  it('always draws two distinct candidates', () => {
    const picker = new LeastRequestPicker(makeWorkers(5), { random: seededRandom(1) });
    for (let i = 0; i < 10_000; i += 1) {
      const [first, second] = picker.candidates(5);
      expect(first).not.toBe(second);
    }

    // Even a random source stuck at one value cannot make them equal.
    const stuck = new LeastRequestPicker(makeWorkers(5), { random: () => 0.999999 });
    const [first, second] = stuck.candidates(5);
    expect(first).not.toBe(second);
  });

  it('with two workers, the idle one always wins', () => {
    const tracker = new LoadTracker();
    const workers = makeWorkers(2);
    const picker = new LeastRequestPicker(workers, { tracker, random: seededRandom(2) });
    tracker.start('w1');

    for (let i = 0; i < 1_000; i += 1) expect(picker.pick()?.id).toBe('w0');
  });

  it('spreads requests that stay in flight evenly', () => {
    const tracker = new LoadTracker();
    const picker = new LeastRequestPicker(makeWorkers(10), { tracker, random: seededRandom(3) });
    for (let i = 0; i < 1_000; i += 1) tracker.start((picker.pick() as Worker).id);

    const counts = makeWorkers(10).map((worker) => tracker.load(worker.id).inFlight);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(4);
  });

  it('prefers the faster worker when weighing by latency', () => {
    const clock = manualClock();
    const tracker = new LoadTracker({ now: clock.now });
    const picker = new LeastRequestPicker(makeWorkers(2), {
      tracker,
      latencyWeighted: true,
      random: seededRandom(4),
    });
    tracker.start('w0')(500);
    tracker.start('w1')(20);
    tracker.start('w1');

    // w1 has one in flight at 20 ms: 40 < w0's 500 × 1.
    for (let i = 0; i < 100; i += 1) expect(picker.pick()?.id).toBe('w1');
  });

  it('plans a batch against planned as well as live counts', () => {
    const picker = new LeastRequestPicker(makeWorkers(4), { random: seededRandom(5) });
    const plan = picker.assign(Array.from({ length: 400 }, (_, i) => `k${i}`));
    const sizes = [...plan.values()].map((keys) => keys.length);
    expect(sizes).toHaveLength(4);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(4);
  });

  it('ranks fallbacks after the pick by load, without repeats', () => {
    const tracker = new LoadTracker();
    const picker = new LeastRequestPicker(makeWorkers(4), { tracker, random: seededRandom(6) });
    tracker.start('w0');
    tracker.start('w0');
    tracker.start('w2');
    const ranked = picker.pickN(undefined, 4).map((w) => w.id);
    expect(new Set(ranked).size).toBe(4);
    expect(ranked.at(-1)).toBe('w0');
  });
});

describe('ring with bounded load', () => {
  const workers = makeWorkers(20, 'pod-');
  // Skewed mix: a third of all requests hit one hot key, most of the rest a few warm ones.
  const random = seededRandom(8);
  const keys = Array.from({ length: 3_000 }, (_, i) => {
    const draw = random();
    if (draw < 0.33) return 'hot';
    if (draw < 0.7) return `warm-${i % 5}`;
    return `cold-${i}`;
  });

  it('keeps every worker within ceil(c × average) for live picks', () => {
    const tracker = new LoadTracker();
    const factor = 1.25;
    const picker = new RingPicker(workers, { tracker, loadFactor: factor });

    keys.forEach((key, i) => {
      const worker = picker.pick(key) as Worker;
      tracker.start(worker.id);
      const capacity = Math.ceil((factor * (i + 1)) / workers.length);
      const busiest = Math.max(...workers.map((w) => tracker.load(w.id).inFlight));
      if (busiest > capacity) expect.fail(`${busiest} in flight exceeds ${capacity} at ${i}`);
    });
  });

  it('keeps every worker within capacity for a planned batch', () => {
    const factor = 1.1;
    const picker = new RingPicker(workers, { loadFactor: factor, tableCache: new TableCache() });
    const plan = picker.assign(keys);
    const capacity = Math.ceil((factor * keys.length) / workers.length);
    for (const assigned of plan.values()) expect(assigned.length).toBeLessThanOrEqual(capacity);
    expect([...plan.values()].reduce((sum, k) => sum + k.length, 0)).toBe(keys.length);
  });

  it('sends keys home while their worker has room', () => {
    const plain = new RingPicker(workers);
    const bounded = new RingPicker(workers, { loadFactor: 1.25 });
    for (const key of ['a', 'b', 'c']) expect(bounded.pick(key)).toBe(plain.pick(key));
  });

  it('rejects a load factor below 1', () => {
    expect(() => new RingPicker(workers, { loadFactor: 0.9 })).toThrow(/loadFactor/);
  });
});
