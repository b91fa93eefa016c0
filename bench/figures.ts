// Turns the benchmarks' JSON results into SVG charts. Pure: numbers in, (file, SVG) pairs
// out, so bench/run.ts only reads and writes files.
import { barChart, lineChart, type Series } from './charts.ts';

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The part of transport.json the charts read. */
export interface TransportResults {
  readonly throughput: {
    readonly clients: ReadonlyArray<{
      readonly name: string;
      readonly levels: ReadonlyArray<{
        readonly concurrency: number;
        readonly requestsPerSecond: Spread;
        readonly p99Ms: Spread;
      }>;
    }>;
  };
  readonly faults: ReadonlyArray<{
    readonly fault: string;
    readonly hedgeAfterMs: number | null;
    readonly finishMs: Spread;
  }>;
}

/** The part of balancer.json the charts read. */
export interface BalancerResults {
  readonly balance: {
    readonly workers: number;
    readonly keys: number;
    readonly rows: ReadonlyArray<{
      readonly policy: string;
      readonly keysPerWorker: readonly number[];
      readonly movedOnRemove: number;
      readonly movedOnAdd: number;
      readonly idealOnRemove: number;
    }>;
  };
}

export interface Figure {
  /** File name inside the results directory. */
  readonly file: string;
  /** What the chart shows, for the progress output. */
  readonly caption: string;
  readonly svg: string;
}

function perClient(
  results: TransportResults,
  measure: (level: TransportResults['throughput']['clients'][number]['levels'][number]) => Spread,
): Series[] {
  return results.throughput.clients.map((client) => ({
    name: client.name,
    points: client.levels.map((level) => [level.concurrency, measure(level).median] as const),
    ranges: client.levels.map((level) => [measure(level).min, measure(level).max] as const),
  }));
}

export function transportFigures(results: TransportResults): Figure[] {
  const concurrencies = results.throughput.clients[0]?.levels.map((l) => l.concurrency) ?? [];
  const faultLabels: Record<string, string> = {
    none: 'no fault',
    SIGKILL: 'one killed',
    SIGSTOP: 'one frozen',
  };
  const faults = [...new Set(results.faults.map((row) => row.fault))];
  const finish = (hedged: boolean): number[] => faults.map((fault) => {
    const row = results.faults.find((candidate) =>
      candidate.fault === fault && (candidate.hedgeAfterMs !== null) === hedged);
    return row ? row.finishMs.median : Number.NaN;
  });
  const hedgeMs = results.faults.find((row) => row.hedgeAfterMs !== null)?.hedgeAfterMs;

  return [
    {
      file: 'transport-throughput.svg',
      caption: 'fan-out throughput against concurrency (median, whiskers min–max)',
      svg: lineChart({
        title: 'Throughput, 4 loopback workers (median of repeats, min–max)',
        xLabel: 'requests in flight (concurrency)',
        yLabel: 'requests per second',
        logX: true,
        xTicks: concurrencies,
        series: perClient(results, (level) => level.requestsPerSecond),
      }),
    },
    {
      file: 'transport-p99.svg',
      caption: 'p99 latency against concurrency (median, whiskers min–max)',
      svg: lineChart({
        title: 'p99 latency, 4 loopback workers (median of repeats, min–max)',
        xLabel: 'requests in flight (concurrency)',
        yLabel: 'p99 latency, ms',
        logX: true,
        xTicks: concurrencies,
        series: perClient(results, (level) => level.p99Ms),
      }),
    },
    {
      file: 'transport-faults.svg',
      caption: 'time to finish a fan-out when one worker of eight is lost',
      svg: barChart({
        title: 'Fan-out of 8 workers, one lost a quarter of the way (median)',
        yLabel: 'time to finish, ms',
        categories: faults.map((fault) => faultLabels[fault] ?? fault),
        series: [
          { name: 'no hedging', values: finish(false) },
          { name: `hedge after ${hedgeMs ?? '?'} ms`, values: finish(true) },
        ],
      }),
    },
  ];
}

export function balancerFigures(results: BalancerResults): Figure[] {
  const { workers, keys, rows } = results.balance;
  const mean = keys / workers;

  // Sorted busiest first: a flat line at 1 is perfect balance, and the ends show the extremes.
  const distribution: Series[] = rows.map((row) => ({
    name: row.policy,
    points: [...row.keysPerWorker]
      .sort((a, b) => b - a)
      .map((count, rank) => [rank + 1, count / mean] as const),
  }));
  const lowest = Math.min(...distribution.flatMap((series) => series.points.map(([, y]) => y)));
  const ideal = rows[0]?.idealOnRemove ?? 1 / workers;

  return [
    {
      file: 'balancer-balance.svg',
      caption: 'keys per worker for each hashing policy, sorted, relative to the mean',
      svg: lineChart({
        title: `Keys per worker, ${keys.toLocaleString('en')} keys over ${workers} workers`,
        xLabel: 'workers, busiest first',
        yLabel: 'keys / mean keys per worker',
        yMin: Math.floor(Math.min(lowest, 1) * 10) / 10,
        xTicks: [1, workers / 4, workers / 2, (workers * 3) / 4, workers],
        series: [
          ...distribution,
          { name: 'perfect balance', points: [[1, 1], [workers, 1]], dashed: true },
        ],
      }),
    },
    {
      file: 'balancer-disruption.svg',
      caption: 'keys moved when a worker leaves or joins, against the ideal 1/n',
      svg: barChart({
        title: `Keys that change worker, ${workers} workers`,
        yLabel: 'keys moved, %',
        unit: '%',
        decimals: 2,
        categories: rows.map((row) => row.policy),
        series: [
          { name: 'one worker leaves', values: rows.map((row) => row.movedOnRemove * 100) },
          { name: 'one worker joins', values: rows.map((row) => row.movedOnAdd * 100) },
        ],
        reference: { name: `ideal 1/n = ${(ideal * 100).toFixed(2)}%`, value: ideal * 100 },
      }),
    },
  ];
}
