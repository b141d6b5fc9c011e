import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnSupervised, type SupervisedProcess } from '../../src/redis/embedded-redis';
import { GiveUp, poll } from './poll';
import { startOnSomePort } from './ports';

export interface NginxLocation {
  /** A prefix location, e.g. `/ops/locks/` (nginx answers `/ops/locks` with a 301 to it by itself). */
  path: string;
  /** `host:port` upstreams for this location; default: the proxy's `upstreams`. */
  upstreams?: string[];
  /**
   * Strip the location's path before passing the request on (`proxy_pass http://up/;`): the app then sees `/`.
   * Default false: the app sees the full path (`/ops/locks/…`), as an app with a base path expects.
   */
  stripPrefix?: boolean;
}

export interface NginxProxyOptions {
  /** `host:port` of the apps behind the proxy. */
  upstreams: string[];
  /** Default: one location `/` over `upstreams`. */
  locations?: NginxLocation[];
  /** Spread requests over the upstreams in turn (nginx's default). `false`: the first serves, the others are `backup`. Default true. */
  roundRobin?: boolean;
  /**
   * The `Host` header sent upstream. `$host` (the usual line in proxy configs) drops the port of the address the
   * browser used; `$http_host` keeps it (an app that compares `Origin` with `Host` needs that). Default `$host`.
   */
  hostHeader?: '$host' | '$http_host';
  /** `fail_timeout` per upstream server, in seconds (how long a failed upstream is skipped). nginx's default: 10. */
  failTimeoutSeconds?: number;
  /** Serve HTTPS with this certificate and key (PEM files); the app behind is told `X-Forwarded-Proto: https`. */
  tls?: { cert: string; key: string };
  /**
   * The local address nginx connects to the upstreams from (`proxy_bind`), e.g. `127.0.0.2`: on loopback, the only
   * way for the app to tell the proxy's address from the browser's.
   */
  proxyBind?: string;
}

/** The `upstream` and `server` blocks of a reverse proxy in front of lockscope: what the README shows. */
export function nginxProxyConfig(options: NginxProxyOptions & { listen: string }): string {
  const locations = options.locations ?? [{ path: '/' }];
  const roundRobin = options.roundRobin ?? true;
  const failTimeout = options.failTimeoutSeconds === undefined ? '' : ` fail_timeout=${options.failTimeoutSeconds}s`;
  const upstreamBlocks = locations.map((loc, i) => {
    const servers = loc.upstreams ?? options.upstreams;
    if (!servers.length) throw new Error(`location ${loc.path} has no upstream`);
    const lines = servers.map((s, j) => `    server ${s}${failTimeout}${!roundRobin && j > 0 ? ' backup' : ''};`);
    return [`upstream lockscope_${i} {`, ...lines, '}'].join('\n');
  });
  const locationBlocks = locations.map((loc, i) =>
    [
      `    location ${loc.path} {`,
      `        proxy_pass http://lockscope_${i}${loc.stripPrefix ? '/' : ''};`,
      '        proxy_http_version 1.1;',
      '        proxy_set_header Upgrade $http_upgrade;          # WebSockets (Socket.IO)',
      '        proxy_set_header Connection $connection_upgrade;',
      `        proxy_set_header Host ${options.hostHeader ?? '$host'};`,
      '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '        proxy_set_header X-Forwarded-Proto $scheme;',
      '        proxy_set_header X-Forwarded-Host $http_host;    # the host and port the browser used',
      ...(options.proxyBind ? [`        proxy_bind ${options.proxyBind};`] : []),
      '    }',
    ].join('\n'),
  );
  const tls = options.tls ? [`    ssl_certificate ${options.tls.cert};`, `    ssl_certificate_key ${options.tls.key};`] : [];
  return [
    '# "Connection: upgrade" only when the client asked for an upgrade; "close" otherwise.',
    'map $http_upgrade $connection_upgrade {',
    '    default upgrade;',
    "    ''      close;",
    '}',
    ...upstreamBlocks,
    'server {',
    `    listen ${options.listen}${options.tls ? ' ssl' : ''};`,
    ...tls,
    ...locationBlocks,
    '}',
  ].join('\n');
}

/**
 * A whole nginx.conf for a test: one process in the foreground (`daemon off`, `master_process off`) whose pid
 * file, logs and temp paths all live under `prefix`, around `nginxProxyConfig`.
 */
export function nginxTestConfig(options: NginxProxyOptions & { listen: string; prefix: string }): string {
  const at = (name: string) => join(options.prefix, name);
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `error_log ${at('error.log')} warn;`,
    `pid ${at('nginx.pid')};`,
    'events { worker_connections 512; }',
    'http {',
    `    access_log ${at('access.log')};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${at(`${t}_temp`)};`),
    nginxProxyConfig(options)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
    '}',
    '',
  ].join('\n');
}

/** A running nginx. */
export interface TestNginx {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`). */
  url: string;
  port: number;
  /** Its temp prefix (config, logs, temp paths). */
  prefix: string;
  /** The nginx.conf it runs. */
  config: string;
  /** The access and error logs so far. */
  accessLog(): string;
  errorLog(): string;
  /** Stops nginx (SIGTERM, SIGKILL after 5 s) and removes the prefix. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's nginx (`/usr/sbin/nginx`) as a reverse proxy on a free loopback port, supervised like the
 * test Redis servers (it dies with the test process), and resolves once the port accepts connections. About
 * 50–100 ms.
 */
export async function startNginx(options: NginxProxyOptions): Promise<TestNginx> {
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find((p) => existsSync(p));
  if (!binary) throw new Error('nginx is not installed (Debian: apt-get install nginx)');
  const prefix = mkdtempSync(join(tmpdir(), 'lockscope-rig-nginx-'));
  const launch = async (port: number) => {
    const config = nginxTestConfig({ ...options, listen: `127.0.0.1:${port}`, prefix });
    writeFileSync(join(prefix, 'nginx.conf'), config);
    // -e: nginx opens its compiled-in error log (/var/log/nginx/error.log) before reading the config otherwise.
    const proc = spawnSupervised(binary, ['-e', join(prefix, 'error.log'), '-p', prefix, '-c', join(prefix, 'nginx.conf')]);
    try {
      await waitForListening(port, proc);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return { port, proc, config };
  };
  let started: { port: number; proc: SupervisedProcess; config: string };
  try {
    started = await startOnSomePort(freePort, launch);
  } catch (err) {
    rmSync(prefix, { recursive: true, force: true });
    throw err;
  }
  const read = (name: string) => (existsSync(join(prefix, name)) ? readFileSync(join(prefix, name), 'utf8') : '');
  let stopping: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${started.port}`,
    port: started.port,
    prefix,
    config: started.config,
    accessLog: () => read('access.log'),
    errorLog: () => read('error.log'),
    stop: () =>
      (stopping ??= (async () => {
        await started.proc.stop();
        rmSync(prefix, { recursive: true, force: true });
      })()),
  };
}

async function waitForListening(port: number, proc: SupervisedProcess): Promise<void> {
  let dead = false;
  void proc.exited.then(() => (dead = true));
  await poll(
    () => {
      if (dead) throw new GiveUp(`nginx exited during start-up: ${proc.output().trim() || 'no output'}`);
      return new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        const done = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.once('connect', () => done(true)).once('error', () => done(false));
        socket.setTimeout(1000, () => done(false));
      });
    },
    10_000,
    () => `nginx did not listen on 127.0.0.1:${port}`,
  );
}
