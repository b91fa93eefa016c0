import { FragmentFailedError } from '../../src/transport/errors.js';
import type { Outcome } from '../../src/transport/fragment.js';

/** The error of a failed outcome; an answer, or an error of another kind, fails the test. */
export function failure(outcome: Outcome | undefined): FragmentFailedError {
  if (!outcome || outcome.ok) throw new Error('expected a failed outcome');
  if (!(outcome.error instanceof FragmentFailedError)) throw outcome.error;
  return outcome.error;
}

/** The id of the worker that answered; a failed outcome fails the test. */
export function answeredBy(outcome: Outcome | undefined): string {
  if (!outcome?.ok) throw new Error(`expected an answer, got ${String(outcome?.error)}`);
  return outcome.worker.id;
}
