import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** Runs a file from examples/ with this Node, as `npm run demo` would; it must exit by itself. */
async function runExample(name: string): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join(root, 'examples', name)], {
    cwd: root,
    timeout: 60_000,
    env: { PATH: process.env['PATH'] ?? '' },
  });
}

describe('examples', () => {
  it('coordinator.ts discovers the fake workers and prints an outcome per segment', async () => {
    const { stdout } = await runExample('coordinator.ts');
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line).toMatch(/^segment 10\d: 200 from 127\.0\.0\.[12]:\d+$/);
  });

  it('the demo answers every fragment although a worker dies, and exits 0', async () => {
    const { stdout } = await runExample('demo.ts');
    expect(stdout).toContain('Discovered 4 workers through a kubeconfig');
    expect(stdout).toContain('stopping query-worker-2');
    expect(stdout).toMatch(/400 fragments: 400 answered, 0 failed, \d+ retried .*, 0 lost\./);
  });
});
