// The transport benchmark behind `npm run bench:transport`. Everything runs on 127.0.0.1:
// fake workers in child processes (so the client's event loop is measured alone), and a
// client in this process. It is bounded in count and time and stops by itself.
//
// Part 1: throughput and latency of FragmentDispatcher.fanOut against a plain undici Pool per
// worker driven by a simple loop, and against undici's BalancedPool, at several concurrency
// levels, interleaved and repeated. Part 2: time to finish a fan-out when one worker of eight
// is killed (SIGKILL) or frozen (SIGSTOP) part-way, with and without hedging.
//
// Writes transport.md and the same numbers as transport.json. `--quick` (or BENCH_QUICK=1)
// runs fewer, smaller rounds and writes to bench/results/quick/, to smoke-test the suite.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { BalancedPool, Pool } from 'undici';
import {
  FragmentDispatcher,
  WorkerCache,
  workerOrigin,
  type Fragment,
  type Worker,
  type WorkerDiscovery,
} from 'lakerunner-discovery';
import { spawnFakeWorker, type FakeWorkerProcess } from 'lakerunner-discovery/testing';

const quick = process.argv.includes('--quick') || process.env['BENCH_QUICK'] === '1';
const concurrencies = [16, 64, 256];
const requestsPerRun = quick ? 600 : 3_000;
const repeats = quick ? 2 : 5;
const killFragments = quick ? 600 : 3_000;
const killRepeats = quick ? 1 : 3;
const hardLimitMs = 240_000;
const resultsDir = new URL(quick ? './results/quick/' : './results/', import.meta.url);
const resultsFile = new URL('transport.md', resultsDir);
const print = (line = ''): void => void process.stdout.write(`${line}\n`);

// Progress goes to stderr so that stdout carries only the report.
const progress = (line: string): void => void process.stderr.write(`[bench:transport] ${line}\n`);

// The benchmark must stop by itself whatever happens.
const guard = setTimeout(() => {
  process.stderr.write(`benchmark exceeded ${hardLimitMs} ms; stopping\n`);
  process.exit(2);
}, hardLimitMs);
guard.unref();

interface RunResult {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

type Contender = (concurrency: number) => Promise<RunResult>;

function percentile(sorted: Float64Array, share: number): number {
  const index = Math.min(sorted.length - 1, Math.floor(share * sorted.length));
  return sorted[index] ?? Number.NaN;
}

function summarise(latencies: Float64Array, seconds: number, failures: number): RunResult {
  const sorted = latencies.slice().sort();
  return {
    requestsPerSecond: latencies.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    failures,
  };
}

function body(index: number): string {
  return JSON.stringify({ fragment: index, query: 'sum(bytes) by service' });
}

/** A simple loop: `concurrency` lanes, each sending the next request when its last ends. */
async function loop(
  concurrency: number,
  send: (index: number) => Promise<boolean>,
): Promise<RunResult> {
  const latencies = new Float64Array(requestsPerRun);
  let next = 0;
  let failures = 0;
  const lane = async (): Promise<void> => {
    for (let index = next++; index < requestsPerRun; index = next++) {
      const startedAt = performance.now();
      if (!(await send(index))) failures += 1;
      latencies[index] = performance.now() - startedAt;
    }
  };

  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane));
  return summarise(latencies, (performance.now() - startedAt) / 1000, failures);
}

async function readAll(response: { body: { arrayBuffer(): Promise<ArrayBuffer> } }) {
  return (await response.body.arrayBuffer()).byteLength > 0;
}

function plainPools(origins: string[]): { run: Contender; close: () => Promise<void> } {
  const pools = origins.map((origin) => new Pool(origin, {
    connections: 64,
    keepAliveTimeout: 4_000,
  }));
  const run: Contender = (concurrency) =>
    loop(concurrency, async (index) => {
      const pool = pools[index % pools.length] as Pool;
      const request = { path: '/fragment', method: 'POST' as const, body: body(index) };
      const response = await pool.request(request);
      return (await readAll(response)) && response.statusCode === 200;
    });
  return { run, close: async () => void (await Promise.all(pools.map((p) => p.close()))) };
}

