import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createPicker, policyNames, registerPolicy } from '../../src/balancer/registry.js';
import { makeWorkers } from './helpers.js';

describe('policy registry', () => {
  it('builds registered policies by name', () => {
    for (const name of policyNames()) {
      expect(createPicker(name, makeWorkers(3)).policy).toBe(name);
    }
  });

  it('rejects an unknown policy with a ConfigError naming the option and the valid names', () => {
    let error: unknown;
    try {
      createPicker('random-ish', makeWorkers(3));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('policy');
    expect((error as ConfigError).message).toContain('random-ish');
    expect((error as ConfigError).message).toContain('round-robin, rendezvous');
  });

  it('takes a new policy with one registration', () => {
    registerPolicy('test-first', (workers) => createPicker('round-robin', workers.slice(0, 1)));
    expect(createPicker('test-first', makeWorkers(3)).pick()?.id).toBe('w0');
    expect(() => registerPolicy('test-first', () => createPicker('round-robin', []))).toThrow(
      ConfigError,
    );
  });

  it('rejects a bad identity option', () => {
    expect(() => createPicker('rendezvous', makeWorkers(2), { identity: 'ip' as never }))
      .toThrow(/identity "ip" is not one of uid, pod-name, address/);
  });
});
