// The demo behind `npm run demo`: a fake Kubernetes API server and four fake workers on
// loopback, discovered through a real kubeconfig with the real client, then a query of a few
// hundred fragments fanned out while one worker dies part-way through. On a terminal it
// draws a live bar per worker; piped, it prints plain lines (test/examples.test.ts reads them).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAddressPolicy,
  createPicker,
  FragmentDispatcher,
  KubernetesWorkerDiscovery,
  WorkerCache,
  workerAddress,
  type Fragment,
  type Outcome,
} from 'lakerunner-discovery';
import { endpointSlice, FakeKubeApiServer, FakeWorker } from 'lakerunner-discovery/testing';
import { redraw, renderFrame, type DemoState, type WorkerCounts } from './demo-view.ts';

const namespace = 'lakerunner-demo';
const labels = { 'app.kubernetes.io/component': 'query-worker' };
const fragmentCount = 400;
const print = (line = ''): void => void process.stdout.write(`${line}\n`);
const live = process.stdout.isTTY === true;

// Slower answers on a terminal, so that a person can watch the share move; piped, the demo
// runs at full speed.
const latencyMs = live ? 80 : 25;

/** Four workers on 127.0.0.1-4 sharing one port, as pods share their container port. */
async function startWorkers(): Promise<FakeWorker[]> {
  for (let tries = 0; tries < 5; tries += 1) {
    const first = await FakeWorker.start({ name: 'query-worker-0', latencyMs });
    try {
      const others = await Promise.all([1, 2, 3].map((n) => FakeWorker.start({
        name: `query-worker-${n}`, host: `127.0.0.${n + 1}`, port: first.port, latencyMs,
      })));
      return [first, ...others];
    } catch {
      await first.stop();
    }
  }
  throw new Error('could not find a port free on 127.0.0.1-4');
}

function publish(api: FakeKubeApiServer, workers: FakeWorker[], notReady = new Set<string>()) {
  api.putSlice(endpointSlice({
    name: 'query-workers-x7k2p',
    namespace,
    labels,
    endpoints: workers.map((worker) => ({
      address: worker.host,
      podName: worker.name,
      ready: !notReady.has(worker.name),
    })),
  }));
}

const dir = await mkdtemp(join(tmpdir(), 'lakerunner-demo-'));
const api = await FakeKubeApiServer.start();
const workers = await startWorkers();
publish(api, workers);

type Tally = { -readonly [K in keyof WorkerCounts]: WorkerCounts[K] };

/** Counts per worker for the live view, kept up to date as outcomes arrive. */
class LiveTally {
  readonly #startedAt = performance.now();
  readonly #workers: Map<string, Tally>;
  readonly #events: Array<{ atMs: number; text: string }> = [];
  #answered = 0;
  #lostWorker = false;
  #linesDrawn = 0;

