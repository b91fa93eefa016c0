import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { endpointSlice, FakeKubeApiServer } from '../../src/testing/fake-kube-api.js';
import { tempDir } from '../support/temp.js';

const namespace = 'cardinalhq-datalake';
const selector = 'app.kubernetes.io/instance=lakerunner,app.kubernetes.io/component=query-worker';
const labels = {
  'app.kubernetes.io/instance': 'lakerunner',
  'app.kubernetes.io/component': 'query-worker',
};

let api: FakeKubeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  api = await FakeKubeApiServer.start({ forbiddenNamespaces: ['locked'] });
});

afterAll(async () => {
  await api.close();
});

beforeEach(async () => {
  kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
  for (const name of ['workers', 'not-ready']) api.deleteSlice(namespace, name);
});

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { KUBECONFIG: kubeconfig, ...env },
  });
  return { status, stdout, stderr };
}

const flags = [
  `--pod-namespace=${namespace}`,
  `--worker-pod-label-selector=${selector}`,
  '--query-worker-port=7101',
];

describe('lakerunner debug kubernetes-discovery', () => {
  it('prints exactly the settings and the one worker found', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.158' }],
    }));

    const { status, stdout, stderr } = await cli(['debug', 'kubernetes-discovery', ...flags]);
    expect(stdout).toBe(
      [
        'Debugging Kubernetes worker discovery...',
        'POD_NAMESPACE: cardinalhq-datalake',
        `WORKER_POD_LABEL_SELECTOR: ${selector}`,
        'QUERY_WORKER_PORT: 7101',
        '',
        'Discovering workers...',
        'Found 1 workers:',
        '  [1] 10.244.5.158:7101',
        '',
      ].join('\n'),
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });

  it('reads each flag from its environment variable when the flag is absent', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.1' }],
    }));
    const { status, stdout } = await cli(['debug', 'kubernetes-discovery'], {
      POD_NAMESPACE: namespace,
      WORKER_POD_LABEL_SELECTOR: selector,
      QUERY_WORKER_PORT: '7101',
    });
    expect(status).toBe(0);
    expect(stdout).toContain('  [1] 10.244.5.1:7101\n');
  });

  it('explains an empty result with the checklist and exits 3', async () => {
    api.putSlice(endpointSlice({
      name: 'not-ready', namespace, labels, endpoints: [{ address: '10.244.5.2', ready: false }],
    }));
    const { status, stdout } = await cli(['debug', 'kubernetes-discovery', ...flags]);
    expect(status).toBe(3);
    expect(stdout).toContain('Discovering workers...\nFound 0 workers:\n\nNo workers found.');
    for (const cause of ['Selector:', 'Namespace:', 'Readiness:', 'Missing EndpointSlices:',
      'IPv4 only:']) {
      expect(stdout).toContain(cause);
    }
    expect(stdout).toContain('(1 not ready, 0 terminating)');
    expect(stdout).toContain('matched against EndpointSlice labels');
  });

  it('says when Services match although no EndpointSlice does, and names the flag', async () => {
    api.putService({ metadata: { name: 'query-worker', namespace, labels } });
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels: { 'kubernetes.io/service-name': 'query-worker' },
      endpoints: [{ address: '10.244.5.7' }],
    }));

    const empty = await cli(['debug', 'kubernetes-discovery', ...flags]);
    expect(empty.status).toBe(3);
    expect(empty.stdout).toContain('1 Service(s) match it: query-worker');
    expect(empty.stdout).toContain('use --selector-target=services');

    const found = await cli(['debug', 'kubernetes-discovery', ...flags,
      '--selector-target=services']);
    expect(found.status).toBe(0);
    expect(found.stdout).toContain('WORKER_SELECTOR_TARGET: services');
    expect(found.stdout).toContain('  [1] 10.244.5.7:7101');
  });

  it('says when it reproduces the Go worker set, where an absent ready is not ready',
    async () => {
      api.putService({ metadata: { name: 'query-worker', namespace, labels } });
      api.putSlice(endpointSlice({
        name: 'workers', namespace, labels: { 'kubernetes.io/service-name': 'query-worker' },
        endpoints: [{ address: '10.244.5.7', ready: true }, { address: '10.244.5.8' }],
      }));

      const found = await cli(['debug', 'kubernetes-discovery', ...flags],
        { LAKERUNNER_DISCOVERY_COMPAT: 'lakerunner-go' });
      expect(found.status).toBe(0);
      expect(found.stdout).toContain('WORKER_SELECTOR_TARGET: services');
      expect(found.stdout).toContain('LAKERUNNER_DISCOVERY_COMPAT: lakerunner-go');
      expect(found.stdout).toContain('Found 1 workers:');

      const json = await cli(['debug', 'kubernetes-discovery', ...flags, '--output=json'],
        { LAKERUNNER_DISCOVERY_COMPAT: 'lakerunner-go' });
      expect(JSON.parse(json.stdout)).toMatchObject({ compatibility: 'lakerunner-go' });
    });

  it.each([
    [['--query-worker-port=70000'], '--query-worker-port is "70000": expected a whole number'],
    [['--pod-namespace=Bad_NS'], '--pod-namespace is "Bad_NS"'],
    [['--worker-pod-label-selector=app in ('], '--worker-pod-label-selector is "app in ("'],
    [['--no-such-flag'], "Unknown option '--no-such-flag'"],
  ])('exits 2 with the error for bad flags %j', async (bad, message) => {
    const { status, stdout, stderr } = await cli([
      'debug', 'kubernetes-discovery', ...flags, ...bad,
    ]);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
  });

  it('exits 2 naming the variable when a setting is missing everywhere', async () => {
    const { status, stderr } = await cli([
      'debug', 'kubernetes-discovery', ...flags.slice(1),
    ]);
    expect(status).toBe(2);
    expect(stderr).toBe(
      'error: POD_NAMESPACE (or --pod-namespace) is not set: give a value such as default\n',
    );

    const none = await cli(['debug', 'kubernetes-discovery']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('3 required settings are not set: POD_NAMESPACE (or ' +
      '--pod-namespace), such as default; WORKER_POD_LABEL_SELECTOR');
  });

  it('exits 1 with the DiscoveryError for cluster errors', async () => {
    const { status, stderr } = await cli([
      'debug', 'kubernetes-discovery', ...flags, '--pod-namespace=locked',
    ]);
    expect(status).toBe(1);
    expect(stderr).toContain('403 Forbidden');
    expect(stderr).toContain('"list" and "watch" on "endpointslices"');
    expect(stderr).toContain('kind: Role');
    expect(stderr).toContain('resources: ["endpointslices"]');
  });

  it('documents every flag and the exit statuses in --help', async () => {
    const { status, stdout } = await cli(['debug', 'kubernetes-discovery', '--help']);
    expect(status).toBe(0);
    for (const text of ['--pod-namespace', '--worker-pod-label-selector', '--query-worker-port',
      '--output', 'Exit status', '  3  discovery worked but found no workers']) {
      expect(stdout).toContain(text);
    }
  });

  it('prints JSON for scripts with --output=json', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.158' }],
    }));
    const { status, stdout } = await cli([
      'debug', 'kubernetes-discovery', ...flags, '--output=json',
    ]);
    expect(status).toBe(0);
    const parsed = JSON.parse(stdout) as { workers: Array<{ ip: string }> };
    expect(parsed.workers.map((worker) => worker.ip)).toEqual(['10.244.5.158']);
  });

  it('runs as the built lakerunner binary', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.158' }],
    }));
    const bin = join(import.meta.dirname, '../../dist/cli/main.js');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'debug',
      'kubernetes-discovery', ...flags], { env: { KUBECONFIG: kubeconfig, PATH: '' } });
    expect(stdout).toContain('Found 1 workers:\n  [1] 10.244.5.158:7101\n');

    const failed = await promisify(execFile)(process.execPath, [bin, 'debug',
      'kubernetes-discovery', ...flags, '--query-worker-port=0'], {
      env: { KUBECONFIG: kubeconfig },
    })
      .catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('--query-worker-port is "0"');
  });
});

