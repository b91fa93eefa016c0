import type { Worker } from '../discovery/worker.js';

/**
 * Answers "which worker for this fragment" from an immutable snapshot of the worker set.
 * When the set changes, a new picker is built; a pick never walks mutable shared state
 * other than live load counters.
 *
 * @example
 * ```ts
 * const picker = createPicker('rendezvous', workers);
 * const owner = picker.pick('segment-42');
 * const [first, second] = picker.pickN('segment-42', 2);
 * ```
 */
export interface Picker {
  /** The policy's registered name, such as `round-robin` or `rendezvous`. */
  readonly policy: string;
  /**
   * `false` for policies that ignore keys (round-robin, least-request): the dispatcher then
   * spreads a retry by asking the policy again instead of walking the key's fallback order.
   * Absent means the policy places keys.
   */
  readonly usesKey?: boolean;
  /** The workers this picker was built from, in a stable order. */
  readonly workers: readonly Worker[];
  /** One worker for `key` (policies without keys ignore it); `undefined` when there are none. */
  pick(key?: string): Worker | undefined;
  /**
   * Up to `n` distinct workers, best first: the fallback order for retries and hedging.
   * Removing the first choice from the set makes the second the new first.
   */
  pickN(key: string | undefined, n: number): Worker[];
  /** The placement of a batch of keys, worker id → keys, computed in one pass. */
  assign(keys: Iterable<string>): Map<string, string[]>;
}
