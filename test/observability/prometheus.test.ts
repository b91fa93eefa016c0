import { afterEach, describe, expect, it } from 'vitest';
import * as promClient from 'prom-client';
import { channels } from '../../src/observability/channels.js';
import { instrumentPrometheus } from '../../src/observability/prometheus.js';
import { DiscoveryError } from '../../src/errors.js';
import type { Worker } from '../../src/discovery/worker.js';

const worker: Worker = { id: 'w1', ip: '10.0.0.1', port: 7101, state: 'ready' };
let stop: (() => void) | undefined;

afterEach(() => stop?.());

describe('instrumentPrometheus', () => {
  it('turns channel messages into metrics with Prometheus names and labels', async () => {
    const registry = new promClient.Registry();
    stop = instrumentPrometheus(promClient, { registry });

    channels.discoverySync.publish({ source: 'kubernetes', ok: true, workers: 1,
      durationMs: 5, at: Date.now() - 2_000 });
    channels.discoverySync.publish({ source: 'kubernetes', ok: false, workers: 1, durationMs: 5,
      at: Date.now(), error: new DiscoveryError('forbidden', 'no') });
    channels.discoveryChange.publish({ source: 'kubernetes', change: {
      added: [worker], removed: [], updated: [],
      workers: [worker, { ...worker, id: 'w2', state: 'draining' }],
    } });
    const first = {};
    channels.attemptStart.publish({ attempt: first, fanOut: undefined, fragmentIndex: 0,
      attemptNumber: 1, worker, cause: 'first', headers: {} });
    channels.attemptEnd.publish({ attempt: first, worker, attemptNumber: 1, result: 'refused',
      durationMs: 3 });
    channels.attemptStart.publish({ attempt: {}, fanOut: undefined, fragmentIndex: 0,
      attemptNumber: 2, worker, cause: 'retry', retryOf: first, headers: {} });
    channels.ejection.publish({ worker, ejectedForMs: 30_000, ejections: 1 });
    channels.retryBudgetExhausted.publish({ fragmentIndex: 0, worker });

    const text = await registry.metrics();
    expect(text).toContain(
      'lakerunner_discovery_syncs_total' +
        '{source="kubernetes",result="success"} 1',
    );
    expect(text).toContain(
      'lakerunner_discovery_errors_total' +
        '{source="kubernetes",reason="forbidden"} 1',
    );
    expect(text).toContain(
      'lakerunner_discovery_workers' +
        '{source="kubernetes",state="ready"} 1',
    );
    expect(text).toContain(
      'lakerunner_discovery_workers' +
        '{source="kubernetes",state="draining"} 1',
    );
    const ageLine = /lakerunner_discovery_last_sync_age_seconds\{source="kubernetes"\} [2-9]/;
    expect(text).toMatch(ageLine);
    expect(text).toContain('lakerunner_picks_total{worker="10.0.0.1:7101"} 2');
    expect(text).toContain('lakerunner_attempts_total{result="refused"} 1');
    expect(text).toContain('lakerunner_retries_total{reason="refused"} 1');
    expect(text).toContain('lakerunner_worker_ejections_total 1');
    expect(text).toContain('lakerunner_retry_budget_exhausted_total 1');
    expect(text).toContain(
      'lakerunner_request_duration_seconds_bucket' +
        '{le="0.005",result="refused"} 1',
    );
  });

  it('stops counting once stopped', async () => {
    const registry = new promClient.Registry();
    instrumentPrometheus(promClient, { registry })();
    channels.ejection.publish({ worker, ejectedForMs: 1, ejections: 1 });
    expect(await registry.metrics()).toContain('lakerunner_worker_ejections_total 0');
  });
});
