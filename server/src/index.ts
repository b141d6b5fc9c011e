/**
 * lockscope inside another Node application (`import { createLockscope } from 'lockscope'`): the dashboard, its API,
 * `/healthz` and `/metrics` as an Express-compatible router, and its Socket.IO on the application's HTTP server.
 *
 *   const ls = await createLockscope({ redis: 'redis://cache:6379', basePath: '/locks', auth: { token } });
 *   app.use(ls.basePath, ls.router);
 *   const server = app.listen(3000);
 *   ls.attach(server);
 *   // on shutdown
 *   await ls.close();
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServerOptions } from 'socket.io';
import type { ServerStatus } from '../../shared/status';
import { parseSettings, type SettingName } from './config/config';
import { parseTargets, targetProblems, usesTls, type TargetConfig, type TargetTls } from './config/targets';
import { checkTls, withTls } from './config/tls-files';
import type { LockFormat } from './libraries';
import { composeLockscope } from './lockscope';
import { packagedClientDir, packageVersion } from './package-root';
import type { AttachableServer, IO } from './realtime/socket-server';

export type { ClientTargetConfig, SentinelAddress, SentinelTargetConfig, TargetConfig, TargetTls, UrlTargetConfig } from './config/targets';
export type { LockFormat } from './libraries';
export type { ServerStatus, TargetStatus, NodeStatus } from '../../shared/status';
export type { AttachableServer } from './realtime/socket-server';
export type { ClientToServerEvents, ServerToClientEvents } from '../../shared/events';
export type { LockView, LockSnapshot, LockChanges } from '../../shared/locks';

export interface LockscopeOptions {
  /**
   * The Redis deployment(s) to watch: a URL (`redis://…`, `rediss://…`, `redis+sentinel://host:26379,…/mymaster`) or
   * named URLs as `REDIS_URL` takes them (`prod=rediss://…,staging=redis+sentinel://…`); an ioredis connection of yours (lockscope opens its own with the same
   * options and leaves yours alone); or target configs, several for a switcher (the first is shown first, keeps
   * the audit log and runs the simulator).
   */
  redis: string | Redis | TargetConfig | readonly TargetConfig[];
  /**
   * Where `router` is mounted in your application, e.g. `/locks` (default: the root). Socket.IO answers at
   * `<basePath>/socket.io/`, the session cookie is scoped to it. The dashboard works under any prefix a proxy adds.
   */
  basePath?: string;
  /**
   * TLS material as PEM text for every TLS target (`rediss://`, `rediss+sentinel://`) that does not carry its own:
   * the CA to trust instead of the system's, and a client certificate with its key (servers with
   * `tls-auth-clients yes`). Checked at start, as REDIS_TLS_*_FILE are: PEM, parses, not expired, the key is the
   * certificate's.
   */
  tls?: TargetTls;
  /** Enables admin actions (force-release, set TTL) behind a login: the token (≥ 16 characters), or its SHA-256 in hex. */
  auth?: { token: string } | { tokenSha256: string };
  /** No admin actions and no simulator: nothing is written to Redis (but for a restart marker where INFO is refused). */
  readOnly?: boolean;
  /**
   * Reverse proxies whose X-Forwarded-For/-Host/-Proto to believe (rate limits, audit log, Secure cookie): a hop
   * count or names, addresses and CIDRs as TRUST_PROXY takes them. Default: your Express application's `trust proxy`.
   */
  trustProxy?: false | number | string | readonly string[];
  /** Allow the contention simulator on the first target (keys under `lockscope:sim:` only). Default false. */
  simulator?: boolean;
  /** Where lockscope logs (pino). Default: pino on stdout at level `warn`. */
  logger?: Logger;
  /** SCAN globs for lock keys (default: the known lock libraries' patterns, as LOCK_PATTERNS's default). */
  lockPatterns?: readonly string[];
  /**
   * In-house lock formats (key pattern, label, owner, renewal, force-release), as a LOCK_FORMATS file declares them:
   * the formats themselves, or the path of such a JSON file. Their patterns are always scanned.
   */
  lockFormats?: readonly LockFormat[] | string;
  /** COUNT hint per SCAN call (default 500). */
  scanCount?: number;
  /** Probe interval when keyspace notifications are unavailable, in ms (default 1000). */
  pollMs?: number;
  /** A lock held this long by one owner is flagged "held too long", in ms (default 300000). */
  heldTooLongMs?: number;
  /** Let lockscope add `Kg$xhze` to `notify-keyspace-events` (default false: the server's setting is followed). */
  configureNotifications?: boolean;
  /** A Socket.IO adapter for lockscope's own Socket.IO server (e.g. to share rooms between instances). */
  socketAdapter?: ServerOptions['adapter'];
  /** The built dashboard to serve (default: the one in the package), or null for the API, /healthz and /metrics only. */
  clientDir?: string | null;
  /**
   * Coordinate with the other instances of your application watching the same targets (default true): one elected
   * instance per target scans and probes it, the others follow its change stream (state under `lockscope:state:`).
   * False: this instance watches every target by itself and writes no coordination state.
   */
  replication?: boolean;
  /** Where the instances keep that state, instead of each watched Redis (as STATE_REDIS_URL). */
  stateRedisUrl?: string;
  /** The leader's lease, in ms (default 5000): a dead instance's targets are taken over within this plus a second. */
  leaseMs?: number;
  /** This instance's name in leases and the status (default `host#pid`). */
  replicaName?: string;
}