  constructor(members: FakeWorker[]) {
    this.#workers = new Map(members.map((worker) => [worker.name, {
      name: worker.name,
      address: `${worker.host}:${worker.port}`,
      answeredBefore: 0,
      answeredAfter: 0,
      retriedHere: 0,
      failedHere: 0,
      stoppedAfter: undefined,
    }]));
  }

  count(outcome: Outcome): void {
    for (const attempt of outcome.attempts) {
      const tally = this.#workers.get(attempt.worker.podName ?? '');
      if (tally && attempt.result !== 'answered') tally.failedHere += 1;
    }
    if (!outcome.ok) return;

    this.#answered += 1;
    const tally = this.#workers.get(outcome.worker.podName ?? '');
    if (!tally) return;
    if (this.#lostWorker) tally.answeredAfter += 1;
    else tally.answeredBefore += 1;
    if (outcome.attempts.length > 1) tally.retriedHere += 1;
  }

  stopped(name: string): void {
    const tally = this.#workers.get(name);
    if (tally) tally.stoppedAfter = this.#answered;
    this.#lostWorker = true;
  }

  event(text: string): void {
    this.#events.push({ atMs: performance.now() - this.#startedAt, text });
  }

  draw(): void {
    const state: DemoState = {
      total: fragmentCount,
      answered: this.#answered,
      elapsedMs: performance.now() - this.#startedAt,
      workers: [...this.#workers.values()],
      events: this.#events,
      // If one worker of four dies at the start, each other can expect a third of the work.
      barMax: Math.ceil(fragmentCount / (this.#workers.size - 1)),
    };
    const lines = renderFrame(state);
    process.stdout.write(redraw(this.#linesDrawn, lines));
    this.#linesDrawn = lines.length;
  }
}

const discovery = new KubernetesWorkerDiscovery({
  env: { KUBECONFIG: await api.writeKubeConfig(join(dir, 'kubeconfig')) },
  namespace,
  labelSelector: 'app.kubernetes.io/component=query-worker',
  port: workers[0]!.port,
  // The fake workers listen on 127.0.0.1-4; real clusters never list loopback, so discovery
  // refuses it unless a demo or a test says so.
  addressPolicy: createAddressPolicy({ allowLoopback: true }),
});
const cache = new WorkerCache(discovery, { refreshIntervalMs: 500, minRefreshGapMs: 100 });
const dispatcher = new FragmentDispatcher(cache, {
  picker: (current) => createPicker('round-robin', current),
});

try {
  print('lakerunner demo: a fake Kubernetes API server and 4 fake workers on 127.0.0.1-4');
  const found = await cache.ready();
  print(`Discovered ${found.length} workers through a kubeconfig (${discovery.server}):`);
  for (const worker of found) print(`  ${worker.podName}  ${workerAddress(worker)}`);

  const fragments: Fragment[] = Array.from({ length: fragmentCount }, (_, index) => ({
    key: `segment-${index}`,
    path: '/api/v1/fragment',
    body: JSON.stringify({ segment: index, query: 'sum(bytes) by service' }),
    headers: { 'content-type': 'application/json' },
  }));
  print(`\nDispatching ${fragmentCount} fragments, round-robin, 16 at a time...`);

  // On a terminal, what happens goes into the live view; piped, it is printed as it happens.
  const tally = live ? new LiveTally(workers) : undefined;
  const say = (text: string): void => (tally ? tally.event(text) : print(`  ${text}`));
  const redrawing = tally ? setInterval(() => tally.draw(), 150) : undefined;

  const victim = workers[2]!;
  const outcomes: Outcome[] = [];
  for await (const outcome of dispatcher.fanOutStream(fragments, { concurrency: 16 })) {
    outcomes.push(outcome);
    tally?.count(outcome);
    if (outcomes.length === Math.floor(fragmentCount / 3)) {
      say(`after ${outcomes.length} answers: stopping ${victim.name} (connections now refused)`);
      tally?.stopped(victim.name);
      await victim.stop();
      setTimeout(() => {
        publish(api, workers, new Set([victim.name]));
        say(`${victim.name}'s endpoint turned not ready in its EndpointSlice`);
      }, 300).unref();
    }
  }
  clearInterval(redrawing);
  tally?.draw();

  const answered = outcomes.filter((outcome) => outcome.ok);
  const retried = outcomes.filter((outcome) => outcome.attempts.length > 1);
  if (!tally) {
    print('\nAnswers per worker:');
    for (const worker of workers) {
      const count = answered.filter((outcome) => outcome.worker.podName === worker.name).length;
      print(`  ${worker.name}  ${`${worker.host}:${worker.port}`.padEnd(16)} ${count}`);
    }
  }

  const failed = outcomes.length - answered.length;
  const lost = fragmentCount - outcomes.length;
  print(
    `\n${fragmentCount} fragments: ${answered.length} answered, ${failed} failed, ` +
      `${retried.length} retried on another worker, ${lost} lost.`,
  );
  process.exitCode = answered.length === fragmentCount ? 0 : 1;
} finally {
  await dispatcher.close();
  await cache.close();
  await Promise.all(workers.map((worker) => worker.stop()));
  await api.close();
  await rm(dir, { recursive: true, force: true });
}