function balancedPool(origins: string[]): { run: Contender; close: () => Promise<void> } {
  const pool = new BalancedPool(origins, { connections: 64, keepAliveTimeout: 4_000 });
  const run: Contender = (concurrency) =>
    loop(concurrency, async (index) => {
      const request = { path: '/fragment', method: 'POST' as const, body: body(index) };
      const response = await pool.request(request);
      return (await readAll(response)) && response.statusCode === 200;
    });
  return { run, close: () => pool.close() };
}

class FixedDiscovery implements WorkerDiscovery {
  readonly kind = 'bench';
  workers: Worker[];

  constructor(workers: Worker[]) {
    this.workers = workers;
  }

  async getWorkers(): Promise<Worker[]> {
    return [...this.workers];
  }
}

async function dispatcherOver(
  workers: Worker[],
  options: Partial<ConstructorParameters<typeof FragmentDispatcher>[1]> = {},
) {
  const cache = new WorkerCache(new FixedDiscovery(workers), { refreshIntervalMs: 600_000 });
  await cache.ready();
  const dispatcher = new FragmentDispatcher(cache, { picker: 'round-robin', ...options });
  return {
    dispatcher,
    close: async () => {
      await dispatcher.close();
      await cache.close();
    },
  };
}

function fragmentsFor(count: number): Fragment[] {
  return Array.from({ length: count }, (_, index) => ({ path: '/fragment', body: body(index) }));
}

async function fanOutContender(workers: Worker[]) {
  const { dispatcher, close } = await dispatcherOver(workers);
  const fragments = fragmentsFor(requestsPerRun);
  const run: Contender = async (concurrency) => {
    const startedAt = performance.now();
    const outcomes = await dispatcher.fanOut(fragments, { concurrency });
    const seconds = (performance.now() - startedAt) / 1000;

    // Latency is the answering attempt's time from send to the whole body, as in the loops.
    const latencies = new Float64Array(outcomes.length);
    let failures = 0;
    outcomes.forEach((outcome, index) => {
      if (!outcome.ok || outcome.status !== 200) failures += 1;
      latencies[index] = outcome.attempts.at(-1)?.durationMs ?? Number.NaN;
    });
    return summarise(latencies, seconds, failures);
  };
  return { run, close };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median, range and every run, as the JSON results keep them. */
interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number[];
}

function spreadOf(values: number[]): Spread {
  const [min, max] = [Math.min(...values), Math.max(...values)];
  return { median: median(values), min, max, runs: values };
}

