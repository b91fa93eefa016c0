// Issue 7: what the dispatcher sends where, over what, and how much it reads back.
import { inspect } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { FragmentDispatcher } from '../../src/transport/dispatcher.js';
import { BodyTooLargeError, FragmentFailedError } from '../../src/transport/errors.js';
import type { Outcome } from '../../src/transport/fragment.js';
import { FakeWorker, type FakeEcho } from '../../src/testing/fake-worker.js';
import { createTestPki, type TestPki } from '../../src/testing/test-ca.js';
import { listCache, rotatingPicker } from '../helpers/workers.js';
import { useCleanups } from '../support/cleanups.js';

let pki: TestPki;
let otherPki: TestPki;
const cleanups = useCleanups();

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki()]);
});

async function worker(options: Parameters<typeof FakeWorker.start>[0]): Promise<FakeWorker> {
  const fake = await FakeWorker.start({ name: 'w1', ...options });
  cleanups.push(() => fake.stop());
  return fake;
}

async function dispatcherOver(
  fake: FakeWorker,
  options: Partial<ConstructorParameters<typeof FragmentDispatcher>[1]> = {},
): Promise<FragmentDispatcher> {
  const source = await listCache([fake.worker()]);
  const dispatcher = new FragmentDispatcher(source.cache, { picker: rotatingPicker, ...options });
  cleanups.push(() => source.cache.close());
  cleanups.push(() => dispatcher.close());
  return dispatcher;
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current instanceof Error; current = current.cause) chain.push(current);
  return chain;
}

function failureOf(outcome: Outcome): FragmentFailedError {
  if (outcome.ok) throw new Error(`expected a failure, got ${outcome.status}`);
  expect(outcome.error).toBeInstanceOf(FragmentFailedError);
  return outcome.error as FragmentFailedError;
}

describe('TLS to workers', () => {
  it('reaches an https worker whose certificate the configured CA issued', async () => {
    const fake = await worker({ tls: pki.server });
    const dispatcher = await dispatcherOver(fake, { tls: { ca: pki.ca } });

    const outcome = await dispatcher.dispatch({ path: '/fragment', body: 'over tls' });

    if (!outcome.ok) throw outcome.error;
    const echo = JSON.parse(Buffer.from(outcome.body).toString('utf8')) as FakeEcho;
    expect(echo).toMatchObject({ worker: 'w1', body: 'over tls' });
  });

  it('fails at once, saying TLS, when the CA does not match; no retry loop', async () => {
    const fake = await worker({ tls: pki.server });
    const dispatcher = await dispatcherOver(fake, { tls: { ca: otherPki.ca }, maxAttempts: 5 });

    const error = failureOf(await dispatcher.dispatch({ path: '/f', body: 'x' }));

    expect(error.stoppedBy).toBe('not-retryable');
    expect(error.attempts).toHaveLength(1);
    expect(error.message).toMatch(/TLS failed \((SELF_SIGNED|UNABLE_TO)/);
    expect(error.message).toContain('tls.ca');
    expect(fake.received).toBe(0);
  });

  it('checks the certificate against tls.servername when given', async () => {
    const fake = await worker({ tls: pki.server });
    const good = await dispatcherOver(fake, { tls: { ca: pki.ca, servername: 'localhost' } });
    const bad = await dispatcherOver(fake, { tls: { ca: pki.ca, servername: 'evil.example' } });

    expect((await good.dispatch({ path: '/f', body: 'x' })).ok).toBe(true);
    const error = failureOf(await bad.dispatch({ path: '/f', body: 'x' }));
    expect(error.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('presents the client certificate a mutual-TLS worker demands', async () => {
    const fake = await worker({
      tls: { ...pki.server, requireClientCertFrom: pki.ca },
      handler: (request) => ({ body: request.clientCertificate ?? 'none' }),
    });
    const anonymous = await dispatcherOver(fake, { tls: { ca: pki.ca } });
    const mutual = await dispatcherOver(fake, { tls: { ca: pki.ca, ...pki.client } });

    const refused = await anonymous.dispatch({ path: '/f', body: 'x' });
    expect(refused.ok).toBe(false);
    const outcome = await mutual.dispatch({ path: '/f', body: 'x' });
    if (!outcome.ok) throw outcome.error;
    expect(Buffer.from(outcome.body).toString('utf8')).toBe('lakerunner test client');

    // The client key is never part of what a failure shows.
    const keyLine = pki.client.key.split('\n')[1] ?? '';
    expect(inspect(refused, { depth: 10 })).not.toContain(keyLine);
  });

  it('refuses half a client certificate and an empty CA, naming the option', () => {
    const source = { workers: () => [], subscribe: () => () => undefined } as never;
    const build = (tls: object) => () =>
      new FragmentDispatcher(source, { picker: rotatingPicker, tls: tls as never });

    expect(build({ ca: pki.ca, cert: pki.client.cert })).toThrow(ConfigError);
    expect(build({ ca: pki.ca, cert: pki.client.cert })).toThrow('option tls.key is missing');
    expect(build({ ca: '' })).toThrow('option tls.ca is empty');
    expect(build({ ca: pki.ca, key: pki.client.key })).not.toThrow(pki.client.key);
  });
});

describe('bounded reads from workers', () => {
  it('aborts an endless body past maxBodyBytes and reports BodyTooLargeError', async () => {
    const fake = await worker({ mode: 'flood' });
    const limit = 256 * 1024;
    const dispatcher = await dispatcherOver(fake, { maxBodyBytes: limit });

    const error = failureOf(await dispatcher.dispatch({ path: '/f', body: 'x' }));

    expect(error.attempts.map((attempt) => attempt.result)).toEqual(['too-large']);
    expect(error.stoppedBy).toBe('not-retryable');
    expect(causes(error).some((cause) => cause instanceof BodyTooLargeError)).toBe(true);
    // The worker could write only what fits in socket buffers after the limit was hit.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const written = fake.floodedBytes;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fake.floodedBytes).toBe(written);
    expect(fake.openRequests).toBe(0);
  });
});
