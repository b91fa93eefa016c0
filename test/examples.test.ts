import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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

// Each example is its own process and mostly waits on sockets, so they run side by side.
describe.concurrent('examples', () => {
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

  it('metrics.ts shows Prometheus metrics for a fan-out', async () => {
    const { stdout } = await runExample('metrics.ts');
    expect(stdout).toContain('lakerunner_fragments_total{outcome="answered"} 20');
    expect(stdout).toMatch(/lakerunner_picks_total\{worker="127\.0\.0\.1:\d+"\} 10/);
  });

  it('tracing.ts makes a fan-out span, attempt children and sends traceparent', async () => {
    const { stdout } = await runExample('tracing.ts');
    const trace = /lakerunner fan-out trace=([0-9a-f]{32}) parent=none/.exec(stdout)?.[1];
    expect(trace).toBeDefined();
    expect(stdout.match(/lakerunner attempt trace=/g)).toHaveLength(2);
    expect(stdout).toContain(`worker saw traceparent: 00-${trace}-`);
  });

  it('logging.ts logs structured JSON lines, naming the worker and why', async () => {
    const { stdout } = await runExample('logging.ts');
    const lines = stdout.trim().split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((line) => line['msg'] === 'worker ejected' && line['why'] === 'refused'))
      .toBe(true);
  });

  it('diagnostics.ts subscribes to channels by name', async () => {
    const { stdout } = await runExample('diagnostics.ts');
    expect(stdout).toContain('local: 1 added, 1 workers');
    expect(stdout.match(/attempt 1 on 127\.0\.0\.1:\d+: answered 200/g)).toHaveLength(2);
  });

  it('readme.ts is the README\'s first example, word for word, and it runs', async () => {
    const code = await readFile(join(root, 'examples', 'readme.ts'), 'utf8');
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
    const { stdout } = await runExample('readme.ts');
    expect(stdout).toBe('200 from 127.0.0.1\n');
  });
});
