import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis, RedisOptions } from 'ioredis';
import { freePort } from '../../src/redis/embedded-redis';
import { startOnSomePort } from './ports';
import { quietClient, startRedisProcess, type RedisProcess } from './redis-process';

const run = promisify(execFile);

/** PEM files made by `makeTestCertificates`. */
export interface TestCertificates {
  dir: string;
  /** The throw-away CA (certificate and key). */
  caCert: string;
  caKey: string;
  /** Server certificate for `127.0.0.1` and `localhost` (subjectAltName), signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** Client certificate (`CN=lockscope-test-client`, extendedKeyUsage clientAuth), signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** A second CA and a client certificate signed by it: a certificate the server must refuse. */
  strangerCert: string;
  strangerKey: string;
}

/**
 * Makes a CA, a server certificate and client certificates with Debian's `openssl` (EC P-256 keys, valid two
 * days) in a new temp dir. About 100–200 ms.
 */
export async function makeTestCertificates(dir = mkdtempSync(join(tmpdir(), 'lockscope-rig-tls-'))): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => {
    try {
      await run('openssl', args, { cwd: dir, timeout: 30_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`openssl ${args[0]} failed (Debian: apt-get install openssl): ${e.stderr || e.message}`, { cause: err });
    }
  };
  // `req -x509` takes its extensions from a config section; a minimal config keeps Debian's defaults out of it.
  const ca = async (name: string, cn: string) => {
    writeFileSync(file(`${name}.cnf`), '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-extensions', 'v3', '-config', file(`${name}.cnf`));
  };
  const leaf = async (name: string, cn: string, caName: string, extensions: string) => {
    writeFileSync(file(`${name}.ext`), extensions);
    await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    await openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${caName}.crt`), '-CAkey', file(`${caName}.key`),
      '-CAcreateserial', '-days', '2', '-sha256', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`));
  };
  await Promise.all([ca('ca', 'lockscope test CA'), ca('stranger-ca', 'some other CA')]);
  await Promise.all([
    leaf('server', 'localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n'),
    leaf('client', 'lockscope-test-client', 'ca', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n'),
    leaf('stranger', 'stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n'),
  ]);
  return {
    dir,
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.crt'),
    strangerKey: file('stranger.key'),
  };
}

export interface TestTlsRedisOptions {
  /** `tls-auth-clients`: `yes` (a client certificate is required), `optional` (checked when sent), `no`. Default `yes`. */
  authClients?: 'yes' | 'optional' | 'no';
  /** `requirepass`. */
  password?: string;
  /** More `redis-server` arguments. */
  args?: string[];
}

/** A TLS-only redis-server. */
export interface TestTlsRedis {
  port: number;
  /** `rediss://127.0.0.1:<port>` (with the password when there is one). */
  url: string;
  certs: TestCertificates;
  /**
   * ioredis `tls` options with the CA and the client certificate and key (as PEM text): what a client passes
   * alongside `url`. `servername: 'localhost'` checks the certificate's DNS name; without it Node checks the IP.
   */
  tls: { ca: string; cert: string; key: string; servername: string };
  /** A client connected with the client certificate (ready). */
  client: Redis;
  /** A new client on this server: `extra` replaces any of the default options (e.g. `tls: { ca }` alone). */
  connect(extra?: RedisOptions): Redis;
  process: RedisProcess;
  /** Stops the server, disconnects clients, removes the certificates. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts redis-server with TLS only (`--port 0 --tls-port <free port>`, the certificates above,
 * `--tls-auth-clients` as asked), no persistence, notifications `Kg$xhe`. About 150–300 ms with the certificates.
 */
export async function startTestTlsRedis(options: TestTlsRedisOptions = {}): Promise<TestTlsRedis> {
  const certs = await makeTestCertificates();
  const tls = {
    ca: readFileSync(certs.caCert, 'utf8'),
    cert: readFileSync(certs.clientCert, 'utf8'),
    key: readFileSync(certs.clientKey, 'utf8'),
    servername: 'localhost',
  };
  const auth: RedisOptions = options.password ? { password: options.password } : {};
  const clients: Redis[] = [];
  let proc: RedisProcess | undefined;
  try {
    proc = await startOnSomePort(freePort, (port) =>
      startRedisProcess({
        port,
        args: [
          '--port', '0',
          '--tls-port', String(port),
          '--tls-cert-file', certs.serverCert,
          '--tls-key-file', certs.serverKey,
          '--tls-ca-cert-file', certs.caCert,
          '--tls-auth-clients', options.authClients ?? 'yes',
          '--notify-keyspace-events', 'Kg$xhe',
          ...(options.password ? ['--requirepass', options.password] : []),
          ...(options.args ?? []),
        ],
        connection: { ...auth, tls },
      }),
    );
  } catch (err) {
    rmSync(certs.dir, { recursive: true, force: true });
    throw err;
  }
  const server = proc;
  const connect = (extra: RedisOptions = {}) => {
    const c = quietClient({ ...server.connection, ...extra });
    clients.push(c);
    return c;
  };
  const client = connect();
  await client.ping();
  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    url: `rediss://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${server.port}`,
    certs,
    tls,
    client,
    connect,
    process: server,
    stop: () =>
      (stopping ??= (async () => {
        for (const c of clients) c.disconnect();
        await server.stop();
        rmSync(certs.dir, { recursive: true, force: true });
      })()),
  };
}