/** A request handler in the shape Express, Connect and `http.createServer` accept. */
export type LockscopeRouter = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface Lockscope {
  /** `''` or the normalised `basePath` (`/locks`): mount `router` there. */
  readonly basePath: string;
  /**
   * The dashboard, `api/…`, `healthz` and `metrics` (an Express sub-app: your application's other routes,
   * middleware and settings are untouched). Requests it does not know go on to your next handler.
   */
  readonly router: LockscopeRouter;
  /**
   * Serves lockscope's Socket.IO at `<basePath>/socket.io/` on your HTTP(S) server, in front of its other request and
   * upgrade listeners (your own Socket.IO on `/socket.io/` keeps working). Call once per server.
   */
  attach(server: AttachableServer): void;
  /** lockscope's own Socket.IO server (not yours). */
  readonly io: IO;
  /** lockscope's Prometheus registry (also served at `<basePath>/metrics`): merge it into yours if you like. */
  readonly registry: Registry;
  /** Every target's health, as `<basePath>/healthz` reports it. */
  status(): ServerStatus;
  /**
   * Stops everything lockscope started — its sockets, Redis connections, timers, a running simulation — and takes its
   * listeners off your HTTP servers. Your servers and application stay up; afterwards `router` answers 503.
   */
  close(): Promise<void>;
}

/** The options are not usable: every problem, each naming the option. */
export class LockscopeOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`lockscope: invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'LockscopeOptionsError';
  }
}

/**
 * Builds lockscope, connects to every target and resolves once each has done its first sync or shows why it cannot
 * (a target that is down does not fail this: it is shown down, and retried). Throws LockscopeOptionsError for
 * options that cannot work.
 */
export async function createLockscope(options: LockscopeOptions): Promise<Lockscope> {
  const targets = withTlsOption(targetsOf(options.redis), options.tls);
  const settings = parseSettings(rawSettings(options), (name) => OPTION_NAMES[name] ?? name);
  const problems = [...(targets.ok ? [] : targets.problems), ...(settings.ok ? [] : settings.problems)];
  if (!targets.ok || !settings.ok) throw new LockscopeOptionsError(problems);
  const core = composeLockscope({
    config: settings.config,
    targets: targets.targets,
    logger: options.logger ?? pino({ level: 'warn', base: { app: 'lockscope' } }),
    configureNotifications: settings.config.configureNotifications,
    clientDir: options.clientDir === undefined ? packagedClientDir : options.clientDir,
    version: packageVersion(),
    inheritTrustProxy: options.trustProxy === undefined,
    socketAdapter: options.socketAdapter,
    replication: options.replication,
    replicaName: options.replicaName ?? `${hostname()}#${process.pid}`,
  });
  try {
    await core.start();
  } catch (err) {
    await core.close();
    throw err;
  }
  return {
    basePath: core.basePath,
    router: core.router,
    attach: (server) => core.attach(server),
    io: core.io,
    registry: core.metrics.registry,
    status: () => core.status.current(),
    close: () => core.close(),
  };
}

