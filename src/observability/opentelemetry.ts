import type * as OpenTelemetry from '@opentelemetry/api';
import {
  channelNames,
  listen,
  type AttemptEndMessage,
  type AttemptStartMessage,
  type FanOutEndMessage,
  type FanOutStartMessage,
} from './channels.js';

/**
 * The `@opentelemetry/api` module (an optional peer dependency).
 *
 * @example
 * ```ts
 * import * as api from '@opentelemetry/api';
 * const otel: OpenTelemetryApi = api;
 * const stop = instrumentOpenTelemetry(otel);
 * ```
 */
export type OpenTelemetryApi = typeof OpenTelemetry;

/**
 * Options for {@link instrumentOpenTelemetry}.
 *
 * @example
 * ```ts
 * import * as api from '@opentelemetry/api';
 * const options: OpenTelemetryOptions = { tracer: api.trace.getTracer('query-coordinator') };
 * const stop = instrumentOpenTelemetry(api, options);
 * ```
 */
export interface OpenTelemetryOptions {
  /** The tracer to use. Default `api.trace.getTracer('lakerunner-discovery')`. */
  readonly tracer?: OpenTelemetry.Tracer | undefined;
}

/**
 * Traces fan-outs and attempts with OpenTelemetry: one span per fan-out, a child span per
 * attempt carrying the worker's address and the attempt number, and the trace context injected
 * into each request's headers (`traceparent`) through the globally configured propagator, so
 * workers continue the trace. Pass the `@opentelemetry/api` module itself. Returns a function
 * that stops tracing.
 *
 * @example
 * ```ts
 * import * as api from '@opentelemetry/api';
 * const stop = instrumentOpenTelemetry(api);
 * ```
 */
export function instrumentOpenTelemetry(
  api: OpenTelemetryApi,
  options: OpenTelemetryOptions = {},
): () => void {
  const tracer = options.tracer ?? api.trace.getTracer('lakerunner-discovery');
  const fanOuts = new WeakMap<object, OpenTelemetry.Span>();
  const attempts = new WeakMap<object, OpenTelemetry.Span>();

  const stops = [
    listen<FanOutStartMessage>(channelNames.fanOutStart, (message) => {
      const span = tracer.startSpan('lakerunner fan-out', {
        kind: api.SpanKind.INTERNAL,
        attributes: { 'lakerunner.fragments': message.fragments },
      });
      fanOuts.set(message.fanOut, span);
    }),
    listen<FanOutEndMessage>(channelNames.fanOutEnd, (message) => {
      const span = fanOuts.get(message.fanOut);
      if (span === undefined) return;
      span.setAttributes({
        'lakerunner.fragments.answered': message.answered,
        'lakerunner.fragments.failed': message.failed,
      });
      if (message.failed > 0) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
      fanOuts.delete(message.fanOut);
    }),
    listen<AttemptStartMessage>(channelNames.attemptStart, (message) => {
      const parentSpan = message.fanOut === undefined ? undefined : fanOuts.get(message.fanOut);
      const parent = parentSpan === undefined
        ? api.context.active()
        : api.trace.setSpan(api.context.active(), parentSpan);
      const span = tracer.startSpan(
        'lakerunner attempt',
        {
          kind: api.SpanKind.CLIENT,
          attributes: {
            'server.address': message.worker.ip,
            'server.port': message.worker.port,
            'lakerunner.worker.id': message.worker.id,
            'lakerunner.attempt': message.attemptNumber,
            'lakerunner.attempt.cause': message.cause,
            'lakerunner.fragment.index': message.fragmentIndex,
          },
        },
        parent,
      );
      attempts.set(message.attempt, span);
      api.propagation.inject(api.trace.setSpan(parent, span), message.headers);
    }),
    listen<AttemptEndMessage>(channelNames.attemptEnd, (message) => {
      const span = attempts.get(message.attempt);
      if (span === undefined) return;
      if (message.status !== undefined) {
        span.setAttribute('http.response.status_code', message.status);
      }
      span.setAttribute('lakerunner.attempt.result', message.result);
      if (message.result !== 'answered') {
        const description = message.error ?? message.result;
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: description });
      }
      span.end();
      attempts.delete(message.attempt);
    }),
  ];

  return () => {
    for (const stop of stops) stop();
  };
}
