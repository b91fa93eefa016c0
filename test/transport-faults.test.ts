import { describe, expect, it } from 'vitest';
import {
  FragmentDispatcher,
  type FragmentDispatcherOptions,
} from '../src/transport/dispatcher.js';
import { DispatcherClosedError, QueueFullError } from '../src/transport/errors.js';
import type { Fragment, Outcome } from '../src/transport/fragment.js';
import { FakeWorker } from '../src/testing/fake-worker.js';
import type { Worker } from '../src/discovery/worker.js';
import { accountFor, keyFor, listCache, rotatingPicker } from './helpers/workers.js';
import {
  channelNames,
  listen,
  type AttemptStartMessage,
} from '../src/observability/channels.js';
import { fakeWorkers, useCleanups } from './support/cleanups.js';
import { answeredBy, failure } from './support/outcomes.js';

const cleanups = useCleanups();
const fakes = fakeWorkers(cleanups);

async function setup(
  workers: Worker[],
  options: Partial<FragmentDispatcherOptions> = {},
) {
  const source = await listCache(workers);
  const dispatcher = new FragmentDispatcher(source.cache, { picker: rotatingPicker, ...options });
  cleanups.push(() => source.cache.close());
  cleanups.push(() => dispatcher.close());
  return { ...source, dispatcher };
}

function many(count: number, extra: Partial<Fragment> = {}): Fragment[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `q-${i}`,
    path: '/fragment',
    body: JSON.stringify({ fragment: i }),
    ...extra,
  }));
}

/** The invariants every fault test checks. */
function expectAccounted(outcomes: readonly Outcome[], count: number): void {
  expect(accountFor(outcomes, count)).toEqual({
    count,
    unique: count,
    inOrder: true,
    expected: count,
  });
  for (const outcome of outcomes) {
    if (!outcome.ok || outcome.status !== 200) continue;
    const echo = JSON.parse(Buffer.from(outcome.body).toString('utf8')) as { body: string };
    expect(echo.body).toBe(outcome.fragment.body);
  }
}

describe('status codes', () => {
  it('503 with Retry-After: retried at once elsewhere, worker kept out of picks', async () => {
    const workers = await fakes(3);
    workers[0]?.setMode('draining', { retryAfterSeconds: 30 });
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
    const key = keyFor(cache.workers(), 'w0');
    const next = rotatingPicker(cache.workers()).pickN(key, 2)[1]?.id;

    const first = await dispatcher.dispatch({ key, path: '/f', body: 'a' });
    const later = await dispatcher.fanOut(many(20, { key }), { concurrency: 1 });

    expect(first.attempts.map((a) => [a.worker.id, a.result, a.status])).toEqual([
      ['w0', 'unavailable', 503],
      [next, 'answered', 200],
    ]);
    expect(later.every((outcome) => answeredBy(outcome) !== 'w0')).toBe(true);
    expect(later.every((outcome) => outcome.attempts.length === 1)).toBe(true);
    expect(workers[0]?.received).toBe(1);
  });

  it('500 and 404 go back to the caller without a retry; 500 can be made retryable', async () => {
    const workers = await fakes(2, {
      handler: (request) => ({ status: request.path === '/missing' ? 404 : 500, body: 'no' }),
    });
    const { dispatcher } = await setup(workers.map((w) => w.worker()));
    const retrying = await setup(workers.map((w) => w.worker()), {
      retryStatuses: [500, 502, 503, 504],
    });

    const error = await dispatcher.dispatch({ path: '/f', body: 'x' });
    const missing = await dispatcher.dispatch({ path: '/missing', body: 'x' });
    const retried = await retrying.dispatcher.dispatch({ path: '/f', body: 'x' });

    expect(error.ok && error.status).toBe(500);
    expect(error.attempts).toHaveLength(1);
    expect(missing.ok && missing.status).toBe(404);
    expect(failure(retried).attempts.map((a) => a.status)).toEqual([500, 500, 500]);
  });

  it('does not follow redirects', async () => {
    const [target] = await fakes(1);
    const redirecting = await FakeWorker.start({
      name: 'r',
      handler: () => ({ status: 302, headers: { location: `${target?.origin}/elsewhere` } }),
    });
    cleanups.push(() => redirecting.stop());
    const { dispatcher } = await setup([redirecting.worker()]);

    const outcome = await dispatcher.dispatch({ path: '/f', body: 'x' });

    expect(outcome.ok && outcome.status).toBe(302);
    expect(target?.received).toBe(0);
  });
});

