import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * PEM text of a certificate and its private key.
 *
 * @example
 * ```ts
 * const pki = await createTestPki();
 * const { cert, key }: CertificateAndKey = pki.server;
 * const server = https.createServer({ cert, key }, (request, response) => response.end('ok'));
 * ```
 */
export interface CertificateAndKey {
  readonly cert: string;
  readonly key: string;
}

/**
 * A throwaway certificate authority and a server certificate it issued.
 *
 * @example
 * ```ts
 * const pki: TestPki = await createTestPki();
 * const api = await FakeKubeApiServer.start({ pki });
 * const agent = new https.Agent({ ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
 * ```
 */
export interface TestPki {
  /** The CA certificate, to trust. */
  readonly ca: string;
  /** The server's certificate and key, valid for 127.0.0.1, ::1 and localhost. */
  readonly server: CertificateAndKey;
  /** A client certificate and key issued by the same CA, for mutual TLS tests. */
  readonly client: CertificateAndKey;
}

/**
 * Makes a test CA and certificates at run time with the `openssl` command, so no private key is
 * ever committed. The certificates last one day.
 *
 * @example
 * ```ts
 * const pki = await createTestPki();
 * https.createServer({ cert: pki.server.cert, key: pki.server.key }, handler);
 * ```
 */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'lakerunner-pki-'));
  const file = (name: string): string => join(dir, name);

  try {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key')]);
    await openssl([
      'req', '-x509', '-new', '-key', file('ca.key'), '-sha256', '-days', '1',
      '-subj', '/CN=lakerunner test CA', '-out', file('ca.crt'),
    ]);
    const server = await issue(file, 'server', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost');
    const client = await issue(file, 'client', 'extendedKeyUsage=clientAuth');
    return { ca: await readFile(file('ca.crt'), 'utf8'), server, client };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function issue(
  file: (name: string) => string,
  name: string,
  extension: string,
): Promise<CertificateAndKey> {
  const key = file(`${name}.key`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await openssl([
    'req', '-new', '-key', file(`${name}.key`), '-subj', `/CN=lakerunner test ${name}`,
    '-out', file(`${name}.csr`),
  ]);
  await writeFile(file(`${name}.ext`), `${extension}\n`);
  await openssl([
    'x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-days', '1', '-sha256', '-extfile', file(`${name}.ext`),
    '-out', file(`${name}.crt`),
  ]);
  return {
    cert: await readFile(file(`${name}.crt`), 'utf8'),
    key: await readFile(file(`${name}.key`), 'utf8'),
  };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'the openssl command is not installed'
      : String((error as { stderr?: unknown }).stderr ?? error);
    throw new Error(`making a test certificate failed: ${reason}`, { cause: error });
  }
}
