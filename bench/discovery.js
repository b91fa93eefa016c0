// Discovery benchmark: watch against polling, on the fake API server over real HTTPS on
// 127.0.0.1. Run with `npm run bench:discovery`; it writes bench/results/discovery.md.
// Numbers are from one machine and one run: compare rows within a run, not across runs.
// The same numbers go to discovery.json for the charts. `--quick` (or BENCH_QUICK=1) makes
// fewer changes and shorter idle windows, and writes to bench/results/quick/.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import {
  KubernetesWorkerDiscovery,
  WorkerCache,
  diffWorkers,
  workersFromSlices,
} from '../dist/index.js';
import { FakeKubeApiServer, createTestPki, endpointSlice } from '../dist/testing/index.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const resultsDir = new URL(quick ? './results/quick/' : './results/', import.meta.url);
const namespace = 'bench';
const labels = { app: 'query-worker' };
const pki = await createTestPki();
const dir = await mkdtemp(join(tmpdir(), 'lakerunner-bench-'));

function slice(name, count, offset = 0, ready = true) {
  const endpoints = [];
  for (let i = 0; i < count; i += 1) {
    const n = offset + i;
    endpoints.push({
      address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      podName: `pod-${n}`,
      ready,
    });
  }
  return endpointSlice({ name, namespace, labels, endpoints });
}