describe('connection faults', () => {
  it('ejects a worker after 5 refused connections in a row', async () => {
    const workers = await fakes(4);
    await workers[3]?.stop();
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
    const key = keyFor(cache.workers(), 'w3');

    const outcomes = await dispatcher.fanOut(many(20, { key }), { concurrency: 1 });

    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    const refused = outcomes.flatMap((o) => o.attempts).filter((a) => a.result === 'refused');
    expect(refused).toHaveLength(5);
    expect(dispatcher.health.isEjected('w3')).toBe(true);
  });

  it('a worker that accepts and never answers: attempt times out, retried elsewhere', async () => {
    const workers = await fakes(3);
    workers[0]?.setMode('hang');
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()), {
      attemptTimeoutMs: 300,
    });
    const key = keyFor(cache.workers(), 'w0');

    const outcomes = await dispatcher.fanOut(many(4, { key }));

    expectAccounted(outcomes, 4);
    expect(outcomes.every((outcome) => answeredBy(outcome) !== 'w0')).toBe(true);
    expect(outcomes[0]?.attempts[0]?.result).toBe('timeout');
    await expect.poll(() => workers[0]?.openRequests).toBe(0);
  });

  it.each(['truncate', 'truncate-chunked'] as const)(
    'a body cut short (%s) is a failed attempt, retried, never a short success',
    async (mode) => {
      const workers = await fakes(2);
      workers[0]?.setMode(mode);
      const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
      const key = keyFor(cache.workers(), 'w0');

      const outcome = await dispatcher.dispatch({ key, path: '/f', body: 'whole' });

      expect(outcome.attempts.map((a) => a.result)).toEqual(['truncated', 'answered']);
      expect(answeredBy(outcome)).toBe('w1');
    },
  );

  it('a streamed body cut short fails the stream instead of ending it', async () => {
    const workers = await fakes(1, { mode: 'truncate' });
    const { dispatcher } = await setup(workers.map((w) => w.worker()));

    const outcome = await dispatcher.dispatchStream({ path: '/f', body: 'x' });
    if (!outcome.ok) throw outcome.error;
    let received = 0;
    const read = (async () => {
      for await (const chunk of outcome.body) received += (chunk as Buffer).length;
    })();

    await expect(read).rejects.toThrow();
    expect(received).toBeLessThan(1000);
  });

  it('streams a large body to the end', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const workers = await fakes(1, { handler: () => ({ body: big }) });
    const { dispatcher } = await setup(workers.map((w) => w.worker()), { maxBodyBytes: 1024 });

    const outcome = await dispatcher.dispatchStream({ path: '/f', body: 'x' });
    if (!outcome.ok) throw outcome.error;
    let received = 0;
    for await (const chunk of outcome.body) received += (chunk as Buffer).length;

    expect(received).toBe(big.length);
    const whole = await dispatcher.dispatch({ path: '/f', body: 'x' });
    expect(failure(whole).stoppedBy).toBe('not-retryable');
    expect(whole.attempts[0]?.result).toBe('too-large');
  });

  it('retries send the same bytes with a correct length; one-shot streams are not retried',
    async () => {
      const workers = await fakes(2);
      workers[0]?.setMode('reset');
      const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
      const key = keyFor(cache.workers(), 'w0');
      const bytes = new TextEncoder().encode('select * from logs where level = "error"');
      const chunks = async function* () {
        yield new TextEncoder().encode('one-');
        yield new TextEncoder().encode('shot');
      };

      const replayed = await dispatcher.dispatch({ key, path: '/f', body: bytes });
      const oneShot = await dispatcher.dispatch({ key, path: '/f', body: chunks() });
      const factory = await dispatcher.dispatch({ key, path: '/f', body: () => chunks() });
      const unsafe = await dispatcher.dispatch({ key, path: '/f', body: 'x', idempotent: false });

      expect(answeredBy(replayed)).toBe('w1');
      expect(workers[0]?.bodies[0]).toEqual(Buffer.from(bytes));
      expect(workers[1]?.bodies[0]).toEqual(Buffer.from(bytes));
      expect(failure(oneShot).stoppedBy).toBe('one-shot-body');
      expect(answeredBy(factory)).toBe('w1');
      expect(workers[1]?.bodies[1]?.toString()).toBe('one-shot');
      expect(failure(unsafe).stoppedBy).toBe('not-idempotent');
    });

  it('a non-idempotent fragment is still retried when nothing was sent (refused)', async () => {
    const workers = await fakes(2);
    await workers[0]?.stop();
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
    const key = keyFor(cache.workers(), 'w0');

    const outcome = await dispatcher.dispatch({ key, path: '/f', body: 'x', idempotent: false });

    expect(outcome.attempts.map((a) => a.result)).toEqual(['refused', 'answered']);
  });
});

