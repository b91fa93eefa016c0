import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerCache } from '../../src/discovery/cache.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { DiscoveryError } from '../../src/errors.js';
import { createTestPki } from '../../src/testing/test-ca.js';
import {
  fastWatch,
  namespace,
  recordingLogger,
  selector,
  until,
  workerSlice,
} from '../support/kube.js';
import { useFakeKubeApi } from '../support/kube-api.js';
import { tempDir } from '../support/temp.js';

const canary = 'canary-7f3a9c-DO-NOT-LOG';
const kube = useFakeKubeApi({
  server: { token: canary, forbiddenNamespaces: ['locked'] },
  kubeconfig: false,
});
let dir: string;

beforeEach(async () => {
  dir = await tempDir();
  kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
});

afterEach(() => {
  vi.useRealTimers();
});

const settings = { POD_NAMESPACE: namespace, WORKER_POD_LABEL_SELECTOR: selector,
  QUERY_WORKER_PORT: '7101' };

/** In-cluster configuration: a service-account directory and the service variables. */
async function inCluster(options: Partial<KubernetesDiscoveryOptions> = {}) {
  const serviceAccountDir = join(dir, 'serviceaccount');
  await mkdir(serviceAccountDir, { recursive: true });
  const serviceEnv = await kube.api.writeServiceAccount(serviceAccountDir, { namespace });
  const source = new KubernetesWorkerDiscovery({
    env: { ...settings, ...serviceEnv, KUBECONFIG: join(dir, 'no-such-kubeconfig') },
    serviceAccountDir,
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
  return { source, tokenFile: join(serviceAccountDir, 'token') };
}

async function fromKubeConfig(
  kubeConfigOptions: { token?: string; insecureSkipTlsVerify?: boolean } = {},
  options: Partial<KubernetesDiscoveryOptions> = {},
): Promise<KubernetesWorkerDiscovery> {
  const path = await kube.api.writeKubeConfig(join(dir, 'kubeconfig'), kubeConfigOptions);
  return new KubernetesWorkerDiscovery({
    env: { ...settings, KUBECONFIG: path },
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
}

async function failure(promise: Promise<unknown>): Promise<DiscoveryError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DiscoveryError);
  return error as DiscoveryError;
}

function cacheOver(source: KubernetesWorkerDiscovery): WorkerCache {
  const cache = new WorkerCache(source, { coalesceMs: 0, readyTimeoutMs: 300 });
  kube.track(cache);
  return cache;
}

describe('Kubernetes discovery: credentials and TLS', () => {
  it('works in-cluster: service-account token, CA and service variables', async () => {
    const { source } = await inCluster();
    expect(source.credentialSource).toBe('in-cluster');
    expect(source.server).toBe(kube.api.url);

    const cache = cacheOver(source);
    expect((await cache.ready()).map((w) => w.id)).toEqual(['uid-w1']);
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'the in-cluster watch delivers');
  });

  it('re-reads a rotated token file after a 401 and carries on without a restart', async () => {
    const logger = recordingLogger();
    const { source, tokenFile } = await inCluster({ logger });
    const cache = cacheOver(source);
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);

    // The kubelet writes a new token; the server stops taking the old one.
    kube.api.setToken('rotated-token-1');
    await writeFile(tokenFile, 'rotated-token-1');
    kube.api.endWatches();
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'the watch resumes with the new token');

    kube.api.setToken('rotated-token-2');
    await writeFile(tokenFile, 'rotated-token-2');
    expect(await source.getWorkers()).toHaveLength(2);

    expect(kube.api.requests.filter((request) => request.status === 401)).toHaveLength(2);
    expect(logger.lines.filter((line) => line.message?.includes('re-read'))).toHaveLength(2);
    expect(cache.status().stale).toBe(false);
  });

  it('never puts a token in logs or errors, whatever fails', async () => {
    const logger = recordingLogger();
    const wrong = `${canary}-stale`;
    const rejected = await fromKubeConfig({ token: wrong }, { logger });
    const messages: string[] = [];

    messages.push((await failure(rejected.getWorkers())).message);
    const cache = cacheOver(rejected);
    messages.push(String(await cache.ready().catch((error: Error) => error.message)));
    messages.push(cache.status().lastError?.message ?? '');
    await cache.close();

    const good = await fromKubeConfig({}, { logger });
    kube.api.failNext(1, { status: 500 });
    messages.push((await failure(good.getWorkers())).message);
    const goodCache = cacheOver(good);
    await goodCache.ready();

    const everything = [...messages, logger.text()].join('\n');
    expect(messages[0]).toContain('401 Unauthorized');
    expect(everything).not.toContain(canary);
    expect(everything).not.toContain('Bearer');
  });

  it('says which RBAC rule is missing on 403 and does not hammer the server', async () => {
    const source = await fromKubeConfig({}, { namespace: 'locked' });
    const error = await failure(source.getWorkers());
    expect(error.reason).toBe('forbidden');
    expect(error.message).toContain(
      '"list" and "watch" on "endpointslices" in API group discovery.k8s.io',
    );

    const services = await fromKubeConfig({}, { namespace: 'locked', selectorTarget: 'services' });
    const serviceError = await failure(services.getWorkers());
    expect(serviceError.message).toContain('"list" and "watch" on "services" in API group ""');

    const cache = cacheOver(source);
    await cache.ready().catch(() => undefined);
    await until(() => cache.status().consecutiveFailures >= 3, 'three tries');
    const tries = cache.status().consecutiveFailures;
    const forbidden = kube.api.requests.filter((request) => request.status === 403).length;
    expect(forbidden).toBeLessThanOrEqual(tries + 3);
  });

  it('gives typed, actionable errors for 404 and for a server too slow to answer', async () => {
    const source = await fromKubeConfig({}, { requestTimeoutMs: 100 });
    kube.api.failNext(1, { status: 404 });
    const missing = await failure(source.getWorkers());
    expect(missing.reason).toBe('not-found');
    expect(missing.message).toContain('Kubernetes 1.21');

    kube.api.slowNext(1, 1_000);
    const slow = await failure(source.getWorkers());
    expect(slow.reason).toBe('timeout');
    expect(slow.message).toContain('timed out after 100 ms');
  });

  it('verifies the server against the configured CA', async () => {
    const stranger = await createTestPki();
    const path = join(dir, 'kubeconfig');
    await kube.api.writeKubeConfig(path);
    const text = (await import('node:fs')).readFileSync(path, 'utf8').replace(
      Buffer.from(kube.api.ca).toString('base64'),
      Buffer.from(stranger.ca).toString('base64'),
    );
    await writeFile(path, text);

    const source = new KubernetesWorkerDiscovery({ env: { ...settings, KUBECONFIG: path } });
    const error = await failure(source.getWorkers());
    expect(error.reason).toBe('unreachable');
    expect(error.message).toContain('TLS');
  });

  it('honours insecure-skip-tls-verify from a kubeconfig, warning at every start', async () => {
    const logger = recordingLogger();
    const first = await fromKubeConfig({ insecureSkipTlsVerify: true }, { logger });
    const second = await fromKubeConfig({ insecureSkipTlsVerify: true }, { logger });
    expect(await first.getWorkers()).toHaveLength(1);
    expect(await second.getWorkers()).toHaveLength(1);

    const warnings = logger.lines.filter((line) =>
      line.level === 'warn' && line.message?.includes('insecure-skip-tls-verify'));
    expect(warnings).toHaveLength(2);
  });
});

