import { ConfigError } from '../errors.js';
import type { Worker } from '../discovery/worker.js';
import type { PickerOptions } from './options.js';
import type { Picker } from './picker.js';
import { LeastRequestPicker } from './least-request.js';
import { MaglevPicker } from './maglev.js';
import { RendezvousPicker } from './rendezvous.js';
import { RingPicker } from './ring.js';
import { RoundRobinPicker } from './round-robin.js';

/**
 * Builds a picker of one policy from a worker set.
 *
 * @example
 * ```ts
 * const pinnedRendezvous: PickerFactory = (workers, options) =>
 *   new RendezvousPicker(workers, { ...options, identity: 'pod-name' });
 * registerPolicy('rendezvous-by-pod', pinnedRendezvous);
 * ```
 */
export type PickerFactory = (workers: readonly Worker[], options: PickerOptions) => Picker;

// One line per policy: a new policy is a new file and a line here.
const factories = new Map<string, PickerFactory>([
  [RoundRobinPicker.policy, (workers, options) => new RoundRobinPicker(workers, options)],
  [RendezvousPicker.policy, (workers, options) => new RendezvousPicker(workers, options)],
  [MaglevPicker.policy, (workers, options) => new MaglevPicker(workers, options)],
  [RingPicker.policy, (workers, options) => new RingPicker(workers, options)],
  [LeastRequestPicker.policy, (workers, options) => new LeastRequestPicker(workers, options)],
]);

/**
 * Makes a policy available to {@link createPicker} under `name`.
 *
 * @throws ConfigError when `name` is already registered
 * @example
 * ```ts
 * registerPolicy('first', (workers) => new FirstWorkerPicker(workers));
 * ```
 */
export function registerPolicy(name: string, factory: PickerFactory): void {
  if (factories.has(name)) {
    throw new ConfigError('policy', `policy ${JSON.stringify(name)} is already registered`);
  }
  factories.set(name, factory);
}

/**
 * The registered policy names, such as `round-robin` and `rendezvous`.
 *
 * @example
 * ```ts
 * policyNames(); // ['round-robin', 'rendezvous', …]
 * ```
 */
export function policyNames(): string[] {
  return [...factories.keys()];
}

/**
 * Builds a picker for `workers` with the policy registered as `policy`.
 *
 * @throws ConfigError naming the `policy` option and listing the valid names when the policy
 *   is unknown, or naming another option when its value is invalid
 * @example
 * ```ts
 * const picker = createPicker('rendezvous', workers, { identity: 'pod-name' });
 * const owner = picker.pick(segmentKey(42, orgId));
 * ```
 */
export function createPicker(
  policy: string,
  workers: readonly Worker[],
  options: PickerOptions = {},
): Picker {
  const factory = factories.get(policy);

  if (factory === undefined) {
    throw new ConfigError(
      'policy',
      `policy ${JSON.stringify(policy)} is unknown; valid policies: ${policyNames().join(', ')}`,
    );
  }

  return factory(workers, options);
}
