import type * as EcsSdkModule from '@aws-sdk/client-ecs';
import { DiscoveryError } from '../errors.js';

/**
 * The `@aws-sdk/client-ecs` module. Only this internal file names the SDK's types, so the
 * package's public declarations still compile for users who never install it.
 *
 * @example
 * ```ts
 * const sdk: EcsSdk = await loadEcsSdk();
 * ```
 */
export type EcsSdk = typeof EcsSdkModule;

const sdkPackage = '@aws-sdk/client-ecs';

/**
 * Loads `@aws-sdk/client-ecs` on first use (it is an optional peer dependency), turning "not
 * installed" into an error that says how to add it.
 *
 * @param importer - How to load it; replaced in tests to play a missing package.
 *
 * @example
 * ```ts
 * const { ECSClient } = await loadEcsSdk();
 * ```
 */
export async function loadEcsSdk(
  importer: () => Promise<EcsSdk> = () => import('@aws-sdk/client-ecs'),
): Promise<EcsSdk> {
  try {
    return await importer();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const text = err instanceof Error ? err.message : String(err);
    if (code === 'ERR_MODULE_NOT_FOUND' && text.includes(sdkPackage)) {
      throw new DiscoveryError(
        'config',
        `ECS discovery needs the optional package ${sdkPackage}, which is not installed; ` +
          `add it with \`npm install ${sdkPackage}\` (or choose another ` +
          'EXECUTION_ENVIRONMENT)',
      );
    }

    throw new DiscoveryError('config', `${sdkPackage} is installed but failed to load: ${text}`);
  }
}
