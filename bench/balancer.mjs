// Balancer benchmark: cost per pick against round-robin, table builds, balance, disruption.
// Run with `npm run bench:balancer` (builds first, then runs this file from dist/). It stops
// by itself: every timing loop is bounded by a time budget, every data pass by a key count.
// Prints a Markdown report and writes it to bench/results/balancer.md, with the same numbers
// in balancer.json for the charts. `--quick` (or BENCH_QUICK=1) scales everything down so
// the suite can be smoke-tested; a quick run writes to bench/results/quick/ instead.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { LoadTracker } from '../dist/balancer/load-tracker.js';
import { buildMaglevTable } from '../dist/balancer/maglev.js';
import { KeyHasher } from '../dist/balancer/key-hasher.js';
import { buildRing } from '../dist/balancer/ring.js';
import { createPicker } from '../dist/balancer/registry.js';
import { TableCache } from '../dist/balancer/table-cache.js';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const PICK_BUDGET_MS = Number(process.env.BENCH_PICK_MS ?? (QUICK ? 20 : 300));
const DATA_KEYS = Number(process.env.BENCH_KEYS ?? (QUICK ? 100_000 : 1_000_000));
// Rendezvous hashes every key against every worker: its two disruption passes use a sample,
// which keeps the run to a few minutes on two busy cores.
const RENDEZVOUS_DISRUPTION_KEYS =
  Number(process.env.BENCH_RENDEZVOUS_KEYS ?? (QUICK ? 10_000 : 200_000));
const RESULTS_DIR = new URL(QUICK ? './results/quick/' : './results/', import.meta.url);
const SIZES = [8, 64, 1024];
const DATA_WORKERS = 100;

/** The policies measured, as (label, policy, options-maker) rows. */
const VARIANTS = [
  ['round-robin', 'round-robin', () => ({})],
  ['rendezvous', 'rendezvous', () => ({})],
  ['maglev', 'maglev', () => ({})],
  ['ring', 'ring', () => ({})],
  ['ring, bounded c=1.25', 'ring', (tracker) => ({ tracker, loadFactor: 1.25 })],
  ['least-request', 'least-request', (tracker) => ({ tracker })],
  ['least-request, latency', 'least-request', (tracker) => ({ tracker, latencyWeighted: true })],
];

