import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach } from 'vitest';
import type { WorkerCache } from '../../src/discovery/cache.js';
import {
  FakeKubeApiServer,
  type FakeKubeApiOptions,
} from '../../src/testing/fake-kube-api.js';
import { createTestPki, type TestPki } from '../../src/testing/test-ca.js';
import { tempDir } from './temp.js';

/** How {@link useFakeKubeApi} sets up its server for each test. */
export interface FakeKubeApiFixtureOptions {
  /** Options for each test's server besides its PKI (a token, forbidden namespaces...). */
  readonly server?: Omit<FakeKubeApiOptions, 'pki'>;
  /** Whether to write a kubeconfig for the server before each test (default: true). */
  readonly kubeconfig?: boolean;
}

/** The current test's fake API server and what goes with it. */
export interface FakeKubeApiFixture {
  /** The test PKI, made once for the suite. */
  readonly pki: TestPki;
  /** The current test's server; a test that starts a new one sets it, to be closed after. */
  api: FakeKubeApiServer;
  /** The path of the kubeconfig written for this test's first server. */
  readonly kubeconfig: string;
  /** Closes the cache after the current test; returns it. */
  track<T extends WorkerCache>(cache: T): T;
}

/**
 * Registers hooks that make a test PKI once, start a fake Kubernetes API server (and write a
 * kubeconfig for it) before each test, and close the tracked caches and the server after it.
 */
export function useFakeKubeApi(options: FakeKubeApiFixtureOptions = {}): FakeKubeApiFixture {
  let pki: TestPki | undefined;
  let api: FakeKubeApiServer | undefined;
  let kubeconfig: string | undefined;
  const caches: WorkerCache[] = [];

  beforeAll(async () => {
    pki = await createTestPki();
  });

  beforeEach(async () => {
    api = await FakeKubeApiServer.start({ ...options.server, pki: defined(pki, 'pki') });
    if (options.kubeconfig !== false) {
      kubeconfig = await api.writeKubeConfig(join(await tempDir(), 'kubeconfig'));
    }
  });

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
    await api?.close();
    api = undefined;
    kubeconfig = undefined;
  });

  return {
    get pki() {
      return defined(pki, 'pki');
    },
    get api() {
      return defined(api, 'api');
    },
    set api(server: FakeKubeApiServer) {
      api = server;
    },
    get kubeconfig() {
      return defined(kubeconfig, 'kubeconfig');
    },
    track(cache) {
      caches.push(cache);
      return cache;
    },
  };
}

function defined<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`useFakeKubeApi: no ${name} outside a test`);
  return value;
}
