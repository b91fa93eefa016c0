import { describe, expect, it } from 'vitest';
import { compareWorkers, workerAddress, workerOrigin } from '../src/discovery/worker.js';

describe('worker addresses', () => {
  it('brackets IPv6 addresses and leaves IPv4 alone', () => {
    expect(workerAddress({ ip: '10.0.0.7', port: 7101 })).toBe('10.0.0.7:7101');
    expect(workerAddress({ ip: 'fd00:10:244::7', port: 8080 })).toBe('[fd00:10:244::7]:8080');
    expect(workerOrigin({ ip: 'fd00:10:244::7', port: 8080 })).toBe('http://[fd00:10:244::7]:8080');
    expect(workerOrigin({ ip: '127.0.0.1', port: 443 }, 'https:')).toBe('https://127.0.0.1');
  });

  it('orders by IP compared as text, then by port', () => {
    const a = { id: 'a', ip: '10.0.0.10', port: 2, state: 'ready' as const };
    const b = { id: 'b', ip: '10.0.0.9', port: 1, state: 'ready' as const };
    const c = { id: 'c', ip: '10.0.0.9', port: 3, state: 'ready' as const };
    expect([c, b, a].sort(compareWorkers).map((w) => w.id)).toEqual(['a', 'b', 'c']);
  });
});
