import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from '../../src/discovery/address-policy.js';
import { ConfigError } from '../../src/errors.js';

describe('createAddressPolicy', () => {
  const strict = createAddressPolicy();

  it.each([
    ['10.244.5.158', undefined],
    ['192.168.1.10', undefined],
    ['fd00:10:244::7', undefined],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.9.9.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['not-an-address', 'malformed'],
    ['10.0.0.1:80', 'malformed'],
  ])('%s → %s', (address, refusal) => {
    expect(strict.check(address)).toBe(refusal);
  });

  it('admits loopback only when asked', () => {
    const relaxed = createAddressPolicy({ allowLoopback: true });
    expect(relaxed.check('127.0.0.2')).toBeUndefined();
    expect(relaxed.check('::1')).toBeUndefined();
    expect(relaxed.check('169.254.169.254')).toBe('link-local');
  });

  it('admits only the allow-listed ranges when a list is given', () => {
    const podNetwork = createAddressPolicy({ allowedCidrs: ['10.244.0.0/16', 'fd00:10::/32'] });
    expect(podNetwork.check('10.244.200.1')).toBeUndefined();
    expect(podNetwork.check('10.245.0.1')).toBe('not-allowed');
    expect(podNetwork.check('fd00:10:244::7')).toBeUndefined();
    expect(podNetwork.check('fd00:11::1')).toBe('not-allowed');
    // The deny list still wins inside an allowed range.
    expect(createAddressPolicy({ allowedCidrs: ['0.0.0.0/0'] }).check('127.0.0.1')).toBe(
      'loopback',
    );
  });

  it.each(['10.0.0.0', '10.0.0.0/33', 'ten/8', '10.0.0.0/8/1', 'fd00::/129', '10.0.0.0/x'])(
    'rejects the malformed range %j with a ConfigError naming it',
    (range) => {
      expect(() => createAddressPolicy({ allowedCidrs: [range] })).toThrow(ConfigError);
      expect(() => createAddressPolicy({ allowedCidrs: [range] })).toThrow(JSON.stringify(range));
    },
  );
});