async function server(options = {}) {
  const api = await FakeKubeApiServer.start({ pki, ...options });
  const kubeconfig = await api.writeKubeConfig(join(dir, `kubeconfig-${Date.now()}`));
  const discovery = (extra = {}) => new KubernetesWorkerDiscovery({
    env: { KUBECONFIG: kubeconfig },
    namespace,
    labelSelector: 'app=query-worker',
    port: 7101,
    ...extra,
  });
  return { api, discovery };
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

const ms = (value) => `${value.toFixed(1)} ms`;

/** Progress on stderr, so a long run shows it is alive; the report goes to stdout. */
const progress = (message) => process.stderr.write(`[bench:discovery] ${message}\n`);

/** Time from a change on the server to a subscriber seeing it, over many changes. */
async function changeLatency({ mode, changes, intervalMs, coalesceMs }) {
  const { api, discovery } = await server();
  api.putSlice(slice('s-0', 10));
  const cache = new WorkerCache(discovery(), {
    watch: mode === 'watch',
    refreshIntervalMs: intervalMs,
    coalesceMs,
  });
  await cache.ready();
  await sleep(50);

  const latencies = [];
  for (let i = 0; i < changes; i += 1) {
    // Alternate: a worker turns not ready (applied at once), then ready again (an addition).
    const ready = i % 2 === 1;
    const seen = new Promise((resolve) => {
      const stop = cache.subscribe(() => {
        stop();
        resolve(performance.now());
      });
    });
    if (mode === 'poll') await sleep(Math.random() * intervalMs);
    const started = performance.now();
    api.putSlice(slice('s-0', 10, 0, true));
    const endpoints = slice('s-0', 10).endpoints;
    endpoints[0].conditions = { ready };
    api.putSlice({ ...slice('s-0', 10), endpoints });
    latencies.push((await seen) - started);
  }

  await cache.close();
  await api.close();
  return latencies;
}

/** API requests over ten idle minutes, with every interval scaled by the same factor. */
async function idleRequests({ mode, scale, refreshIntervalMs }) {
  const second = 1000 * scale;
  const { api, discovery } = await server({ secondMs: second, bookmarkIntervalMs: 60 * second });
  api.putSlice(slice('s-0', 100));
  const source = discovery({
    watch: {
      watchTimeoutSeconds: 300,
      idleTimeoutMs: 90 * second,
      minRetryDelayMs: 1 * second,
      maxRetryDelayMs: 30 * second,
      relistIntervalMs: 600 * second,
    },
  });
  const cache = new WorkerCache(source, {
    watch: mode === 'watch',
    refreshIntervalMs: (refreshIntervalMs ?? 30_000) * scale,
  });
  await cache.ready();
  const before = api.requests.length;
  await sleep(600 * second);
  const made = api.requests.length - before;
  await cache.close();
  await api.close();
  return made;
}

/** Memory and time to hold 10,000 endpoints in 100 slices, and to apply one change. */
async function largeSet() {
  const { api, discovery } = await server();
  for (let s = 0; s < 100; s += 1) api.putSlice(slice(`s-${s}`, 100, s * 100));

  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const cache = new WorkerCache(discovery(), { coalesceMs: 0 });
  await cache.ready();
  const syncMs = performance.now() - started;
  await sleep(100);
  globalThis.gc?.();
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;

  const applied = [];
  for (let i = 0; i < largeChanges; i += 1) {
    const seen = new Promise((resolve) => {
      const stop = cache.subscribe(() => {
        stop();
        resolve(performance.now());
      });
    });
    const changed = slice('s-50', 100, 5000);
    changed.endpoints[i].conditions = { ready: false };
    const t0 = performance.now();
    api.putSlice(changed);
    applied.push((await seen) - t0);
    api.putSlice(slice('s-50', 100, 5000));
    await sleep(20);
  }

  const slices = [];
  for (let s = 0; s < 100; s += 1) slices.push(slice(`s-${s}`, 100, s * 100));
  const t1 = performance.now();
  const rounds = largeChanges;
  let previous = workersFromSlices(slices, { port: 7101 }).workers;
  for (let i = 0; i < rounds; i += 1) {
    slices[50].endpoints[i].conditions = { ready: false };
    const next = workersFromSlices(slices, { port: 7101 }).workers;
    diffWorkers(previous, next);
    previous = next;
  }
  const computeMs = (performance.now() - t1) / rounds;

  const workers = cache.workers().length;
  await cache.close();
  await api.close();
  return { workers, syncMs, heapMb, applyMedian: percentile(applied, 50), computeMs };
}

const largeChanges = quick ? 5 : 20;
const fewChanges = quick ? 10 : 40;
progress('change latency: watch, coalescing off');
const watchLatency = await changeLatency({
  mode: 'watch', changes: quick ? 40 : 200, coalesceMs: 0,
});
progress('change latency: watch, default coalescing');
const watchDefault = await changeLatency({
  mode: 'watch', changes: fewChanges, coalesceMs: 1000,
});
const pollInterval = 500;
progress('change latency: polling');
const pollLatency = await changeLatency({
  mode: 'poll', changes: fewChanges, intervalMs: pollInterval, coalesceMs: 0,
});
const removalsDefault = watchDefault.filter((_, i) => i % 2 === 0);
const additionsDefault = watchDefault.filter((_, i) => i % 2 === 1);

const scale = quick ? 0.002 : 0.005;
progress('idle requests: watch');
const idleWatch = await idleRequests({ mode: 'watch', scale });
progress('idle requests: polling');
const idlePoll30 = await idleRequests({ mode: 'poll', scale, refreshIntervalMs: 30_000 });
const idlePoll10 = await idleRequests({ mode: 'poll', scale, refreshIntervalMs: 10_000 });
progress('10,000 endpoints');
const large = await largeSet();

const pollMedianAt30s = (percentile(pollLatency, 50) / pollInterval) * 30;
const lines = [
  '# Discovery benchmark',
  '',
  `Run: \`npm run bench:discovery\` on ${new Date().toISOString().slice(0, 10)}, ` +
    `Node ${process.version}, fake API server over HTTPS on 127.0.0.1, one process.`,
  'One machine, one run: compare rows with each other, not with other runs.',
  '',
  '## Time from a slice change on the server to a subscriber seeing it',
  '',
  '| Mode | Changes | Median | p99 |',
  '|---|---|---|---|',
  `| watch, coalescing off | ${watchLatency.length} | ${ms(percentile(watchLatency, 50))} | ` +
    `${ms(percentile(watchLatency, 99))} |`,
  `| watch, default 1 s coalescing: removals / not-ready | ${removalsDefault.length} | ` +
    `${ms(percentile(removalsDefault, 50))} | ${ms(percentile(removalsDefault, 99))} |`,
  `| watch, default 1 s coalescing: additions | ${additionsDefault.length} | ` +
    `${ms(percentile(additionsDefault, 50))} | ${ms(percentile(additionsDefault, 99))} |`,
  `| poll every ${pollInterval} ms (scaled) | ${pollLatency.length} | ` +
    `${ms(percentile(pollLatency, 50))} | ${ms(percentile(pollLatency, 99))} |`,
  '',
  `Polling waits about half an interval on average: at the 30 s default that is a median of ` +
    `about ${pollMedianAt30s.toFixed(1)} s, against milliseconds for a watch.`,
  '',
  '## API requests over ten idle minutes (intervals scaled by ' +
    `${scale}; 100 endpoints, bookmarks every minute)`,
  '',
  '| Mode | Requests |',
  '|---|---|',
  `| watch (300-600 s watch timeout, 10 min safety re-list) | ${idleWatch} |`,
  `| poll every 30 s | ${idlePoll30} |`,
  `| poll every 10 s | ${idlePoll10} |`,
  '',
  'Scaled polling under-counts: each request takes real milliseconds that do not shrink with ' +
    'the scale, so unscaled it is 20 (30 s) and 60 (10 s) lists. The watch makes its list, ' +
    'one watch per 5-10 minutes and the safety re-list.',
  '',
  '## 10,000 endpoints in 100 slices',
  '',
  '| Measure | Value |',
  '|---|---|',
  `| workers held | ${large.workers} |`,
  `| first list and build (100 slices, 1 page of 500) | ${ms(large.syncMs)} |`,
  `| heap held by the cache and watch (after GC) | ${large.heapMb.toFixed(1)} MB |`,
  `| one slice change, server to subscriber (median of ${largeChanges}) | ` +
    `${ms(large.applyMedian)} |`,
  `| rebuild workers from all slices + diff, pure compute | ${ms(large.computeMs)} |`,
  '',
  'Each event rebuilds the worker set from every slice (simple and obviously right); at ' +
    '10,000 endpoints that is the cost per event above.',
  '',
];
const latencyJson = (mode, values) => ({
  mode,
  changes: values.length,
  medianMs: percentile(values, 50),
  p99Ms: percentile(values, 99),
});
const json = {
  benchmark: 'discovery',
  quick,
  node: process.version,
  date: new Date().toISOString(),
  changeLatency: [
    latencyJson('watch, coalescing off', watchLatency),
    latencyJson('watch, default 1 s coalescing: removals / not-ready', removalsDefault),
    latencyJson('watch, default 1 s coalescing: additions', additionsDefault),
    latencyJson(`poll every ${pollInterval} ms (scaled)`, pollLatency),
  ],
  pollIntervalMs: pollInterval,
  pollMedianAt30sDefaultMs: pollMedianAt30s * 1000,
  idleRequests: {
    scale,
    watch: idleWatch,
    poll30s: idlePoll30,
    poll10s: idlePoll10,
  },
  largeSet: { ...large, changes: largeChanges },
};
await mkdir(resultsDir, { recursive: true });
await writeFile(new URL('discovery.md', resultsDir), lines.join('\n'));
await writeFile(new URL('discovery.json', resultsDir), `${JSON.stringify(json, null, 2)}\n`);
console.log(lines.join('\n'));
await rm(dir, { recursive: true, force: true });