describe('lakerunner debug kubernetes-discovery logging', () => {
  it('logs JSON lines to stderr at the chosen level and keeps stdout for the report', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.158' }],
    }));
    const { status, stdout, stderr } = await cli([
      'debug', 'kubernetes-discovery', ...flags, '--log-level=debug',
    ]);
    expect(status).toBe(0);
    expect(stdout).not.toContain('"level"');
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string });
    expect(lines.some((line) => line.msg === 'listed EndpointSlices')).toBe(true);
    expect(stderr).not.toContain(api.token);
  });

  it('rejects an unknown --log-level with exit 2', async () => {
    const { status, stderr } = await cli([
      'debug', 'kubernetes-discovery', ...flags, '--log-level=loud',
    ]);
    expect(status).toBe(2);
    expect(stderr).toContain('--log-level is "loud": expected one of trace, debug');
  });
});

describe('lakerunner debug kubernetes-discovery --watch', () => {
  it('prints each change with a timestamp until interrupted', async () => {
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.1', podName: 'w-1' }],
    }));
    const controller = new AbortController();
    let stdout = '';
    const running = runCli(['debug', 'kubernetes-discovery', ...flags, '--watch'], {
      stdout: (text) => (stdout += text),
      stderr: () => undefined,
      env: { KUBECONFIG: kubeconfig },
      signal: controller.signal,
    });
    const waitFor = async (text: string): Promise<void> => {
      for (let i = 0; i < 400 && !stdout.includes(text); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(stdout).toContain(text);
    };

    await waitFor('Watching for changes');
    // A change before the watch's first sync still shows: it is diffed against the list.
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [
        { address: '10.244.5.1', podName: 'w-1' },
        { address: '10.244.5.2', podName: 'w-2' },
      ],
    }));
    await waitFor('+ 10.244.5.2:7101 (w-2) ready');
    api.putSlice(endpointSlice({
      name: 'workers', namespace, labels, endpoints: [{ address: '10.244.5.2', podName: 'w-2' }],
    }));
    await waitFor('- 10.244.5.1:7101 (w-1)');

    controller.abort();
    expect(await running).toBe(0);
    expect(stdout).toMatch(/\n\d{4}-\d\d-\d\dT[\d:.]+Z {2}\+ 10\.244\.5\.2:7101/);
  });
});

describe('lakerunner top level', () => {
  it('prints usage to stderr and exits 2 without a command; --version', async () => {
    const bare = await cli([]);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('Usage: lakerunner <command>');

    const version = await cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
