import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inClusterServer, loadKubeConfig } from '../../src/discovery/kube-config.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/temp.js';

const goodKubeConfig = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://10.96.0.1:6443
users:
- name: dev
  user:
    token: not-a-real-token
contexts:
- name: dev
  context:
    cluster: dev
    user: dev
`;

async function serviceAccount(dir: string): Promise<string> {
  const path = join(dir, 'serviceaccount');
  await mkdir(path);
  await writeFile(join(path, 'token'), 'sa-token');
  await writeFile(join(path, 'ca.crt'), 'not a real CA');
  await writeFile(join(path, 'namespace'), 'lake');
  return path;
}

const inCluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('loadKubeConfig', () => {
  it('uses the file named by KUBECONFIG', async () => {
    const dir = await tempDir();
    const path = join(dir, 'config');
    await writeFile(path, goodKubeConfig);
    const loaded = loadKubeConfig({ env: { KUBECONFIG: path } });
    expect(loaded.source).toBe('kubeconfig');
    expect(loaded.server).toBe('https://10.96.0.1:6443');
  });

  it('uses ~/.kube/config when KUBECONFIG is unset', async () => {
    const home = await tempDir();
    await mkdir(join(home, '.kube'));
    await writeFile(join(home, '.kube', 'config'), goodKubeConfig);
    expect(loadKubeConfig({ env: { HOME: home } }).source).toBe('kubeconfig');
  });

  it.each([
    ['a missing file', undefined, 'no file at KUBECONFIG='],
    ['a file that does not parse', 'clusters: [unclosed', 'does not parse'],
    ['a file without current-context', goodKubeConfig.replace('current-context: dev', ''),
      'has no current-context'],
    [
      'a context naming no cluster',
      goodKubeConfig.replace('cluster: dev\n    user', 'cluster: x\n    user'),
      'names no cluster with a server',
    ],
  ])('falls through to in-cluster after %s', async (_case, contents, reason) => {
    const dir = await tempDir();
    const path = join(dir, 'config');
    if (contents !== undefined) await writeFile(path, contents);
    const saDir = await serviceAccount(dir);

    const loaded = loadKubeConfig({
      env: { KUBECONFIG: path, ...inCluster },
      serviceAccountDir: saDir,
    });
    expect(loaded.source).toBe('in-cluster');
    expect(loaded.server).toBe('https://10.96.0.1:443');

    const error = (() => {
      try {
        loadKubeConfig({ env: { KUBECONFIG: path }, serviceAccountDir: saDir });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^failed to create kubernetes config \(tried kubeconfig and in-cluster\): kubeconfig: /,
    );
    expect((error as Error).message).toContain(reason);
    expect((error as Error).message).toContain(
      'in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set',
    );
  });

  it('says which service-account file is missing', async () => {
    const dir = await tempDir();
    expect(() =>
      loadKubeConfig({
        env: { KUBECONFIG: join(dir, 'none'), ...inCluster },
        serviceAccountDir: join(dir, 'sa'),
      }),
    ).toThrow(`in-cluster: ${join(dir, 'sa', 'token')} does not exist`);
  });

  it('brackets an IPv6 service host', () => {
    expect(inClusterServer('fd00:10:96::1', '443')).toBe('https://[fd00:10:96::1]:443');
    expect(inClusterServer('10.96.0.1', '6443')).toBe('https://10.96.0.1:6443');
  });
});
