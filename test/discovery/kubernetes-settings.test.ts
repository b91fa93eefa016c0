import { describe, expect, it } from 'vitest';
import { kubernetesSettings } from '../../src/discovery/kubernetes-settings.js';
import { configErrorOf as configError } from '../support/errors.js';

const env = {
  POD_NAMESPACE: 'cardinalhq-datalake',
  WORKER_POD_LABEL_SELECTOR: 'app.kubernetes.io/component=query-worker',
  QUERY_WORKER_PORT: '7101',
};

describe('kubernetesSettings', () => {
  it('reads the three variables', () => {
    const settings = kubernetesSettings({}, env);
    expect(settings.namespace).toBe('cardinalhq-datalake');
    expect(settings.labelSelector.text).toBe('app.kubernetes.io/component=query-worker');
    expect(settings.port).toBe(7101);
  });

  it('lets explicit options win over the environment', () => {
    const settings = kubernetesSettings(
      { namespace: 'other', labelSelector: 'app=x', port: 9000 },
      env,
    );
    expect([settings.namespace, settings.labelSelector.text, settings.port]).toEqual([
      'other',
      'app=x',
      9000,
    ]);
  });

  it.each([
    ['POD_NAMESPACE', 'POD_NAMESPACE (or namespace) is not set'],
    ['WORKER_POD_LABEL_SELECTOR', 'WORKER_POD_LABEL_SELECTOR (or labelSelector) is not set'],
    ['QUERY_WORKER_PORT', 'QUERY_WORKER_PORT (or port) is not set: give a value such as 7101'],
  ])('names %s when it is missing or blank', (variable, message) => {
    for (const value of [undefined, '', '   ']) {
      const error = configError(() => kubernetesSettings({}, { ...env, [variable]: value }));
      expect(error.setting).toBe(variable);
      expect(error.message).toContain(message);
    }
  });

  it.each(['invalid', '0', '70000', '71.5', ' 7101x', '-1', '0x1F', '1e3'])(
    'rejects QUERY_WORKER_PORT=%j, showing the value',
    (port) => {
      const error = configError(() => kubernetesSettings({}, { ...env, QUERY_WORKER_PORT: port }));
      expect(error.setting).toBe('QUERY_WORKER_PORT');
      expect(error.message).toBe(
        `QUERY_WORKER_PORT is ${JSON.stringify(port)}: expected a whole number from 1 to ` +
          '65535, such as 7101',
      );
    },
  );

  it('accepts the edges of the port range', () => {
    expect(kubernetesSettings({}, { ...env, QUERY_WORKER_PORT: '1' }).port).toBe(1);
    expect(kubernetesSettings({}, { ...env, QUERY_WORKER_PORT: '65535' }).port).toBe(65535);
  });

  it.each(['Cardinal', 'bad_name', '-lead', 'trail-', 'a'.repeat(64), 'dots.not.allowed'])(
    'rejects POD_NAMESPACE=%j',
    (namespace) => {
      const error = configError(() =>
        kubernetesSettings({}, { ...env, POD_NAMESPACE: namespace }),
      );
      expect(error.setting).toBe('POD_NAMESPACE');
      expect(error.message).toContain(JSON.stringify(namespace));
      expect(error.message).toContain('at most 63 lowercase letters');
    },
  );

  it('rejects a malformed selector, naming the variable, the value and the position', () => {
    const error = configError(() =>
      kubernetesSettings({}, { ...env, WORKER_POD_LABEL_SELECTOR: 'app in (a' }),
    );
    expect(error.setting).toBe('WORKER_POD_LABEL_SELECTOR');
    expect(error.message).toContain('WORKER_POD_LABEL_SELECTOR is "app in (a"');
    expect(error.message).toContain('but the selector ended');
  });

  it('blames the option name when an explicit value is bad', () => {
    const error = configError(() => kubernetesSettings({ port: 'x' }, env));
    expect(error.setting).toBe('port');
    expect(error.message).toMatch(/^port is "x"/);
  });
});

describe('kubernetesSettings with several settings missing', () => {
  it('names every missing setting in one error', () => {
    const error = configError(() => kubernetesSettings({}, {}));
    expect(error.setting).toBe('POD_NAMESPACE');
    expect(error.message).toBe(
      '3 required settings are not set: POD_NAMESPACE (or namespace), such as default; ' +
        'WORKER_POD_LABEL_SELECTOR (or labelSelector), such as ' +
        '"app.kubernetes.io/component=query-worker"; QUERY_WORKER_PORT (or port), such as 7101',
    );
  });
});