describe('outages and budgets', () => {
  it('all workers down: every fragment fails, naming the workers, within the budget',
    async () => {
      const workers = await fakes(4);
      await Promise.all(workers.map((worker) => worker.stop()));
      // Default settings: 256 in flight, a bucket of 256 tokens.
      const { dispatcher } = await setup(workers.map((w) => w.worker()));

      const outcomes = await dispatcher.fanOut(many(1000));

      expectAccounted(outcomes, 1000);
      const errors = outcomes.map(failure);
      const attempts = outcomes.reduce((sum, outcome) => sum + outcome.attempts.length, 0);
      // Every failed attempt takes a token and an empty bucket allows no retry: the whole
      // outage costs at most 256 extra attempts, not maxAttempts times the fragments.
      expect(attempts).toBeLessThanOrEqual(1000 + 256);
      expect(errors.filter((error) => error.stoppedBy === 'retry-budget').length).toBeGreaterThan(
        500,
      );
      expect(errors[0]?.message).toMatch(/w\d \(127\.0\.0\.1:\d+\): refused/);
    });

  it('no workers: waits for discovery by default, fails at once when told to', async () => {
    const [worker] = await fakes(1);
    const waiting = await setup([]);
    const failing = await setup([], { whenNoWorkers: 'fail' });

    const pending = waiting.dispatcher.dispatch({ path: '/f', body: 'x' });
    const failed = await failing.dispatcher.dispatch({ path: '/f', body: 'x' });
    await waiting.set([worker?.worker() as Worker]);

    expect(answeredBy(await pending)).toBe('w0');
    expect(failure(failed).stoppedBy).toBe('no-workers');
  });

  it('no workers until the deadline: fails with the deadline', async () => {
    const { dispatcher } = await setup([], { fragmentTimeoutMs: 100 });

    const outcome = await dispatcher.dispatch({ path: '/f', body: 'x' });

    expect(failure(outcome).stoppedBy).toBe('deadline');
    expect(failure(outcome).cause).toMatchObject({ code: 'ERR_LAKERUNNER_DEADLINE' });
  });

  it('a full queue rejects new work with QueueFullError', async () => {
    const workers = await fakes(1, { latencyMs: 100 });
    const { dispatcher } = await setup(workers.map((w) => w.worker()), {
      maxInFlight: 1,
      maxQueued: 1,
    });

    const outcomes = await Promise.all([1, 2, 3].map(() =>
      dispatcher.dispatch({ path: '/f', body: 'x' })));

    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, true, false]);
    expect(outcomes[2]?.ok === false && outcomes[2].error).toBeInstanceOf(QueueFullError);
  });
});

