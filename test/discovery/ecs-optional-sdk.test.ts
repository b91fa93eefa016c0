import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Runs the built package in a child Node process where `@aws-sdk/*` cannot be resolved, as
 * for a Kubernetes user who never installed the optional peer. `npm test` builds `dist/` first.
 */
const script = `
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('@aws-sdk/')) {
      const error = new Error("Cannot find package '" + specifier + "' imported from test");
      error.code = 'ERR_MODULE_NOT_FOUND';
      throw error;
    }
    return next(specifier, context);
  },
});

const lib = await import(process.argv[1]);
const local = await new lib.StaticWorkerDiscovery(['127.0.0.1:7101']).getWorkers();
const ecs = new lib.EcsWorkerDiscovery({
  cluster: 'lakerunner',
  service: 'query-worker',
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9',
  credentials: { accessKeyId: 'AKIDFAKEECSTEST', secretAccessKey: 'fake-secret-for-tests' },
});
const error = await ecs.getWorkers().then(() => undefined, (caught) => caught);
console.log(JSON.stringify({
  local: local.length,
  name: error?.name,
  reason: error?.reason,
  message: error?.message,
}));
`;

describe('the optional @aws-sdk/client-ecs peer', () => {
  it('is not needed to load the package, and its absence says how to install it', async () => {
    const index = new URL('../../dist/index.js', import.meta.url).href;
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '--eval', script, index],
      { env: { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true' } },
    );

    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ local: 1, name: 'DiscoveryError', reason: 'config' });
    expect(result.message).toContain('npm install @aws-sdk/client-ecs');
  });
});
