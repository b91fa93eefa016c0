import { describe, expect, it } from 'vitest';
import { RoundRobinPicker } from '../../src/balancer/round-robin.js';
import { makeWorkers } from './helpers.js';

describe('round-robin', () => {
  const workers = makeWorkers(4);

  it('starts at the offset drawn from the random source, then takes turns', () => {
    const picker = new RoundRobinPicker(workers, { random: () => 0.5 });
    const ids = Array.from({ length: 6 }, () => picker.pick()?.id);
    expect(ids).toEqual(['w2', 'w3', 'w0', 'w1', 'w2', 'w3']);
  });

  it('spreads picks evenly', () => {
    const picker = new RoundRobinPicker(makeWorkers(7), { random: () => 0.3 });
    const counts = new Map<string, number>();
    for (let i = 0; i < 700; i += 1) {
      const id = picker.pick()?.id as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual(Array(7).fill(100));
  });

  it('gives distinct fallbacks that start with the turn and move the turn on by one', () => {
    const picker = new RoundRobinPicker(workers, { random: () => 0 });
    expect(picker.pickN(undefined, 3).map((w) => w.id)).toEqual(['w0', 'w1', 'w2']);
    expect(picker.pickN(undefined, 9).map((w) => w.id)).toEqual(['w1', 'w2', 'w3', 'w0']);
    expect(picker.pick()?.id).toBe('w2');
  });

  it('assigns a batch in turns', () => {
    const picker = new RoundRobinPicker(workers, { random: () => 0 });
    const plan = picker.assign(['a', 'b', 'c', 'd', 'e']);
    expect(Object.fromEntries(plan)).toEqual({ w0: ['a', 'e'], w1: ['b'], w2: ['c'], w3: ['d'] });
  });

  it('returns nothing for an empty set', () => {
    const picker = new RoundRobinPicker([]);
    expect(picker.pick()).toBeUndefined();
    expect(picker.pickN(undefined, 3)).toEqual([]);
    expect(picker.assign(['a']).size).toBe(0);
  });
});
