// Issue 7: credentials never leave through logs, errors, cause chains or the CLI's output.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import * as promClient from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { WorkerCache } from '../../src/discovery/cache.js';
import {
  KubernetesWorkerDiscovery,
  type KubernetesDiscoveryOptions,
} from '../../src/discovery/kubernetes.js';
import { redactCredentials } from '../../src/discovery/kubernetes-errors.js';
import { instrumentPrometheus } from '../../src/observability/prometheus.js';
import { FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { FakeWorker } from '../../src/testing/fake-worker.js';
import { FragmentDispatcher } from '../../src/transport/dispatcher.js';
import { listCache, rotatingPicker } from '../helpers/workers.js';
import { createTestPki, type TestPki } from '../../src/testing/test-ca.js';
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

const canary = 'canary-tok-5e1d7b-MUST-NOT-APPEAR';
const execCanary = 'canary-exec-9c2f4a-MUST-NOT-APPEAR';
const kube = useFakeKubeApi({
  server: { token: canary, forbiddenNamespaces: ['locked'] },
  kubeconfig: false,
});
let otherPki: TestPki;
let dir: string;
/** Everything the test saw come out, to search at the end of each test. */
let seen: string[];

beforeAll(async () => {
  otherPki = await createTestPki();
});

beforeEach(async () => {
  dir = await tempDir();
  seen = [];
  kube.api.putSlice(workerSlice('a', [{ address: '10.0.0.1', podName: 'w1' }]));
});

/** Every view of an error: message, stack, each cause in turn, and a deep inspection. */
function record(error: unknown): void {
  seen.push(inspect(error, { depth: 10, showHidden: true }));
  for (let current = error, depth = 0; current !== undefined && depth < 20; depth += 1) {
    if (!(current instanceof Error)) {
      seen.push(inspect(current, { depth: 10 }));
      return;
    }
    seen.push(current.message, current.stack ?? '', JSON.stringify(current));
    current = current.cause;
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error, 'the call should have failed').toBeInstanceOf(Error);
  record(error);
  return error;
}

function expectNoSecrets(): void {
  const everything = seen.join('\n');
  expect(everything.length).toBeGreaterThan(0);
  for (const secret of [canary, execCanary, kube.pki.client.key.split('\n')[1] ?? '']) {
    expect(everything, `found ${secret.slice(0, 12)}...`).not.toContain(secret);
  }
}

async function kubeconfig(token = canary, exec?: { command: string; args: string[] }) {
  const path = join(dir, `kubeconfig-${seen.length}`);
  return kube.api.writeKubeConfig(path, exec === undefined ? { token } : { token, exec });
}

function discovery(path: string, options: Partial<KubernetesDiscoveryOptions> = {}) {
  return new KubernetesWorkerDiscovery({
    env: { KUBECONFIG: path, POD_NAMESPACE: namespace, WORKER_POD_LABEL_SELECTOR: selector,
      QUERY_WORKER_PORT: '7101' },
    requestTimeoutMs: 2_000,
    ...options,
    watch: { ...fastWatch, ...options.watch },
  });
}

describe('credentials stay out of every output (canary)', () => {
  it('list errors: 401, 403, 404, 429, 5xx, malformed JSON, TLS, unreachable', async () => {
    const logger = recordingLogger();
    const good = discovery(await kubeconfig(), { logger });
    const stale = discovery(await kubeconfig(`${canary}-stale`), { logger });

    expect((await failure(stale.getWorkers()) as { reason: string }).reason)
      .toBe('unauthorized');
    await failure(discovery(await kubeconfig(), { logger, namespace: 'locked' }).getWorkers());
    for (const status of [404, 429, 500, 503]) {
      kube.api.failNext(1, { status, headers: { 'retry-after': '1' } });
      await failure(good.getWorkers());
    }
    kube.api.failNext(1, { status: 200, body: '{"kind":"EndpointSliceList","items":[' });
    await failure(good.getWorkers());

    // A proxy that echoes the credential in its error must not get it into our messages.
    kube.api.failNext(1, { status: 502, body: JSON.stringify({ kind: 'Status',
      message: `bad gateway for Authorization: Bearer ${canary} (token=${canary})` }) });
    const echoed = await failure(good.getWorkers()) as Error;
    expect(echoed.message).toContain('bad gateway for Authorization: [redacted]');

    // The wrong CA: the client refuses the server's certificate.
    const wrongCa = new KubeConfig();
    wrongCa.loadFromOptions({
      clusters: [{ name: 'c', server: kube.api.url,
        caData: Buffer.from(otherPki.ca).toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'u', token: canary }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await failure(discovery(await kubeconfig(), { logger, kubeConfig: wrongCa }).getWorkers());

    // A server that is gone: nothing listens on its port any more.
    const gone = await FakeKubeApiServer.start({ pki: kube.pki, token: canary });
    const gonePath = await gone.writeKubeConfig(join(dir, 'gone'), { token: canary });
    await gone.close();
    await failure(discovery(gonePath, { logger }).getWorkers());

    seen.push(logger.text());
    expectNoSecrets();
  });

  it('watch errors: garbage lines, a 401 mid-watch, a refused re-list', async () => {
    const logger = recordingLogger();
    const cache = new WorkerCache(discovery(await kubeconfig(), { logger }), { coalesceMs: 0 });
    kube.track(cache);
    await cache.ready();
    const watches = () => kube.api.sliceWatchRequests().length;
    const said = (text: string) => () => logger.text().includes(text);
    const reopened = async (after: number) => {
      await until(() => watches() > after && kube.api.liveWatches === 1, 'the watch is back');
    };
    await reopened(0);

    kube.api.injectWatchLine('not json at all');
    await until(said('not JSON'), 'the bad line is reported');
    await reopened(1);

    // A proxy that echoes the credential in its error must not get it into our messages.
    kube.api.failWatches(
      401, 'Unauthorized', `bad Authorization: Bearer ${canary}, token=${canary}`,
    );
    await until(() => said('(401)')() || said('after a 401')(), 'the 401 is handled');
    kube.api.setForbidden(namespace, true);
    await until(() => cache.status().lastError?.message.includes('403') === true, '403 seen');
    record(cache.status().lastError);

    seen.push(logger.text());
    expectNoSecrets();
  });

  it('exec-plugin tokens stay out of errors and logs', async () => {
    const script = join(dir, 'plugin.mjs');
    await writeFile(script, `process.stdout.write(JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
      status: { token: ${JSON.stringify(execCanary)} } }));`);
    const path = await kubeconfig(undefined, { command: process.execPath, args: [script] });
    const logger = recordingLogger();

    // The server expects another token: the plugin's is refused.
    await failure(discovery(path, { logger }).getWorkers());
    kube.api.setToken(execCanary);
    expect(await discovery(path, { logger }).getWorkers()).toHaveLength(1);
    kube.api.failNext(1, { status: 500 });
    await failure(discovery(path, { logger }).getWorkers());

    seen.push(logger.text());
    expectNoSecrets();
  });

  it('the CLI at --log-level=trace prints no token on success or failure', async () => {
    const run = async (path: string, extra: string[] = []) => {
      let out = '';
      const status = await runCli(['debug', 'kubernetes-discovery', '--log-level=trace',
        `--pod-namespace=${namespace}`, `--worker-pod-label-selector=${selector}`,
        '--query-worker-port=7101', ...extra], {
        stdout: (text) => (out += text),
        stderr: (text) => (out += text),
        env: { KUBECONFIG: path },
      });
      seen.push(out);
      return status;
    };

    expect(await run(await kubeconfig())).toBe(0);
    expect(await run(await kubeconfig(`${canary}-stale`))).toBe(1);
    expect(await run(await kubeconfig(), ['--pod-namespace=locked'])).toBe(1);
    kube.api.failNext(1, { status: 200, body: 'not json' });
    expect(await run(await kubeconfig())).toBe(1);
    expectNoSecrets();
  });

  it('in-cluster: the service-account token stays out of a failed reload', async () => {
    const accountDir = join(dir, 'serviceaccount');
    await mkdir(accountDir, { recursive: true });
    const env = await kube.api.writeServiceAccount(accountDir, { namespace });
    await writeFile(join(accountDir, 'token'), `${canary}-old`);
    const logger = recordingLogger();
    const source = new KubernetesWorkerDiscovery({
      env: { ...env, KUBECONFIG: join(dir, 'none'), POD_NAMESPACE: namespace,
        WORKER_POD_LABEL_SELECTOR: selector, QUERY_WORKER_PORT: '7101' },
      serviceAccountDir: accountDir,
      logger,
    });

    await failure(source.getWorkers());
    seen.push(logger.text());
    expectNoSecrets();
  });
});

describe('redactCredentials', () => {
  it('blanks bearer and basic credentials and token=value pairs in server text', () => {
    expect(redactCredentials('proxy saw Bearer abc.def-ghi; retry')).toBe(
      'proxy saw Bearer [redacted]; retry');
    expect(redactCredentials('Basic dXNlcjpwYXNz')).toBe('Basic [redacted]');
    expect(redactCredentials('{"token": "s3cr3t", "password":hunter2}')).toBe(
      '{"token": "[redacted]", "password":[redacted]}');
    expect(redactCredentials('pods "x" is forbidden')).toBe('pods "x" is forbidden');
  });
});

describe('credentials stay out of metrics', () => {
  const stops: Array<() => unknown> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('no label or value holds a token from discovery or from fragment headers', async () => {
    const registry = new promClient.Registry();
    stops.push(instrumentPrometheus(promClient, { registry }));
    const stale = discovery(await kubeconfig(`${canary}-stale`));
    const failing = new WorkerCache(stale, { coalesceMs: 0, readyTimeoutMs: 300 });
    stops.push(() => failing.close());
    await failing.ready().catch(() => undefined);

    const worker = await FakeWorker.start({
      name: 'w1',
      handler: (request) => ({ status: request.headers.authorization ? 401 : 200 }),
    });
    stops.push(() => worker.stop());
    const source = await listCache([worker.worker()]);
    stops.push(() => source.cache.close());
    const dispatcher = new FragmentDispatcher(source.cache, { picker: rotatingPicker });
    stops.push(() => dispatcher.close());
    const outcome = await dispatcher.dispatch({ path: '/f', body: 'x',
      headers: { authorization: `Bearer ${canary}` } });
    expect(outcome.ok && outcome.status).toBe(401);

    const text = await registry.metrics();
    expect(text).toContain('lakerunner_discovery_errors_total');
    seen.push(text);
    expectNoSecrets();
  });
});
