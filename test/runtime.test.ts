import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The Node major this run is meant for: CI's Node 22 leg says so; otherwise the pinned one. */
function expectedMajor(): number {
  const fromCi = process.env['LAKERUNNER_EXPECT_NODE_MAJOR'];
  if (fromCi !== undefined) return Number(fromCi);

  const manifest = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'),
  ) as { devDependencies: Record<string, string> };
  return Number(/\d+/.exec(manifest.devDependencies['node'] ?? '')?.[0]);
}

describe('runtime', () => {
  it('runs on the Node.js line this leg intends', () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(expectedMajor());
  });

  it('is a supported Node.js (engines >=22.19)', () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    expect(major > 22 || (major === 22 && minor >= 19)).toBe(true);
  });
});
