/**
 * `node:diagnostics_channel` channels on which the SDK reports what it does. Tools subscribe
 * without configuring the SDK; the Prometheus and OpenTelemetry integrations are subscribers
 * too. Publishing costs next to nothing while nobody subscribes.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 * import { channelNames, type AttemptEndMessage } from 'lakerunner-discovery';
 *
 * diagnostics.subscribe(channelNames.attemptEnd, (message) => {
 *   const { worker, result } = message as AttemptEndMessage;
 *   console.log(worker.ip, result);
 * });
 * ```
 */
import diagnostics from 'node:diagnostics_channel';
import type { WorkerChange } from '../discovery/diff.js';
import type { Worker } from '../discovery/worker.js';
import type { AttemptResult, Outcome } from '../transport/fragment.js';

/**
 * The name of every channel, stable across releases.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 *
 * const onSync = (message: unknown): void => {
 *   const { source, ok } = message as DiscoverySyncMessage;
 *   console.log(source, ok ? 'synced' : 'sync failed');
 * };
 * diagnostics.subscribe(channelNames.discoverySync, onSync);
 * // ...and when done:
 * diagnostics.unsubscribe(channelNames.discoverySync, onSync);
 * ```
 */
export const channelNames = {
  discoverySync: 'lakerunner-discovery:discovery.sync',
  discoveryChange: 'lakerunner-discovery:discovery.change',
  fanOutStart: 'lakerunner-discovery:transport.fan-out.start',
  fanOutEnd: 'lakerunner-discovery:transport.fan-out.end',
  attemptStart: 'lakerunner-discovery:transport.attempt.start',
  attemptEnd: 'lakerunner-discovery:transport.attempt.end',
  fragmentEnd: 'lakerunner-discovery:transport.fragment.end',
  ejection: 'lakerunner-discovery:transport.ejection',
  retryBudgetExhausted: 'lakerunner-discovery:transport.retry-budget-exhausted',
} as const;

/**
 * A discovery fetch finished, well or badly.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.discoverySync, (message) => {
 *   const sync = message as DiscoverySyncMessage;
 *   if (!sync.ok) console.warn(`${sync.source} sync failed:`, sync.error?.message);
 *   else console.log(`${sync.source}: ${sync.workers} workers in ${sync.durationMs} ms`);
 * });
 * ```
 */
export interface DiscoverySyncMessage {
  /** The source's `kind`, such as `kubernetes`. */
  readonly source: string;
  readonly ok: boolean;
  /** Workers known after the sync (the kept set when it failed). */
  readonly workers: number;
  readonly durationMs: number;
  /** When it finished, in ms since the epoch. */
  readonly at: number;
  /** The failure, when `ok` is false. */
  readonly error?: Error | undefined;
}

/**
 * The worker set changed.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.discoveryChange, (message) => {
 *   const { source, change } = message as DiscoveryChangeMessage;
 *   console.log(`${source}: +${change.added.length} -${change.removed.length} workers`);
 * });
 * ```
 */
export interface DiscoveryChangeMessage {
  readonly source: string;
  readonly change: WorkerChange;
}

/**
 * A fan-out began; `fanOut` is an identity token shared by its other messages.
 *
 * @example
 * ```ts
 * const sizes = new WeakMap<object, number>();
 * diagnostics.subscribe(channelNames.fanOutStart, (message) => {
 *   const { fanOut, fragments } = message as FanOutStartMessage;
 *   sizes.set(fanOut, fragments);
 * });
 * ```
 */
export interface FanOutStartMessage {
  readonly fanOut: object;
  readonly fragments: number;
}

/**
 * A fan-out ended; every fragment has an outcome.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.fanOutEnd, (message) => {
 *   const { answered, failed, durationMs } = message as FanOutEndMessage;
 *   if (failed > 0) console.warn(`${failed} of ${answered + failed} fragments failed`);
 *   console.log(`fan-out took ${durationMs} ms`);
 * });
 * ```
 */
export interface FanOutEndMessage {
  readonly fanOut: object;
  readonly answered: number;
  readonly failed: number;
  readonly durationMs: number;
}