function spread(values: number[], digits = 0): string {
  const { median: middle, min, max } = spreadOf(values);
  return `${middle.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
}

interface ThroughputJson {
  readonly concurrencies: number[];
  readonly requestsPerRun: number;
  readonly repeats: number;
  readonly clients: Array<{
    readonly name: string;
    readonly levels: Array<{
      readonly concurrency: number;
      readonly requestsPerSecond: Spread;
      readonly p50Ms: Spread;
      readonly p99Ms: Spread;
      readonly failures: number;
    }>;
  }>;
}

const dispatcherName = 'FragmentDispatcher.fanOut';

/**
 * The dispatcher against each loop client, repeat by repeat: the runs of one repeat are
 * interleaved, so their ratio cancels much of the drift a shared machine adds.
 */
function ratioRows(results: Map<string, RunResult[]>, others: string[]): string[] {
  const rows = [
    `| ${dispatcherName} against | concurrency | requests/s ratio | p99 ratio |`,
    '|---|---:|---:|---:|',
  ];
  for (const other of others) {
    for (const concurrency of concurrencies) {
      const ours = results.get(`${dispatcherName}|${concurrency}`) ?? [];
      const theirs = results.get(`${other}|${concurrency}`) ?? [];
      const paired = ours.map((run, i) => [run, theirs[i] ?? run] as const);
      const rate = paired.map(([mine, other]) => mine.requestsPerSecond / other.requestsPerSecond);
      const p99 = paired.map(([mine, other]) => mine.p99 / other.p99);
      rows.push(`| ${other} | ${concurrency} | ${spread(rate, 2)} | ${spread(p99, 2)} |`);
    }
  }
  return rows;
}

interface ThroughputResult {
  readonly rows: string[];
  readonly ratios: string[];
  readonly json: ThroughputJson;
}

async function throughput(): Promise<ThroughputResult> {
  const children = await Promise.all(
    [0, 1, 2, 3].map((i) => spawnFakeWorker({ name: `bench-${i}` })),
  );
  const workers = children.map((child) => child.worker());
  const origins = workers.map((worker) => workerOrigin(worker));
  const contenders: Array<[string, { run: Contender; close: () => Promise<void> }]> = [
    ['undici Pool per worker (loop)', plainPools(origins)],
    ['undici BalancedPool (loop)', balancedPool(origins)],
    [dispatcherName, await fanOutContender(workers)],
  ];
  const results = new Map<string, RunResult[]>();

  try {
    // Warm-up: open connections and let the JIT settle before anything is counted.
    for (const [, contender] of contenders) {
      for (const concurrency of concurrencies) await contender.run(concurrency);
    }
    progress('throughput warm-up done');

    for (let repeat = 0; repeat < repeats; repeat += 1) {
      for (const concurrency of concurrencies) {
        // Interleave, rotating who goes first, so drift hits every contender alike.
        for (let turn = 0; turn < contenders.length; turn += 1) {
          const [name, contender] = contenders[(turn + repeat) % contenders.length] as [
            string,
            { run: Contender },
          ];
          const result = await contender.run(concurrency);
          const key = `${name}|${concurrency}`;
          results.set(key, [...(results.get(key) ?? []), result]);
        }
      }
      progress(`throughput repeat ${repeat + 1}/${repeats} done`);
    }
  } finally {
    for (const [, contender] of contenders) await contender.close();
    await Promise.all(children.map((child) => child.kill()));
  }

  const rows = [
    '| client | concurrency | requests/s | p50 ms | p99 ms | failures |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const concurrency of concurrencies) {
    for (const [name] of contenders) {
      const runs = results.get(`${name}|${concurrency}`) ?? [];
      rows.push(
        `| ${name} | ${concurrency} | ${spread(runs.map((r) => r.requestsPerSecond))} | ` +
          `${spread(runs.map((r) => r.p50), 2)} | ${spread(runs.map((r) => r.p99), 2)} | ` +
          `${runs.reduce((sum, r) => sum + r.failures, 0)} |`,
      );
    }
  }

  const names = contenders.map(([name]) => name);
  const json: ThroughputJson = {
    concurrencies,
    requestsPerRun,
    repeats,
    clients: names.map((name) => ({
      name,
      levels: concurrencies.map((concurrency) => {
        const runs = results.get(`${name}|${concurrency}`) ?? [];
        return {
          concurrency,
          requestsPerSecond: spreadOf(runs.map((r) => r.requestsPerSecond)),
          p50Ms: spreadOf(runs.map((r) => r.p50)),
          p99Ms: spreadOf(runs.map((r) => r.p99)),
          failures: runs.reduce((sum, r) => sum + r.failures, 0),
        };
      }),
    })),
  };
  const ratios = ratioRows(results, names.filter((name) => name !== dispatcherName));
  return { rows, ratios, json };
}

type Fault = 'none' | 'SIGKILL' | 'SIGSTOP';

/** One fan-out over eight workers, one of which is killed or frozen a quarter of the way. */
async function faultRun(fault: Fault, hedgeAfterMs: number | undefined) {
  const children: FakeWorkerProcess[] = await Promise.all(
    Array.from({ length: 8 }, (_, i) => spawnFakeWorker({ name: `fault-${i}`, latencyMs: 2 })),
  );
  const { dispatcher, close } = await dispatcherOver(
    children.map((child) => child.worker()),
    { hedgeAfterMs, attemptTimeoutMs: 2_000, connectTimeoutMs: 1_000 },
  );
  const victim = children[3] as FakeWorkerProcess;

  try {
    let done = 0;
    let failed = 0;
    const startedAt = performance.now();
    const stream = dispatcher.fanOutStream(fragmentsFor(killFragments), { concurrency: 64 });
    for await (const outcome of stream) {
      done += 1;
      if (!outcome.ok) failed += 1;
      if (done === killFragments / 4 && fault !== 'none') victim.child.kill(fault);
    }
    const seconds = (performance.now() - startedAt) / 1000;
    return { seconds, failed, done };
  } finally {
    await close().catch(() => undefined);
    if (fault === 'SIGSTOP') victim.child.kill('SIGCONT');
    await Promise.all(children.map((child) => child.kill()));
  }
}

interface FaultJson {
  readonly fault: Fault;
  readonly hedgeAfterMs: number | null;
  readonly finishMs: Spread;
  readonly outcomes: number[];
  readonly failed: number[];
}

async function faults(): Promise<{ rows: string[]; json: FaultJson[] }> {
  const cases: Array<[Fault, number | undefined]> = [
    ['none', undefined],
    ['SIGKILL', undefined],
    ['SIGKILL', 50],
    ['SIGSTOP', undefined],
    ['SIGSTOP', 50],
  ];
  const results = new Map<string, Array<{ seconds: number; failed: number; done: number }>>();
  for (let repeat = 0; repeat < killRepeats; repeat += 1) {
    for (const [fault, hedge] of cases) {
      const key = `${fault}|${hedge ?? 'off'}`;
      results.set(key, [...(results.get(key) ?? []), await faultRun(fault, hedge)]);
    }
    progress(`fault repeat ${repeat + 1}/${killRepeats} done`);
  }

  const rows = [
    '| one worker of eight | hedging | time to finish, ms | outcomes | failed |',
    '|---|---|---:|---:|---:|',
  ];
  const json: FaultJson[] = [];
  for (const [fault, hedge] of cases) {
    const runs = results.get(`${fault}|${hedge ?? 'off'}`) ?? [];
    json.push({
      fault,
      hedgeAfterMs: hedge ?? null,
      finishMs: spreadOf(runs.map((r) => r.seconds * 1000)),
      outcomes: runs.map((r) => r.done),
      failed: runs.map((r) => r.failed),
    });
    const label = {
      none: 'none (baseline)',
      SIGKILL: 'killed (SIGKILL)',
      SIGSTOP: 'frozen (SIGSTOP)',
    };
    rows.push(
      `| ${label[fault]} | ${hedge === undefined ? 'off' : `after ${hedge} ms`} | ` +
        `${spread(runs.map((r) => r.seconds * 1000))} | ` +
        `${runs.map((r) => r.done).join(', ')} | ${runs.map((r) => r.failed).join(', ')} |`,
    );
  }
  return { rows, json };
}

const startedAt = performance.now();
const loadBefore = loadavg()[0] ?? 0;
print('transport benchmark: fake workers in child processes on 127.0.0.1');
const measured = await throughput();
const faulted = await faults();
const seconds = (performance.now() - startedAt) / 1000;
const elapsed = seconds.toFixed(0);
const loadAfter = loadavg()[0] ?? 0;

const report = [
  '# Transport benchmark',
  '',
  `Run with \`npm run bench:transport\` on Node ${process.version}, ` +
    `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${elapsed} s. ` +
    `Load average (1 min) ${loadBefore.toFixed(1)} before and ` +
    `${loadAfter.toFixed(1)} after: the machine is shared, so compare rows within ` +
    'this run only, and read the ranges.',
  '',
  '## Throughput and latency',
  '',
  `Four fake workers in child processes on 127.0.0.1 answer at once (echo JSON). Each cell is ` +
    `the median of ${repeats} interleaved runs of ${requestsPerRun} requests, with the range ` +
    '(min–max) in brackets, after one warm-up run per client and level. Latency is from ' +
    'sending a request to having its whole body. All clients allow 64 connections per worker.',
  '',
  ...measured.rows,
  '',
  `${dispatcherName} against each loop client: in each repeat the three ran back to back at ` +
    'the same level, so the ratio is taken within a repeat; median and range over the ' +
    'repeats. Above 1 is more requests per second, or a longer p99.',
  '',
  ...measured.ratios,
  '',
  '## One worker of eight lost part-way',
  '',
  `A fan-out of ${killFragments} fragments at concurrency 64 over eight workers (2 ms each); ` +
    'a quarter of the way through, one worker is killed with SIGKILL (connections reset, then ' +
    'refused) or frozen with SIGSTOP (connections accepted, never answered). Attempt timeout ' +
    `2 s. Median and range of ${killRepeats} runs; outcomes and failures per run.`,
  '',
  ...faulted.rows,
  '',
].join('\n');

print();
print(report);
const json = {
  benchmark: 'transport',
  quick,
  node: process.version,
  cores: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown CPU',
  loadAverageBefore: loadBefore,
  loadAverageAfter: loadAfter,
  seconds,
  throughput: measured.json,
  faults: faulted.json,
};
await mkdir(resultsDir, { recursive: true });
await writeFile(resultsFile, report);
await writeFile(new URL('transport.json', resultsDir), `${JSON.stringify(json, null, 2)}\n`);
print(`written to ${resultsFile.pathname}`);