function workers(count) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${i.toString(16).padStart(8, '0')}-7c3d-4f00-9f00-1234567890ab`,
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 7101,
    state: 'ready',
  }));
}

function segmentKeys(count) {
  const org = '0190a9c2-5b5e-7c3d-9f00-1234567890ab';
  return Array.from({ length: count }, (_, i) => `${i * 7919}:${org}`);
}

/**
 * Milliseconds of CPU this process has used. Other work on a shared machine stretches wall
 * time but not this, so per-pick figures stay comparable between rows.
 */
function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Runs picks in batches until the CPU budget is spent; returns nanoseconds per pick. */
function nsPerPick(picker, keys) {
  let sink = 0;
  let picks = 0;
  let index = 0;

  // Warm up so the optimising compiler has seen the loop before timing starts.
  for (let i = 0; i < 2_000; i += 1) sink += picker.pick(keys[i % keys.length]).port;

  const started = cpuMs();
  let elapsed = 0;
  while (elapsed < PICK_BUDGET_MS) {
    for (let i = 0; i < 256; i += 1) {
      sink += picker.pick(keys[index]).port;
      index = index + 1 === keys.length ? 0 : index + 1;
    }
    picks += 256;
    elapsed = cpuMs() - started;
  }

  if (sink === -1) console.log('unreachable');
  return (elapsed * 1e6) / picks;
}

/** Progress on stderr, so a long run shows it is alive; the report goes to stdout. */
function progress(message) {
  process.stderr.write(`[bench:balancer] ${message}\n`);
}

function pickCosts() {
  const keys = segmentKeys(4096);
  const rows = [];

  for (const [label, policy, optionsFor] of VARIANTS) {
    const row = { label, ns: [] };
    progress(`pick cost: ${label}`);
    for (const size of SIZES) {
      const tracker = new LoadTracker();
      const set = workers(size);
      const options = { ...optionsFor(tracker), tableCache: new TableCache() };
      const picker = createPicker(policy, set, options);

      // Some requests in flight, so load-aware policies have counts to compare.
      set.forEach((worker, i) => {
        for (let n = 0; n < i % 4; n += 1) tracker.start(worker.id);
      });
      row.ns.push(nsPerPick(picker, keys));
    }
    rows.push(row);
  }

  const baseline = rows[0].ns;
  json.pickCost = {
    sizes: SIZES,
    rows: rows.map((row) => ({
      policy: row.label,
      nsPerPick: row.ns,
      ratioToRoundRobin: row.ns.map((ns, i) => ns / baseline[i]),
    })),
  };
  const header = `| policy | ${SIZES.map((s) => `${s} workers: ns/pick (× RR)`).join(' | ')} |`;
  const lines = [header, `|---|${SIZES.map(() => '---:').join('|')}|`];
  for (const row of rows) {
    const cells = row.ns.map((ns, i) => `${ns.toFixed(0)} (${(ns / baseline[i]).toFixed(1)}×)`);
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function tableBuilds() {
  const set = workers(1024);
  const identities = set.map((worker) => KeyHasher.bytes(worker.id));
  const maglevSize = createPicker('maglev', set, { tableCache: new TableCache() }).tableSize;
  const rows = [
    ['maglev', `size ${maglevSize}`, () => buildMaglevTable(identities, maglevSize)],
    ['ring', '160 virtual nodes each', () => buildRing(identities, 160)],
  ];

  const lines = [
    '| table (1,024 workers) | shape | build ms (median of 5) | bytes |',
    '|---|---|---:|---:|',
  ];
  for (const [name, shape, build] of rows) {
    progress(`table build: ${name}`);
    let table = build();
    const times = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      table = build();
      times.push(performance.now() - started);
    }
    lines.push(`| ${name} | ${shape} | ${median(times).toFixed(1)} | ${table.byteLength} |`);
    const bytes = table.byteLength;
    json.tableBuilds.push({ table: name, shape, buildMs: median(times), bytes });
  }
  return lines.join('\n');
}

function owners(picker, keys) {
  const result = new Array(keys.length);
  for (let i = 0; i < keys.length; i += 1) result[i] = picker.pick(keys[i]).id;
  return result;
}

function changedShare(before, after) {
  let moved = 0;
  for (let i = 0; i < before.length; i += 1) if (before[i] !== after[i]) moved += 1;
  return moved / before.length;
}

function dataFigures() {
  const keys = segmentKeys(DATA_KEYS);
  const set = workers(DATA_WORKERS + 1);
  const base = set.slice(0, DATA_WORKERS);
  const lines = [
    `| policy (${DATA_WORKERS} workers) | busiest / mean | quietest / mean | ` +
      'moved on removing 1 | moved on adding 1 | keys (balance / disruption) | seconds |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];

  for (const policy of ['rendezvous', 'maglev', 'ring']) {
    progress(`balance and disruption: ${policy}`);
    const started = performance.now();
    const cache = new TableCache();
    const before = owners(createPicker(policy, base, { tableCache: cache }), keys);
    const counts = new Map();
    for (const owner of before) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const mean = DATA_KEYS / DATA_WORKERS;
    const busiest = Math.max(...counts.values()) / mean;
    const quietest = Math.min(...counts.values()) / mean;

    // A worker that got no key at all is missing from the map; count it as zero.
    const perWorker = base.map((worker) => counts.get(worker.id) ?? 0);

    const sampleSize = policy === 'rendezvous' ? RENDEZVOUS_DISRUPTION_KEYS : DATA_KEYS;
    const sample = keys.slice(0, sampleSize);
    const sampleBefore = before.slice(0, sampleSize);
    const ownersWith = (members) =>
      owners(createPicker(policy, members, { tableCache: cache }), sample);
    const removed = changedShare(sampleBefore, ownersWith(base.slice(1)));
    const added = changedShare(sampleBefore, ownersWith(set));
    const seconds = (performance.now() - started) / 1000;
    json.balance.rows.push({
      policy,
      keysPerWorker: perWorker,
      busiestOverMean: busiest,
      quietestOverMean: quietest,
      movedOnRemove: removed,
      movedOnAdd: added,
      idealOnRemove: 1 / DATA_WORKERS,
      idealOnAdd: 1 / (DATA_WORKERS + 1),
      disruptionKeys: sampleSize,
      seconds,
    });

    lines.push(
      `| ${policy} | ${busiest.toFixed(3)} | ${quietest.toFixed(3)} | ` +
        `${(removed * 100).toFixed(2)}% (ideal ${(100 / DATA_WORKERS).toFixed(2)}%) | ` +
        `${(added * 100).toFixed(2)}% (ideal ${(100 / (DATA_WORKERS + 1)).toFixed(2)}%) | ` +
        `${DATA_KEYS.toLocaleString('en')} / ${sampleSize.toLocaleString('en')} | ` +
        `${seconds.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

/** The same numbers as the Markdown, for the charts in bench/run.ts. */
const json = {
  benchmark: 'balancer',
  quick: QUICK,
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown CPU',
  loadAverageAtStart: loadavg(),
  pickBudgetMs: PICK_BUDGET_MS,
  pickCost: undefined,
  tableBuilds: [],
  balance: { workers: DATA_WORKERS, keys: DATA_KEYS, rows: [] },
  totalSeconds: 0,
};

const started = performance.now();
const sections = [
  '# Balancer benchmark',
  '',
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
    `load average at start ${loadavg().map((n) => n.toFixed(1)).join(' / ')}. ` +
    'Timings are noisy on a shared machine: compare rows within one run, not across runs.',
  '',
  '## Cost per pick',
  '',
  'Keys are segment keys (`<id>:<org uuid>`, 38–45 bytes); each cell is the mean over ' +
    `${PICK_BUDGET_MS} ms of CPU time spent picking, and in brackets its ratio to ` +
    'round-robin in the same run. Worker ids are 36-character pod UIDs.',
  '',
  pickCosts(),
  '',
  '## Table builds',
  '',
  tableBuilds(),
  '',
  '## Balance and disruption',
  '',
  dataFigures(),
  '',
  `Total run time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  '',
];

const report = sections.join('\n');
console.log(report);
json.totalSeconds = (performance.now() - started) / 1000;
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(fileURLToPath(new URL('balancer.md', RESULTS_DIR)), report);
writeFileSync(
  fileURLToPath(new URL('balancer.json', RESULTS_DIR)),
  `${JSON.stringify(json, null, 2)}\n`,
);
