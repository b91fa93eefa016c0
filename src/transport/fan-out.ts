import { AbortedError } from '../errors.js';
import type { CallContext } from './call-context.js';
import { publishFanOutEnd, publishFanOutStart } from './diagnostics.js';
import type { Fragment, Outcome } from './fragment.js';

/** A fan-out under way: `done` settles once every fragment has its outcome. */
export interface FanOutHandle {
  readonly done: Promise<void>;
  readonly cancel: (reason: Error) => void;
}

/** Starts a fan-out that reports each outcome to the callback as it comes. */
type StartFanOut = (onOutcome: (outcome: Outcome) => void) => FanOutHandle;

/** One fan-out: its fragments, its limit, and how to run one fragment. */
export interface FanOutPlan {
  readonly fragments: readonly Fragment[];
  /** Fragments in flight at once. */
  readonly concurrency: number;
  readonly context: CallContext;
  /** Cancel the rest as soon as one fragment has failed for good. */
  readonly failFast: boolean | undefined;
  /** Runs one fragment to its outcome; never rejects. */
  readonly runOne: (fragment: Fragment, index: number) => Promise<Outcome>;
  readonly onOutcome: (outcome: Outcome) => void;
  /** Called once the last outcome is in, after the call's context is disposed. */
  readonly onEnd: () => void;
}

/**
 * Runs fragments with at most `concurrency` at once, reporting each outcome as it comes. A
 * fragment starts as soon as another finishes, so one slow fragment never holds a batch.
 */
export function spread(plan: FanOutPlan): FanOutHandle {
  const { fragments: list, concurrency, context } = plan;
  const cancel = context.cancel;
  const fanOut = context.fanOut ?? {};
  const startedAt = performance.now();
  let answered = 0;
  publishFanOutStart(fanOut, list.length);

  let next = 0;
  let running = 0;
  let finished = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const settle = (outcome: Outcome): void => {
    running -= 1;
    finished += 1;
    if (outcome.ok) answered += 1;
    if (plan.failFast && !outcome.ok && !cancel.signal.aborted) {
      cancel.abort(new AbortedError(`fan-out cancelled: fragment ${outcome.index} failed`));
    }
    plan.onOutcome(outcome);
    if (finished === list.length) end();
    else launch();
  };
  const launch = (): void => {
    while (running < concurrency && next < list.length) {
      const index = next;
      next += 1;
      running += 1;
      void plan.runOne(list[index] as Fragment, index).then(settle);
    }
  };
  const end = (): void => {
    publishFanOutEnd(fanOut, list.length, answered, startedAt);
    context.dispose();
    plan.onEnd();
    resolveDone();
  };

  if (list.length === 0) end();
  else launch();
  return { done, cancel: (reason) => cancel.abort(reason) };
}

/** Runs a fan-out of `count` fragments and resolves with their outcomes in input order. */
export async function inOrder(count: number, start: StartFanOut): Promise<Outcome[]> {
  const outcomes = new Array<Outcome>(count);
  await start((outcome) => {
    outcomes[outcome.index] = outcome;
  }).done;
  return outcomes;
}

/**
 * Runs a fan-out of `count` fragments and yields each outcome as it completes. Leaving the
 * loop early cancels the fragments still running, and waits for them to end.
 */
export async function* asCompleted(
  count: number,
  start: StartFanOut,
): AsyncGenerator<Outcome, void, undefined> {
  const done: Outcome[] = [];
  let wake: (() => void) | undefined;
  const fanOut = start((outcome) => {
    done.push(outcome);
    wake?.();
  });

  let yielded = 0;
  try {
    while (yielded < count) {
      if (done.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const outcome = done.shift();
      if (!outcome) continue;
      yielded += 1;
      yield outcome;
    }
  } finally {
    if (yielded < count) fanOut.cancel(new AbortedError('fan-out consumer stopped'));
    await fanOut.done;
  }
}
