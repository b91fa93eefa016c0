import {
  addressPolicyFromEnv,
  allowedCidrsVariable,
  splitCidrs,
  type AddressPolicy,
} from '../discovery/address-policy.js';
import type { Environment } from '../config.js';

/** The flags' entries for `parseArgs`, shared by the Kubernetes and ECS commands. */
export const addressPolicyFlags = {
  'allow-loopback': { type: 'boolean' },
  'allowed-cidrs': { type: 'string' },
} as const;

/** The flags' help lines, shared by every command that lists cluster addresses. */
export const addressPolicyHelp =
  '  --allowed-cidrs=LIST            only admit worker addresses in these CIDR ranges,\n' +
  `                                  comma-separated (${allowedCidrsVariable}), e.g.\n` +
  '                                  10.244.0.0/16,fd00:10:244::/56\n' +
  '  --allow-loopback                admit 127.0.0.0/8 and ::1 worker addresses (local\n' +
  '                                  tests only; refused by default, like link-local,\n' +
  '                                  multicast and unspecified addresses)\n';

/**
 * The address policy the flags ask for, the allow-list falling back to `WORKER_ALLOWED_CIDRS`.
 * A bad range is a ConfigError that names the flag or the variable it came from.
 */
export function addressPolicyFromFlags(
  values: { 'allow-loopback'?: boolean | undefined; 'allowed-cidrs'?: string | undefined },
  env: Environment,
): AddressPolicy {
  const flag = values['allowed-cidrs'];
  return addressPolicyFromEnv(
    env,
    {
      allowLoopback: values['allow-loopback'] ?? false,
      allowedCidrs: flag === undefined ? undefined : splitCidrs(flag) ?? [],
    },
    flag === undefined ? allowedCidrsVariable : '--allowed-cidrs',
  );
}
