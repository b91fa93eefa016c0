import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Worker } from '../../src/discovery/worker.js';
import { createPicker } from '../../src/balancer/registry.js';
import { RendezvousPicker } from '../../src/balancer/rendezvous.js';
import { referenceXxh64, seededRandom, shuffled } from './helpers.js';

const encoder = new TextEncoder();

function named(identities: string[], ips?: string[]): Worker[] {
  return identities.map((id, i) => ({
    id,
    ip: ips?.[i] ?? `10.0.0.${i + 1}`,
    port: 7101,
    state: 'ready' as const,
  }));
}

/** Rendezvous written the plain way: BigInt scores, ties by IP text then port. */
function referenceRanking(key: string, workers: Worker[], identityOf = (w: Worker) => w.id) {
  const scored = workers.map((worker) => ({
    worker,
    score: referenceXxh64(encoder.encode(key + identityOf(worker))),
  }));
  scored.sort((a, b) => {
    if (a.score !== b.score) return a.score > b.score ? -1 : 1;
    if (a.worker.ip !== b.worker.ip) return a.worker.ip < b.worker.ip ? -1 : 1;
    return a.worker.port - b.worker.port;
  });
  return scored.map((entry) => entry.worker);
}

describe('rendezvous parity with the Go coordinators', () => {
  it('places the published vectors', () => {
    const byUid = new RendezvousPicker(named(['pod-uid-a', 'pod-uid-b', 'pod-uid-c']));
    expect(byUid.pick('1:00000000-0000-0000-0000-000000000001')?.id).toBe('pod-uid-b');

    const pods = ['query-worker-0', 'query-worker-1', 'query-worker-2'];
    const byPodName = new RendezvousPicker(
      named(['u0', 'u1', 'u2']).map((w, i) => ({ ...w, podName: pods[i] })),
      { identity: 'pod-name' },
    );
    expect(byPodName.pick('1')?.podName).toBe('query-worker-1');
  });

  it('places our own vectors (computed with the BigInt reference)', () => {
    const uids = new RendezvousPicker(named(['pod-uid-a', 'pod-uid-b', 'pod-uid-c']));
    const pods = new RendezvousPicker(
      named(['query-worker-0', 'query-worker-1', 'query-worker-2', 'query-worker-3']),
    );
    const vectors: [RendezvousPicker, string, string[]][] = [
      [uids, '1', ['pod-uid-c', 'pod-uid-b', 'pod-uid-a']],
      [uids, '12345', ['pod-uid-b', 'pod-uid-c', 'pod-uid-a']],
      [uids, '7:0190a9c2-5b5e-7c3d-9f00-1234567890ab', ['pod-uid-b', 'pod-uid-a', 'pod-uid-c']],
      [pods, '1', ['query-worker-3', 'query-worker-1', 'query-worker-2', 'query-worker-0']],
      [pods, '2', ['query-worker-0', 'query-worker-1', 'query-worker-2', 'query-worker-3']],
    ];

    for (const [picker, key, ranking] of vectors) {
      expect(picker.pickN(key, 4).map((w) => w.id)).toEqual(ranking);
    }
  });

  it('uses ip:port when asked, or when the pod name is unknown', () => {
    const workers = named(['a', 'b', 'c']);
    const picker = new RendezvousPicker(workers, { identity: 'pod-name' });
    const expected = referenceRanking('7', workers, (w) => `${w.ip}:${w.port}`)[0];
    expect(picker.pick('7')).toBe(expected);
  });

  it('agrees with a BigInt reference on 100,000 random keys and sets, ties included', () => {
    const random = seededRandom(9);
    const orgIds = [
      '00000000-0000-0000-0000-000000000001',
      '0190a9c2-5b5e-7c3d-9f00-1234567890ab',
      'ffffffff-ffff-4fff-bfff-ffffffffffff',
    ];
    let ties = 0;

    // 2,000 random sets × 50 random keys each: 100,000 cases, without building 100,000
    // pickers (that, not hashing, would dominate the run time).
    for (let set = 0; set < 2_000; set += 1) {
      const size = 1 + Math.floor(random() * 5);
      const identities = Array.from({ length: size }, () => `pod-${Math.floor(random() * 50)}`);

      // Every fourth set repeats an identity at another IP: equal scores, decided by IP text.
      if (set % 4 === 0) identities.push(identities[0] as string);
      const workers = identities.map((id) => ({
        id,
        ip: `10.0.${Math.floor(random() * 3)}.${Math.floor(random() * 12)}`,
        port: 7000 + Math.floor(random() * 2),
        state: 'ready' as const,
      }));
      const picker = new RendezvousPicker(workers);

      for (let round = 0; round < 50; round += 1) {
        // Half the keys are segment keys longer than one 32-byte stripe, half bare ids.
        const segment = Math.floor(random() * 1e9);
        const key = round % 2 === 0 ? String(segment) : `${segment}:${orgIds[round % 3]}`;

        const expected = referenceRanking(key, workers)[0] as Worker;
        const actual = picker.pick(key) as Worker;
        if (set % 4 === 0 && expected.id === identities[0]) ties += 1;
        const same =
          actual.id === expected.id && actual.ip === expected.ip && actual.port === expected.port;
        if (!same) {
          expect.fail(`set ${set}, key ${key}: picked ${actual.ip} not ${expected.ip}`);
        }
      }
    }

    expect(ties).toBeGreaterThan(1000);
  });

  it('breaks ties by IP compared as text, so 10.0.0.10 beats 10.0.0.9', () => {
    const workers = named(['same', 'same'], ['10.0.0.9', '10.0.0.10']);
    const picker = new RendezvousPicker(workers);
    expect(picker.pick('any')?.ip).toBe('10.0.0.10');
    expect(picker.pickN('any', 2).map((w) => w.ip)).toEqual(['10.0.0.10', '10.0.0.9']);
  });
});

