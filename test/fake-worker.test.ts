import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { FakeWorker, type FakeEcho } from '../src/testing/fake-worker.js';
import { spawnFakeWorker } from '../src/testing/fake-worker-process.js';
import { errorCode } from '../src/error-details.js';

const started: FakeWorker[] = [];
async function fake(options: Parameters<typeof FakeWorker.start>[0] = {}): Promise<FakeWorker> {
  const worker = await FakeWorker.start(options);
  started.push(worker);
  return worker;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.stop()));
});

describe('FakeWorker', () => {
  it('echoes the request with its name', async () => {
    const worker = await fake({ name: 'w1' });

    const response = await request(`${worker.origin}/api/fragment`, {
      method: 'POST',
      body: 'select 1',
    });
    const echo = (await response.body.json()) as FakeEcho;

    expect(response.statusCode).toBe(200);
    expect(echo).toMatchObject({ worker: 'w1', path: '/api/fragment', bytes: 8 });
    expect(echo.body).toBe('select 1');
    expect(worker.worker()).toMatchObject({ id: 'w1', ip: '127.0.0.1', port: worker.port });
  });

  it('refuses connections once stopped and accepts them again after restart', async () => {
    const worker = await fake();
    await worker.stop();

    const refused = await request(worker.origin).catch((error: unknown) => error);
    expect(errorCode(refused)).toBe('ECONNREFUSED');

    await worker.restart();
    const response = await request(worker.origin, { method: 'POST', body: 'x' });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
  });

  it('resets the connection before answering in reset mode', async () => {
    const worker = await fake({ mode: 'reset' });

    const error = await request(worker.origin, { method: 'POST', body: 'x' }).catch((e) => e);

    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(errorCode(error));
  });

  it('answers 503 with Retry-After while draining', async () => {
    const worker = await fake({ mode: 'draining', retryAfterSeconds: 7 });

    const response = await request(worker.origin, { method: 'POST', body: 'x' });
    await response.body.dump();

    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
  });

  it('keeps a request open forever in hang mode and counts it', async () => {
    const worker = await fake({ mode: 'hang' });
    const controller = new AbortController();

    const pending = request(worker.origin, {
      method: 'POST',
      body: 'x',
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await expect.poll(() => worker.openRequests).toBe(1);
    controller.abort();
    await pending;

    await expect.poll(() => worker.openRequests).toBe(0);
    expect(worker.answered).toBe(0);
  });

  it.each(['truncate', 'truncate-chunked'] as const)(
    'dies half-way through the body in %s mode, which undici reports as an error',
    async (mode) => {
      const worker = await fake({ mode });

      const response = await request(worker.origin, { method: 'POST', body: 'x' });
      const error = await response.body.arrayBuffer().then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(response.statusCode).toBe(200);
      expect(error).toBeInstanceOf(Error);
    },
  );

  it('refuses to listen anywhere but loopback', async () => {
    for (const host of ['0.0.0.0', '10.0.0.1', '::', '127.0.0.1.example.com']) {
      await expect(FakeWorker.start({ host })).rejects.toThrow(/127\.0\.0\.0\/8 address or ::1/);
    }
    const second = await FakeWorker.start({ host: '127.0.0.2' });
    expect(second.worker().ip).toBe('127.0.0.2');
    await second.stop();
  });
});

describe('spawnFakeWorker', () => {
  it('runs in a child process that reports its port and dies on SIGKILL', async () => {
    const child = await spawnFakeWorker({ name: 'child-1' });

    const response = await request(`http://127.0.0.1:${child.port}/q`, {
      method: 'POST',
      body: 'hello',
    });
    const echo = (await response.body.json()) as FakeEcho;
    expect(echo.worker).toBe('child-1');

    await child.kill();
    expect((await child.exited).signal).toBe('SIGKILL');
    const refused = await request(`http://127.0.0.1:${child.port}/q`).catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('ECONNREFUSED');
  });
});
