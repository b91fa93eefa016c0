// OpenTelemetry in a few lines: one span per fan-out, one per attempt, and `traceparent`
// sent to the workers. Runs against a fake worker on loopback:
// `npm run build && npx node examples/tracing.ts`.
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  FragmentDispatcher,
  instrumentOpenTelemetry,
  StaticWorkerDiscovery,
  WorkerCache,
} from 'lakerunner-discovery';
import { FakeWorker } from 'lakerunner-discovery/testing';

// The usual SDK set-up, done once per process by the application.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
api.trace.setGlobalTracerProvider(provider);

// The one line this SDK needs.
const stopTracing = instrumentOpenTelemetry(api);

const seen: string[] = [];
const worker = await FakeWorker.start({
  handler: (request) => {
    seen.push(String(request.headers['traceparent']));
    return { body: 'ok' };
  },
});
const cache = new WorkerCache(new StaticWorkerDiscovery([`127.0.0.1:${worker.port}`]));
const dispatcher = new FragmentDispatcher(cache, { picker: 'round-robin' });
await cache.ready();
await dispatcher.fanOut([{ path: '/query', body: 'a' }, { path: '/query', body: 'b' }]);

for (const span of exporter.getFinishedSpans()) {
  const parent = span.parentSpanContext?.spanId ?? 'none';
  console.log(`${span.name} trace=${span.spanContext().traceId} parent=${parent}`);
}
console.log(`worker saw traceparent: ${seen.join(', ')}`);

stopTracing();
await dispatcher.close();
await cache.close();
await worker.stop();