describe('rendezvous determinism', () => {
  const workers = named(Array.from({ length: 20 }, (_, i) => `pod-uid-${i}`));
  const keys = Array.from(
    { length: 200 },
    (_, i) => `${i}:00000000-0000-0000-0000-00000000000${i % 10}`,
  );

  it('picks the same worker whatever order the workers come in', () => {
    const random = seededRandom(3);
    const first = new RendezvousPicker(workers);
    for (let round = 0; round < 10; round += 1) {
      const other = createPicker('rendezvous', shuffled(workers, random));
      for (const key of keys) expect(other.pick(key)?.id).toBe(first.pick(key)?.id);
    }
  });

  it.each(['rendezvous', 'maglev', 'ring'])('%s picks the same in a fresh process', (policy) => {
    const picker = createPicker(policy, workers);
    const script = fileURLToPath(new URL('./fixtures/pick-child.mjs', import.meta.url));
    const child = spawnSync(process.execPath, [script], {
      input: JSON.stringify({ policy, workers, keys }),
      encoding: 'utf8',
    });

    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual(keys.map((key) => picker.pick(key)?.id));
  });
});

describe.each(['rendezvous', 'ring'])('%s fallbacks', (policy) => {
  const workers = named(Array.from({ length: 8 }, (_, i) => `pod-uid-${i}`));

  it('never repeat a worker, and removing the first choice promotes the second', () => {
    const picker = createPicker(policy, workers);
    for (let i = 0; i < 300; i += 1) {
      const key = `key-${i}`;
      const ranked = picker.pickN(key, 8);
      expect(new Set(ranked).size).toBe(8);
      expect(ranked[0]).toBe(picker.pick(key));

      const without = createPicker(policy, workers.filter((w) => w !== ranked[0]));
      expect(without.pickN(key, 7)).toEqual(ranked.slice(1));
    }
  });
});