describe('cancellation and deadlines', () => {
  it('the caller aborting half-way leaves no request running', async () => {
    const workers = await fakes(4, { latencyMs: 20 });
    const { dispatcher } = await setup(workers.map((w) => w.worker()));
    const controller = new AbortController();

    const outcomes: Outcome[] = [];
    const stream = dispatcher.fanOutStream(many(200), {
      concurrency: 16,
      signal: controller.signal,
    });
    for await (const outcome of stream) {
      outcomes.push(outcome);
      if (outcomes.length === 40) controller.abort(new Error('user cancelled'));
    }

    outcomes.sort((a, b) => a.index - b.index);
    expectAccounted(outcomes, 200);
    const cancelled = outcomes.filter((outcome) => !outcome.ok);
    expect(cancelled.length).toBeGreaterThan(100);
    expect(cancelled.every((outcome) => failure(outcome).stoppedBy === 'aborted')).toBe(true);
    for (const worker of workers) await expect.poll(() => worker.openRequests).toBe(0);
    const sent = workers.reduce((sum, worker) => sum + worker.received, 0);
    expect(sent).toBeLessThan(200);
  });

  it('a query deadline stops everything still running', async () => {
    const workers = await fakes(2, { mode: 'hang' });
    const { dispatcher } = await setup(workers.map((w) => w.worker()));

    const outcomes = await dispatcher.fanOut(many(6), { timeoutMs: 200 });

    expect(outcomes.map((outcome) => failure(outcome).stoppedBy)).toEqual(
      Array(6).fill('deadline'),
    );
    for (const worker of workers) await expect.poll(() => worker.openRequests).toBe(0);
  });

  it('fail-fast cancels the rest of a fan-out once one fragment has failed', async () => {
    const workers = await fakes(2, { latencyMs: 10 });
    workers[1]?.setMode('reset');
    const { dispatcher } = await setup(workers.map((w) => w.worker()), { maxAttempts: 1 });

    const outcomes = await dispatcher.fanOut(many(50), { concurrency: 4, failFast: true });

    expectAccounted(outcomes, 50);
    const reasons = outcomes.filter((o) => !o.ok).map((o) => failure(o).stoppedBy);
    expect(reasons).toContain('max-attempts');
    expect(reasons.filter((reason) => reason === 'aborted').length).toBeGreaterThan(30);
  });

  it('hedging: a slow first choice is raced by its next worker, the loser cancelled',
    async () => {
      const workers = await fakes(3);
      workers[0]?.setLatency(5_000);
      const { dispatcher, cache } = await setup(workers.map((w) => w.worker()), {
        hedgeAfterMs: 50,
      });
      const key = keyFor(cache.workers(), 'w0');
      const next = rotatingPicker(cache.workers()).pickN(key, 2)[1]?.id;

      const outcome = await dispatcher.dispatch({ key, path: '/f', body: 'x' });

      expect(answeredBy(outcome)).toBe(next);
      expect(outcome.attempts.map((a) => [a.worker.id, a.result, a.hedge ?? false])).toEqual([
        [next, 'answered', true],
        ['w0', 'hedge-lost', false],
      ]);
      await expect.poll(() => workers[0]?.openRequests).toBe(0);
    });
});

describe('the worker set changing', () => {
  it('removed and moved workers get no new requests; old pools close', async () => {
    const workers = await fakes(4, { latencyMs: 5 });
    const [moved] = await fakes(1, { name: 'w2-moved', latencyMs: 5 });
    const { dispatcher, set } = await setup(workers.map((w) => w.worker()));

    const outcomes: Outcome[] = [];
    let changedAt = Infinity;
    for await (const outcome of dispatcher.fanOutStream(many(300), { concurrency: 32 })) {
      outcomes.push(outcome);
      if (outcomes.length !== 60) continue;
      changedAt = performance.now();
      // w3 leaves; w2 keeps its id but moves to another address.
      void set([
        workers[0]?.worker() as Worker,
        workers[1]?.worker() as Worker,
        moved?.worker({ id: 'w2' }) as Worker,
      ]);
    }

    outcomes.sort((a, b) => a.index - b.index);
    expectAccounted(outcomes, 300);
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    const late = outcomes
      .flatMap((outcome) => outcome.attempts)
      .filter((attempt) => attempt.startedAt > changedAt + 50);
    expect(late.length).toBeGreaterThan(0);
    expect(late.some((a) => a.worker.id === 'w3')).toBe(false);
    expect(late.some((a) => a.worker.id === 'w2' && a.worker.port !== moved?.port)).toBe(false);
    expect(moved?.received).toBeGreaterThan(0);
    await expect.poll(() => dispatcher.pools).toEqual({ open: 3, retiring: 0 });
    await expect.poll(() => workers[2]?.connections).toBe(0);
    await expect.poll(() => workers[3]?.connections).toBe(0);
  });
});

describe('closing', () => {
  it('close() lets running fragments finish, then refuses new ones', async () => {
    const workers = await fakes(1, { latencyMs: 100 });
    const source = await listCache(workers.map((w) => w.worker()));
    cleanups.push(() => source.cache.close());
    let running: Promise<Outcome>;
    {
      await using dispatcher = new FragmentDispatcher(source.cache, { picker: rotatingPicker });
      running = dispatcher.dispatch({ path: '/f', body: 'x' });
      const closing = dispatcher.close();
      const late = await dispatcher.dispatch({ path: '/f', body: 'x' });
      expect(late.ok === false && late.error).toBeInstanceOf(DispatcherClosedError);
      await closing;
    }
    expect(answeredBy(await running)).toBe('w0');
    await expect.poll(() => workers[0]?.connections).toBe(0);
  });
});

