import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../src/observability/channels.js';
import { instrumentOpenTelemetry } from '../../src/observability/opentelemetry.js';
import type { Worker } from '../../src/discovery/worker.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const worker: Worker = { id: 'w1', ip: '10.0.0.1', port: 7101, state: 'ready' };
let stop: () => void;

beforeAll(() => {
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  stop = instrumentOpenTelemetry(api, { tracer: provider.getTracer('test') });
});

afterAll(() => {
  stop();
  api.context.disable();
  api.propagation.disable();
});

describe('instrumentOpenTelemetry', () => {
  it('makes a fan-out span with attempt children and injects traceparent', () => {
    const fanOut = {};
    const attempt = {};
    const headers: Record<string, string> = {};

    channels.fanOutStart.publish({ fanOut, fragments: 1 });
    channels.attemptStart.publish({ attempt, fanOut, fragmentIndex: 0, attemptNumber: 1, worker,
      cause: 'first', headers });
    channels.attemptEnd.publish({ attempt, worker, attemptNumber: 1, result: 'answered',
      status: 200, durationMs: 4 });
    channels.fanOutEnd.publish({ fanOut, answered: 1, failed: 0, durationMs: 5 });

    const spans = exporter.getFinishedSpans();
    const parent = spans.find((span) => span.name === 'lakerunner fan-out');
    const child = spans.find((span) => span.name === 'lakerunner attempt');
    expect(parent).toBeDefined();
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(child?.attributes).toMatchObject({
      'server.address': '10.0.0.1',
      'server.port': 7101,
      'lakerunner.attempt': 1,
      'http.response.status_code': 200,
    });
    expect(headers['traceparent']).toBe(
      `00-${child?.spanContext().traceId}-${child?.spanContext().spanId}-01`,
    );
  });
});
