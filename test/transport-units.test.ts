import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../src/error-details.js';
import { classifyError } from '../src/transport/classify.js';
import { WorkerHealth } from '../src/transport/health.js';
import { Limiter } from '../src/transport/limiter.js';
import { RetryBudget } from '../src/transport/retry-budget.js';
import { QueueFullError } from '../src/transport/errors.js';
import { ConfigError } from '../src/errors.js';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

describe('classifyError', () => {
  it('tells no connection from a lost connection from a truncated body', () => {
    expect(classifyError(withCode('ECONNREFUSED'), false)).toMatchObject({
      result: 'refused',
      phase: 'connect',
      retryable: true,
    });
    expect(classifyError(withCode('UND_ERR_CONNECT_TIMEOUT'), false).result).toBe(
      'connect-timeout',
    );
    expect(classifyError(withCode('ECONNRESET'), false)).toMatchObject({
      result: 'reset',
      phase: 'request',
    });
    expect(classifyError(withCode('UND_ERR_SOCKET'), true)).toMatchObject({
      result: 'truncated',
      phase: 'body',
      retryable: true,
    });
    expect(classifyError(new Error('boom'), false).retryable).toBe(false);
  });

  it('finds the code on a wrapped cause', () => {
    const wrapped = new Error('fetch failed', { cause: withCode('EHOSTUNREACH') });
    expect(classifyError(wrapped, false).result).toBe('unreachable');
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores junk', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('5', now)).toBe(5_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('RetryBudget', () => {
  it('allows retries while more than half the bucket is left, then only the floor', () => {
    const budget = new RetryBudget({ maxTokens: 10, minConcurrentRetries: 2 });
    for (let i = 0; i < 5; i += 1) budget.recordFailure();

    const held = [budget.tryAcquire(), budget.tryAcquire()];
    expect(held.every(Boolean)).toBe(true);
    expect(budget.tryAcquire()).toBeUndefined();

    held[0]?.();
    expect(budget.tryAcquire()).toBeDefined();
  });

  it('stops even the floor once the bucket is empty', () => {
    const budget = new RetryBudget({ maxTokens: 4, minConcurrentRetries: 3 });
    for (let i = 0; i < 3; i += 1) budget.recordFailure();
    const floor = budget.tryAcquire();
    expect(floor).toBeDefined();
    floor?.();

    budget.recordFailure();
    expect(budget.tokens).toBe(0);
    expect(budget.tryAcquire()).toBeUndefined();
  });

  it('refills by a tenth of a token per success', () => {
    const budget = new RetryBudget({ maxTokens: 10, minConcurrentRetries: 0 });
    for (let i = 0; i < 5; i += 1) budget.recordFailure();
    expect(budget.tryAcquire()).toBeUndefined();

    for (let i = 0; i < 11; i += 1) budget.recordSuccess();
    expect(budget.tryAcquire()).toBeDefined();
  });

  it('names the option at fault', () => {
    expect(() => new RetryBudget({ maxTokens: 0 })).toThrow(ConfigError);
    expect(() => new RetryBudget({ maxTokens: 0 })).toThrow(/got 0/);
  });
});

describe('WorkerHealth', () => {
  function clocked(options: ConstructorParameters<typeof WorkerHealth>[0] = {}) {
    const clock = { now: 1_000 };
    const health = new WorkerHealth({ ...options, now: () => clock.now });
    return { clock, health };
  }

  it('ejects after 5 failures in a row for 30 s, then 60 s the next time', () => {
    const { clock, health } = clocked();
    for (let i = 0; i < 4; i += 1) expect(health.recordFailure('w1', 10)).toBe(false);
    expect(health.recordFailure('w1', 10)).toBe(true);
    expect(health.isEjected('w1')).toBe(true);

    clock.now += 30_000;
    expect(health.isEjected('w1')).toBe(false);

    for (let i = 0; i < 5; i += 1) health.recordFailure('w1', 10);
    clock.now += 59_999;
    expect(health.isEjected('w1')).toBe(true);
    clock.now += 1;
    expect(health.isEjected('w1')).toBe(false);
  });

  it('caps the ejection time at 300 s', () => {
    const { clock, health } = clocked();
    for (let round = 0; round < 12; round += 1) {
      for (let i = 0; i < 5; i += 1) health.recordFailure('w1', 10);
      clock.now += 300_000;
      expect(health.isEjected('w1')).toBe(false);
    }
    expect(health.state('w1').ejections).toBe(12);
  });

  it('a success ends the failure streak', () => {
    const { health } = clocked();
    for (let i = 0; i < 4; i += 1) health.recordFailure('w1', 10);
    health.recordSuccess('w1', 3);
    expect(health.recordFailure('w1', 10)).toBe(false);
    expect(health.state('w1').latencyMs).toBe(3);
  });

  it('ejects at most a share of the workers, and at least one', () => {
    const { health } = clocked();
    for (const id of ['a', 'b']) for (let i = 0; i < 5; i += 1) health.recordFailure(id, 4);
    expect(health.ejectedCount()).toBe(1);
    expect(health.maxEjected(30)).toBe(3);
  });

  it('over the cap, the ejected worker due back first returns on probation', () => {
    const { health } = clocked();
    for (let i = 0; i < 5; i += 1) health.recordFailure('a', 2);
    for (let i = 0; i < 4; i += 1) health.recordFailure('b', 2);

    expect(health.recordFailure('b', 2)).toBe(true);
    expect([health.isEjected('a'), health.isEjected('b')]).toEqual([false, true]);
    expect(health.state('a').probation).toBe(true);
    // On probation one failure is enough, and the two swap places again.
    expect(health.recordFailure('a', 2)).toBe(true);
    expect(health.state('a')).toMatchObject({ ejections: 2, lastEjectionMs: 60_000 });
    expect(health.isEjected('b')).toBe(false);
  });

  it('after an ejection, one failure ejects again for longer; an answer ends probation', () => {
    const { clock, health } = clocked();
    for (let i = 0; i < 5; i += 1) health.recordFailure('w1', 10);
    clock.now += 30_000;
    expect(health.isEjected('w1')).toBe(false);

    expect(health.recordFailure('w1', 10)).toBe(true);
    expect(health.state('w1').lastEjectionMs).toBe(60_000);
    clock.now += 60_000;
    expect(health.isEjected('w1')).toBe(false);
    health.recordSuccess('w1', 2);
    expect(health.recordFailure('w1', 10)).toBe(false);
  });

  it('an ejected worker that answers is taken back at once', () => {
    const { health } = clocked();
    for (let i = 0; i < 5; i += 1) health.recordFailure('w1', 10);
    health.recordSuccess('w1', 2);
    expect(health.isEjected('w1')).toBe(false);
    expect(health.ejectedCount()).toBe(0);
  });

  it('takes a worker back when discovery reports it as new, keeping its history', () => {
    const { health } = clocked();
    for (let i = 0; i < 5; i += 1) health.recordFailure('w1', 4);
    health.readmit('w1');
    expect(health.isEjected('w1')).toBe(false);
    expect(health.state('w1').ejections).toBe(1);
  });

  it('forgets a worker not seen for the TTL', () => {
    const { clock, health } = clocked({ forgetAfterMs: 1_000 });
    health.recordFailure('gone', 4);
    clock.now += 1_001;
    expect(health.state('gone').consecutiveFailures).toBe(0);
  });

  it('knows whether a worker answered anything since a moment', () => {
    const { clock, health } = clocked();
    const before = health.now();
    expect(health.answeredSince('w1', before)).toBe(false);
    clock.now += 10;
    health.recordSuccess('w1', 4);
    expect(health.answeredSince('w1', before)).toBe(true);
    expect(health.answeredSince('w1', clock.now + 1)).toBe(false);
  });

  it('keeps a worker out of picks for its Retry-After', () => {
    const { clock, health } = clocked();
    health.holdOff('w1', 2_000);
    expect(health.isAvailable('w1')).toBe(false);
    clock.now += 2_000;
    expect(health.isAvailable('w1')).toBe(true);
  });
});

describe('Limiter', () => {
  it('hands slots over in order and rejects past the queue bound', async () => {
    const limiter = new Limiter(1, 1);
    const release = await limiter.acquire();
    const waiting = limiter.acquire();

    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
    release();
    const second = await waiting;
    expect(limiter.active).toBe(1);
    second();
    expect(limiter.active).toBe(0);
  });

  it('a waiter that gives up leaves the queue', async () => {
    const limiter = new Limiter(1, 5);
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    expect(limiter.queued).toBe(0);
  });
});