describe('HTTP/2', () => {
  it('with allowH2, fragments share one h2c connection per worker', async () => {
    const workers = await fakes(2, { http2: true });
    const { dispatcher } = await setup(workers.map((w) => w.worker()), { allowH2: true });

    const outcomes = await dispatcher.fanOut(many(40), { concurrency: 20 });

    expect(outcomes.filter((o) => !o.ok).map((o) => String(o.ok || o.error))).toEqual([]);
    expectAccounted(outcomes, 40);
    expect(workers.map((worker) => worker.accepted)).toEqual([1, 1]);
  });
});

describe('hedging and health', () => {
  it('a worker that keeps losing hedge races is ejected', async () => {
    const workers = await fakes(4);
    workers[0]?.setMode('hang');
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()), {
      hedgeAfterMs: 20,
    });
    const key = keyFor(cache.workers(), 'w0');

    const outcomes = await dispatcher.fanOut(many(8, { key }), { concurrency: 1 });

    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    // Only the hanging worker's losses count: on a loaded machine a hedge can itself be slow
    // enough to draw a third attempt, and then lose to it.
    const lost = outcomes
      .flatMap((o) => o.attempts)
      .filter((a) => a.result === 'hedge-lost' && a.worker.id === 'w0');
    expect(lost).toHaveLength(5);
    expect(dispatcher.health.isEjected('w0')).toBe(true);
    const afterEjection = outcomes.slice(5).flatMap((outcome) => outcome.attempts);
    expect(afterEjection.some((attempt) => attempt.worker.id === 'w0')).toBe(false);
    await expect.poll(() => workers[0]?.openRequests).toBe(0);
  });

  it('an ejected worker is taken back when discovery reports it as new', async () => {
    const workers = await fakes(4);
    await workers[3]?.stop();
    const { dispatcher, cache, set } = await setup(workers.map((w) => w.worker()));
    const key = keyFor(cache.workers(), 'w3');
    await dispatcher.fanOut(many(6, { key }), { concurrency: 1 });
    expect(dispatcher.health.isEjected('w3')).toBe(true);

    await workers[3]?.restart();
    await set(workers.slice(0, 3).map((w) => w.worker()));
    await set(workers.map((w) => w.worker()));
    const outcome = await dispatcher.dispatch({ key, path: '/f', body: 'x' });

    expect(answeredBy(outcome)).toBe('w3');
    expect(dispatcher.health.state('w3').ejections).toBe(1);
  });
});

describe('diagnostics channels', () => {
  it('reports fan-outs, attempts with their causes, outcomes and ejections', async () => {
    const workers = await fakes(4, {
      handler: (request) => ({ body: String(request.headers['x-trace']) }),
    });
    await workers[3]?.stop();
    const { dispatcher, cache } = await setup(workers.map((w) => w.worker()));
    const key = keyFor(cache.workers(), 'w3');
    const seen: Record<string, unknown[]> = {};
    const stops = Object.entries(channelNames).map(([name, channel]) =>
      listen(channel, (message) => (seen[name] ??= []).push(message)));
    // A subscriber may add headers to an attempt, as the OpenTelemetry integration does.
    stops.push(listen<AttemptStartMessage>(channelNames.attemptStart, (message) => {
      message.headers['x-trace'] = `attempt-${message.attemptNumber}`;
    }));

    let outcomes: Outcome[];
    try {
      outcomes = await dispatcher.fanOut(many(6, { key }), { concurrency: 1 });
    } finally {
      for (const stop of stops) stop();
    }

    expect(seen.fanOutStart).toHaveLength(1);
    expect(seen.fanOutEnd).toMatchObject([{ answered: 6, failed: 0 }]);
    expect(seen.fragmentEnd).toHaveLength(6);
    const starts = (seen.attemptStart ?? []) as AttemptStartMessage[];
    expect(starts.slice(0, 2).map((m) => [m.worker.id, m.cause])).toEqual([
      ['w3', 'first'],
      [expect.any(String), 'retry'],
    ]);
    expect(starts[1]?.retryOf).toBe(starts[0]?.attempt);
    expect(seen.attemptEnd?.length).toBe(starts.length);
    expect(seen.ejection).toMatchObject([{ worker: { id: 'w3' }, ejectedForMs: 30_000 }]);
    const first = outcomes[0];
    expect(first?.ok && Buffer.from(first.body).toString()).toBe('attempt-2');
  });
});