/**
 * An exec credential plugin, as `aws eks get-token` or `gke-gcloud-auth-plugin` are: each run
 * prints the next token (`exec-token-1`, `exec-token-2`, …) valid for 60 s, and counts its runs.
 * It tells time by the test's simulated clock, kept in a file, so expiry is in one timeline.
 */
const execPlugin = `
import { readFileSync, writeFileSync } from 'node:fs';
const [counter, clock] = process.argv.slice(2);
let runs = 0;
try { runs = Number(readFileSync(counter, 'utf8')); } catch {}
runs += 1;
writeFileSync(counter, String(runs));
process.stdout.write(JSON.stringify({
  apiVersion: 'client.authentication.k8s.io/v1',
  kind: 'ExecCredential',
  status: {
    token: 'exec-token-' + runs,
    expirationTimestamp: new Date(Number(readFileSync(clock, 'utf8')) + 60_000).toISOString(),
  },
}));
`;

describe('Kubernetes discovery: credentials that expire (acceptance 4)', () => {
  it('runs the exec plugin again once its token expires, and on an early 401', async () => {
    const script = join(dir, 'token-plugin.mjs');
    const counter = join(dir, 'runs');
    const clock = join(dir, 'clock');
    await writeFile(script, execPlugin);
    const runs = async () => Number(await readFile(counter, 'utf8').catch(() => '0'));
    const path = await kube.api.writeKubeConfig(join(dir, 'kubeconfig'), {
      exec: { command: process.execPath, args: [script, counter, clock] },
    });
    kube.api.setToken('exec-token-1');
    const unauthorized = () =>
      kube.api.requests.filter((request) => request.status === 401).length;

    // The client caches an exec token until its expirationTimestamp by Date.now(), so a
    // simulated wall clock (and nothing else) is moved past it.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const moveClock = async (ms: number) => {
      vi.setSystemTime(Date.now() + ms);
      await writeFile(clock, String(Date.now()));
    };
    await moveClock(0);
    const source = new KubernetesWorkerDiscovery({
      env: { ...settings, KUBECONFIG: path },
      watch: fastWatch,
    });
    expect(await source.getWorkers()).toHaveLength(1);
    expect(await source.getWorkers()).toHaveLength(1);
    expect(await runs()).toBe(1);

    // Expired: the client runs the plugin before sending, so the server never sees it.
    kube.api.setToken('exec-token-2');
    await moveClock(61_000);
    expect(await source.getWorkers()).toHaveLength(1);
    expect(await runs()).toBe(2);
    expect(unauthorized()).toBe(0);

    // Revoked before its time: the 401 makes discovery rebuild the configuration, whose
    // fresh exec cache runs the plugin again; one 401, no more.
    kube.api.setToken('exec-token-3');
    expect(await source.getWorkers()).toHaveLength(1);
    expect(await runs()).toBe(3);
    expect(unauthorized()).toBe(1);

    // A watch reconnecting after expiry takes the new token the same way.
    const cache = cacheOver(source);
    await cache.ready();
    await until(() => kube.api.liveWatches === 1);
    kube.api.setToken('exec-token-4');
    await moveClock(61_000);
    kube.api.endWatches();
    kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
    await until(() => cache.workers().length === 2, 'the watch resumes with a fresh token');
    expect(await runs()).toBe(4);
    expect(unauthorized()).toBe(1);
  });

  it('backs off while the token file still holds a revoked token, then takes the new one',
    async () => {
      const { source, tokenFile } = await inCluster({
        watch: { minRetryDelayMs: 20, maxRetryDelayMs: 40 },
      });
      const cache = cacheOver(source);
      await cache.ready();
      await until(() => kube.api.liveWatches === 1);

      // The server stops taking the old token before the kubelet has written the new one.
      kube.api.setToken('rotated-token-1');
      kube.api.endWatches();
      await until(() => cache.status().consecutiveFailures >= 4, 'four failed steps');
      const failures = cache.status().consecutiveFailures;
      const rejected = kube.api.requests.filter((request) => request.status === 401).length;

      // Each step is one request and one retry with the re-read file: no tight loop.
      expect(rejected).toBeGreaterThanOrEqual(2 * (failures - 1));
      expect(rejected).toBeLessThanOrEqual(2 * failures + 1);
      expect(cache.workers().map((w) => w.id)).toEqual(['uid-w1']);
      expect(cache.status().stale).toBe(true);

      await writeFile(tokenFile, 'rotated-token-1');
      kube.api.putSlice(workerSlice('b', [{ address: '10.0.0.2', podName: 'w2' }]));
      await until(() => cache.workers().length === 2, 'recovers with the new token');
      expect(cache.status().stale).toBe(false);
      expect(kube.api.liveWatches).toBe(1);
      expect(kube.api.peakLiveWatches).toBe(1);
    });
});