/** Option names as the problems name them (the settings' own names where they are the same). */
const OPTION_NAMES: Partial<Record<SettingName, string>> = { adminToken: 'auth.token', adminTokenSha256: 'auth.tokenSha256' };

/** The options as settings, for the validation the environment's settings get. */
function rawSettings(o: LockscopeOptions): Partial<Record<SettingName, unknown>> {
  const auth = o.auth as { token?: unknown; tokenSha256?: unknown } | undefined;
  const raw: Partial<Record<SettingName, unknown>> = {
    basePath: o.basePath,
    adminToken: auth?.token,
    adminTokenSha256: auth?.tokenSha256,
    readOnly: o.readOnly,
    simulator: o.simulator,
    trustProxy: Array.isArray(o.trustProxy) ? o.trustProxy.join(',') : o.trustProxy === undefined ? undefined : String(o.trustProxy),
    lockPatterns: o.lockPatterns,
    lockFormats: o.lockFormats,
    scanCount: o.scanCount,
    pollMs: o.pollMs,
    heldTooLongMs: o.heldTooLongMs,
    configureNotifications: o.configureNotifications,
    stateRedisUrl: o.stateRedisUrl,
    leaseMs: o.leaseMs,
  };
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}

/**
 * The `tls` option's PEM text (and each target's own), checked as the entry point checks REDIS_TLS_*_FILE, then
 * given to every TLS target that does not carry that part itself.
 */
function withTlsOption(
  given: { ok: true; targets: TargetConfig[] } | { ok: false; problems: string[] },
  tls: TargetTls | undefined,
): { ok: true; targets: TargetConfig[] } | { ok: false; problems: string[] } {
  if (!given.ok) return given;
  const problems: string[] = [];
  const check = (material: TargetTls, setting: (part: string) => string) => {
    const pem = (part: keyof TargetTls) => (material[part] === undefined ? undefined : { text: material[part], setting: setting(part), source: 'the PEM text' });
    const checked = checkTls({ ca: pem('ca'), cert: pem('cert'), key: pem('key') });
    if (!checked.ok) problems.push(...checked.problems);
  };
  given.targets.forEach((t, i) => {
    if (t.kind !== 'client' && t.tls) check(t.tls, (part) => `redis${given.targets.length > 1 ? ` (target ${i + 1})` : ''}: tls.${part}`);
  });
  if (tls !== undefined) {
    const typed = (['ca', 'cert', 'key'] as const).filter((k) => tls?.[k] !== undefined && typeof tls[k] !== 'string');
    if (!tls || typeof tls !== 'object' || typed.length) problems.push('tls: give { ca?, cert?, key? } as PEM text (strings)');
    else {
      if ((tls.cert === undefined) !== (tls.key === undefined)) problems.push('tls: cert and key go together (a client certificate and its private key)');
      if (!given.targets.some(usesTls)) problems.push('tls: no target uses TLS: use a rediss:// (or rediss+sentinel://) URL, or a Sentinel target with tls');
      check(tls, (part) => `tls.${part}`);
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, targets: tls ? withTls(given.targets, tls) : given.targets };
}

function targetsOf(redis: LockscopeOptions['redis']): { ok: true; targets: TargetConfig[] } | { ok: false; problems: string[] } {
  const named = (problems: string[]) => ({ ok: false as const, problems: problems.map((p) => `redis: ${p}`) });
  if (typeof redis === 'string') {
    const parsed = parseTargets(redis);
    return parsed.ok ? parsed : named(parsed.problems);
  }
  if (!redis || typeof redis !== 'object') return named(['give a Redis URL, an ioredis connection or target configs']);
  const list: TargetConfig[] = isTargetList(redis) ? [...redis] : 'kind' in redis ? [redis] : [{ kind: 'client', name: null, client: redis }];
  const problems = targetProblems(list);
  return problems.length ? named(problems) : { ok: true, targets: list };
}

function isTargetList(redis: object): redis is readonly TargetConfig[] {
  return Array.isArray(redis);
}
