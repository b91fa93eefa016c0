import type { DispatchOptions } from './options.js';
import { positiveNumber } from './settings.js';

/** What every fragment of one call shares: its signals and deadline. */
export interface CallContext {
  readonly signal: AbortSignal;
  readonly caller: AbortSignal | undefined;
  readonly queryTimeout: AbortSignal | undefined;
  readonly queryTimeoutMs: number | undefined;
  readonly queryDeadlineAt: number;
  readonly cancel: AbortController;
  readonly streaming: boolean;
  /** False when the dispatcher was already closed as the call came in. */
  readonly admitted: boolean;
  /** Stops following the caller's signal, so a long-lived signal gathers no listeners. */
  readonly dispose: () => void;
  /** The fan-out's identity token on the diagnostics channels. */
  readonly fanOut: object | undefined;
}

/**
 * Builds the context of one call from its options. `admitted` is false when the dispatcher
 * was already closed as the call came in.
 */
export function createCallContext(
  options: DispatchOptions,
  streaming: boolean,
  admitted: boolean,
): CallContext {
  // One plain controller per call, fed by the caller's signal and the query deadline: a
  // composite AbortSignal.any costs a walk of its sources on every listener added, and
  // every request adds one.
  const cancel = new AbortController();
  const queryTimeout =
    options.timeoutMs === undefined
      ? undefined
      : AbortSignal.timeout(positiveNumber('timeoutMs', options.timeoutMs));
  const unfollow: Array<() => void> = [];
  for (const source of [options.signal, queryTimeout]) {
    if (!source) continue;
    if (source.aborted) cancel.abort(source.reason);
    const follow = (): void => cancel.abort(source.reason);
    source.addEventListener('abort', follow, { once: true });
    unfollow.push(() => source.removeEventListener('abort', follow));
  }

  return {
    signal: cancel.signal,
    caller: options.signal,
    queryTimeout,
    queryTimeoutMs: options.timeoutMs,
    queryDeadlineAt:
      options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs,
    cancel,
    streaming,
    admitted,
    dispose: () => {
      for (const remove of unfollow) remove();
    },
    fanOut: streaming ? undefined : {},
  };
}