/**
 * An attempt is about to be sent. `headers` is the request's header object: a subscriber may
 * add to it (the OpenTelemetry integration adds `traceparent`), since publishing is synchronous.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.attemptStart, (message) => {
 *   const attempt = message as AttemptStartMessage;
 *   attempt.headers['x-attempt-number'] = String(attempt.attemptNumber);
 *   if (attempt.cause === 'hedge') console.log('hedging on', attempt.worker.id);
 * });
 * ```
 */
export interface AttemptStartMessage {
  /** An identity token shared with the matching {@link AttemptEndMessage}. */
  readonly attempt: object;
  readonly fanOut: object | undefined;
  readonly fragmentIndex: number;
  /** 1 for the first try of a fragment, 2 for the first retry or hedge, and so on. */
  readonly attemptNumber: number;
  readonly worker: Worker;
  /** Why this attempt exists: `first`, `retry` or `hedge`. */
  readonly cause: 'first' | 'retry' | 'hedge';
  /** For a retry, the token of the attempt it replaces, whose result says why. */
  readonly retryOf?: object | undefined;
  readonly headers: Record<string, string>;
}

/**
 * An attempt ended.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.attemptEnd, (message) => {
 *   const { worker, result, status, durationMs } = message as AttemptEndMessage;
 *   if (result !== 'answered') console.warn(worker.id, result, status, `${durationMs} ms`);
 * });
 * ```
 */
export interface AttemptEndMessage {
  readonly attempt: object;
  readonly worker: Worker;
  readonly attemptNumber: number;
  readonly result: AttemptResult;
  readonly status?: number | undefined;
  readonly durationMs: number;
  readonly error?: string | undefined;
}

/**
 * A fragment has its final outcome.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.fragmentEnd, (message) => {
 *   const { outcome, durationMs } = message as FragmentEndMessage;
 *   if (!outcome.ok) console.error(`fragment ${outcome.index} failed after ${durationMs} ms`);
 * });
 * ```
 */
export interface FragmentEndMessage {
  readonly fanOut: object | undefined;
  readonly outcome: Outcome;
  readonly durationMs: number;
}

/**
 * Passive health ejected a worker for a while.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.ejection, (message) => {
 *   const { worker, ejectedForMs, ejections } = message as EjectionMessage;
 *   console.warn(`ejected ${worker.id} for ${ejectedForMs} ms (ejection ${ejections})`);
 * });
 * ```
 */
export interface EjectionMessage {
  readonly worker: Worker;
  readonly ejectedForMs: number;
  readonly ejections: number;
}

/**
 * A retry was refused because the dispatcher-wide retry budget was spent.
 *
 * @example
 * ```ts
 * diagnostics.subscribe(channelNames.retryBudgetExhausted, (message) => {
 *   const { fragmentIndex, worker } = message as RetryBudgetExhaustedMessage;
 *   console.warn(`no retry for fragment ${fragmentIndex}; last worker ${worker?.id ?? 'none'}`);
 * });
 * ```
 */
export interface RetryBudgetExhaustedMessage {
  readonly fragmentIndex: number;
  readonly worker: Worker | undefined;
}

/** The channel objects, created once. */
export const channels = {
  discoverySync: diagnostics.channel(channelNames.discoverySync),
  discoveryChange: diagnostics.channel(channelNames.discoveryChange),
  fanOutStart: diagnostics.channel(channelNames.fanOutStart),
  fanOutEnd: diagnostics.channel(channelNames.fanOutEnd),
  attemptStart: diagnostics.channel(channelNames.attemptStart),
  attemptEnd: diagnostics.channel(channelNames.attemptEnd),
  fragmentEnd: diagnostics.channel(channelNames.fragmentEnd),
  ejection: diagnostics.channel(channelNames.ejection),
  retryBudgetExhausted: diagnostics.channel(channelNames.retryBudgetExhausted),
};

/** Publishes only when someone listens, so building the message costs nothing otherwise. */
export function publish<T extends object>(
  channel: diagnostics.Channel,
  build: () => T,
): void {
  if (channel.hasSubscribers) channel.publish(build());
}

/**
 * Subscribes `handler` to a channel and returns a function that unsubscribes it.
 * Handlers must not throw: diagnostics_channel reports a thrown error as uncaught.
 */
export function listen<T>(name: string, handler: (message: T) => void): () => void {
  const onMessage = (message: unknown): void => handler(message as T);
  diagnostics.subscribe(name, onMessage);
  return () => void diagnostics.unsubscribe(name, onMessage);
}
