// `npm run bench`: runs the balancer, transport and discovery benchmarks one after another,
// each in its own process so one's heap and timers cannot disturb the next, then draws the
// charts from their JSON results. Every stage has a time limit, so the run stops by itself.
//
//   npm run bench                 full run, results in bench/results/
//   npm run bench -- --quick      smaller counts, results in bench/results/quick/
//   npm run bench -- --charts     only redraw the charts from existing JSON results
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  balancerFigures,
  transportFigures,
  type BalancerResults,
  type Figure,
  type TransportResults,
} from './figures.ts';

interface Stage {
  readonly name: string;
  readonly args: readonly string[];
  /** Generous limits: the full stages take about 150, 100–190 and 60 seconds on two cores. */
  readonly limitMs: number;
}

const stages: readonly Stage[] = [
  { name: 'balancer', args: ['bench/balancer.mjs'], limitMs: 300_000 },
  { name: 'transport', args: ['bench/transport.ts'], limitMs: 270_000 },
  { name: 'discovery', args: ['--expose-gc', 'bench/discovery.js'], limitMs: 180_000 },
];

const quick = process.argv.includes('--quick');
const chartsOnly = process.argv.includes('--charts');
const root = new URL('../', import.meta.url);
const resultsDir = new URL(quick ? 'bench/results/quick/' : 'bench/results/', root);
const live = process.stdout.isTTY === true;
const print = (line = ''): void => void process.stdout.write(`${line}\n`);

function seconds(fromMs: number): string {
  return `${((performance.now() - fromMs) / 1000).toFixed(0)} s`;
}

/** Redraws one status line in place on a terminal; elsewhere, status goes out as lines. */
function statusLine(text: string): void {
  const columns = process.stdout.columns || 100;
  process.stdout.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
}

function clearStatus(): void {
  if (live) process.stdout.write('\r\x1b[2K');
}

interface StageResult {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Runs one benchmark as a child of this Node. Its stdout (the report) is kept only to show
 * on failure; its stderr carries progress lines, which become the status.
 */
function runStage(stage: Stage, index: number): Promise<StageResult> {
  const startedAt = performance.now();
  const label = `[${index + 1}/${stages.length}] ${stage.name}`;
  const args = [...stage.args, ...(quick ? ['--quick'] : [])];
  const child = spawn(process.execPath, args, {
    cwd: fileURLToPath(root),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let latest = 'starting';
  let output = '';
  let pending = '';

  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-20_000);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-20_000);
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter((text) => text.trim() !== '')) {
      latest = line.replace(/^\[bench:\w+\] /, '');
      if (!live) print(`  ${label} +${seconds(startedAt)}: ${latest}`);
    }
  });

  const ticker = live
    ? setInterval(() => statusLine(`${label}  ${seconds(startedAt)}  ${latest}`), 250)
    : undefined;

  // A stage that overruns is stopped, politely first; the run goes on with the next one.
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  }, stage.limitMs);

  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(ticker);
      clearTimeout(limit);
      clearStatus();
      const ok = code === 0 && !timedOut;
      const why = timedOut ? `stopped after ${stage.limitMs / 1000} s` : `exit ${code ?? signal}`;
      const took = `${label} in ${seconds(startedAt)}`;
      print(ok ? `done   ${took}` : `FAILED ${took} (${why})`);
      resolve({ ok, detail: output });
    });
  });
}

async function readJson<T>(name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(new URL(name, resultsDir), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Draws every chart whose JSON exists; returns the files written. */
async function drawCharts(): Promise<Figure[]> {
  const transport = await readJson<TransportResults>('transport.json');
  const balancer = await readJson<BalancerResults>('balancer.json');
  const figures = [
    ...(transport ? transportFigures(transport) : []),
    ...(balancer ? balancerFigures(balancer) : []),
  ];
  for (const figure of figures) await writeFile(new URL(figure.file, resultsDir), figure.svg);
  return figures;
}

const startedAt = performance.now();
const failures: string[] = [];

if (!chartsOnly) {
  print(`lakerunner benchmarks${quick ? ' (quick)' : ''}: ${stages.length} stages, ` +
    'all traffic on 127.0.0.1');
  for (const [index, stage] of stages.entries()) {
    const result = await runStage(stage, index);
    if (!result.ok) {
      failures.push(stage.name);
      process.stderr.write(`--- last output of ${stage.name} ---\n${result.detail}\n`);
    }
  }
}

const figures = await drawCharts();
const where = fileURLToPath(resultsDir);
print();
print(`Results in ${where} (after ${seconds(startedAt)}):`);
for (const stage of stages) print(`  ${stage.name}.md, ${stage.name}.json`);
for (const figure of figures) print(`  ${figure.file.padEnd(26)} ${figure.caption}`);
if (failures.length > 0) {
  print(`Failed: ${failures.join(', ')}; their files may be from an earlier run.`);
  process.exitCode = 1;
}
