import type * as PromClient from 'prom-client';
import { workerAddress } from '../discovery/worker.js';
import { DiscoveryError } from '../errors.js';
import {
  channelNames,
  listen,
  type AttemptEndMessage,
  type AttemptStartMessage,
  type DiscoveryChangeMessage,
  type DiscoverySyncMessage,
  type EjectionMessage,
  type FragmentEndMessage,
} from './channels.js';

/**
 * The `prom-client` module (an optional peer dependency).
 *
 * @example
 * ```ts
 * import * as promClient from 'prom-client';
 * const client: PromClientLike = promClient;
 * const stop = instrumentPrometheus(client);
 * ```
 */
export type PromClientLike = Pick<typeof PromClient, 'Counter' | 'Gauge' | 'Histogram'>;

/**
 * Options for {@link instrumentPrometheus}.
 *
 * @example
 * ```ts
 * import * as promClient from 'prom-client';
 * const registry = new promClient.Registry();
 * const options: PrometheusOptions = {
 *   registry,
 *   prefix: 'coordinator_',
 *   buckets: [0.01, 0.1, 1],
 * };
 * const stop = instrumentPrometheus(promClient, options);
 * ```
 */
export interface PrometheusOptions {
  /** The registry to add metrics to; default prom-client's global registry. */
  readonly registry?: PromClient.Registry | undefined;
  /** Prefix for every metric name. Default `lakerunner_`. */
  readonly prefix?: string | undefined;
  /** Latency histogram buckets, in seconds. */
  readonly buckets?: number[] | undefined;
}

/**
 * Publishes the SDK's activity as Prometheus metrics, by subscribing to its diagnostics
 * channels. Pass the `prom-client` module itself, so that your copy (and its registry) is the
 * one used. Returns a function that stops updating the metrics.
 *
 * Metrics (with the default prefix): `lakerunner_discovery_workers{source,state}`,
 * `lakerunner_discovery_syncs_total{source,result}`,
 * `lakerunner_discovery_errors_total{source,reason}`,
 * `lakerunner_discovery_last_sync_age_seconds{source}`, `lakerunner_picks_total{worker}`,
 * `lakerunner_fragments_total{outcome}`, `lakerunner_attempts_total{result}`,
 * `lakerunner_retries_total{reason}`, `lakerunner_worker_ejections_total`,
 * `lakerunner_retry_budget_exhausted_total` and `lakerunner_request_duration_seconds{result}`.
 *
 * @example
 * ```ts
 * import * as promClient from 'prom-client';
 * const stop = instrumentPrometheus(promClient, { registry: promClient.register });
 * ```
 */
export function instrumentPrometheus(
  client: PromClientLike,
  options: PrometheusOptions = {},
): () => void {
  const prefix = options.prefix ?? 'lakerunner_';
  const registers = options.registry === undefined ? undefined : [options.registry];
  const base = (name: string, help: string, labelNames: string[] = []) => ({
    name: `${prefix}${name}`,
    help,
    labelNames,
    ...(registers ? { registers } : {}),
  });
  const lastSync = new Map<string, number>();

  const workers = new client.Gauge(base('discovery_workers', 'Workers known, by state',
    ['source', 'state']));
  const syncs = new client.Counter(base('discovery_syncs_total', 'Discovery fetches',
    ['source', 'result']));
  const discoveryErrors = new client.Counter(base('discovery_errors_total',
    'Failed discovery fetches, by reason', ['source', 'reason']));
  // Registered by its constructor; read only when the registry is scraped.
  new client.Gauge({
    ...base('discovery_last_sync_age_seconds', 'Seconds since the last good discovery sync',
      ['source']),
    collect(this: PromClient.Gauge) {
      for (const [source, at] of lastSync) this.set({ source }, (Date.now() - at) / 1000);
    },
  });
  const picks = new client.Counter(base('picks_total', 'Attempts sent, by worker', ['worker']));
  const fragments = new client.Counter(base('fragments_total', 'Fragments finished, by outcome',
    ['outcome']));
  const attempts = new client.Counter(base('attempts_total', 'Attempts finished, by result',
    ['result']));
  const retries = new client.Counter(base('retries_total', 'Retries and hedges, by reason',
    ['reason']));
  const ejections = new client.Counter(base('worker_ejections_total',
    'Workers ejected by passive health checks'));
  const exhausted = new client.Counter(base('retry_budget_exhausted_total',
    'Retries refused because the retry budget was spent'));
  const latency = new client.Histogram({
    ...base('request_duration_seconds', 'Attempt latency', ['result']),
    buckets: options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });

  /** Why each attempt was retried: the result of the attempt before it. */
  const lastResult = new WeakMap<object, string>();

  const stops = [
    listen<DiscoverySyncMessage>(channelNames.discoverySync, (message) => {
      syncs.inc({ source: message.source, result: message.ok ? 'success' : 'error' });
      if (message.ok) lastSync.set(message.source, message.at);
      else {
        const reason = message.error instanceof DiscoveryError ? message.error.reason : 'other';
        discoveryErrors.inc({ source: message.source, reason });
      }
    }),
    listen<DiscoveryChangeMessage>(channelNames.discoveryChange, ({ source, change }) => {
      const ready = change.workers.filter((worker) => worker.state === 'ready').length;
      workers.set({ source, state: 'ready' }, ready);
      workers.set({ source, state: 'draining' }, change.workers.length - ready);
    }),
    listen<AttemptStartMessage>(channelNames.attemptStart, (message) => {
      picks.inc({ worker: workerAddress(message.worker) });
      if (message.cause !== 'first') {
        retries.inc({ reason: message.cause === 'hedge' ? 'hedge' : retryReason(message) });
      }
    }),
    listen<AttemptEndMessage>(channelNames.attemptEnd, (message) => {
      attempts.inc({ result: message.result });
      latency.observe({ result: message.result }, message.durationMs / 1000);
      lastResult.set(message.attempt, message.result);
    }),
    listen<FragmentEndMessage>(channelNames.fragmentEnd, ({ outcome }) => {
      fragments.inc({ outcome: outcome.ok ? 'answered' : 'failed' });
    }),
    listen<EjectionMessage>(channelNames.ejection, () => ejections.inc({})),
    listen(channelNames.retryBudgetExhausted, () => exhausted.inc({})),
  ];

  function retryReason(message: AttemptStartMessage): string {
    return message.retryOf === undefined ? 'retry' : (lastResult.get(message.retryOf) ?? 'retry');
  }

  return () => {
    for (const stop of stops) stop();
  };
}
