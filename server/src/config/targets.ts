import type { Redis } from 'ioredis';

/**
 * The Redis deployments lockscope watches, as configured. One member per way of reaching a deployment: a URL (a
 * standalone server), a master found through Sentinel, or an ioredis connection an application embedding lockscope
 * already has (createLockscope takes all three; the environment the first two). Everything downstream switches on
 * `kind`: topologyFor, describeTarget (targets/target-set.ts) and targetProblems below.
 */
export type TargetConfig = UrlTargetConfig | ClientTargetConfig | SentinelTargetConfig;

/**
 * TLS material as PEM text (the entry point reads it from `REDIS_TLS_*_FILE` and checks it at start-up, see
 * `tls-files.ts`). Absent fields: the system's CAs, no client certificate.
 */
export interface TargetTls {
  /** CA certificate(s) to trust instead of the system's. */
  ca?: string;
  /** Client certificate (servers started with `tls-auth-clients yes`), with its `key`. */
  cert?: string;
  key?: string;
}

export interface UrlTargetConfig {
  kind: 'url';
  /** The name given in `REDIS_URL=name=redis://…`, or null for a single unnamed URL. */
  name: string | null;
  /** `redis://` or `rediss://` URL, credentials (`user:password@`) included: never print it (see maskRedisUrl). */
  url: string;
  /** TLS material for a `rediss://` URL. */
  tls?: TargetTls;
  /** Shown instead of the masked URL (the embedded Redis says so); set by the entry point, never parsed. */
  label?: string;
}

/**
 * A standalone server reached the way an ioredis connection of the embedding application reaches it (createLockscope's
 * `redis`; never parsed from the environment). lockscope opens connections of its own with the same options
 * (`client.duplicate()`: address, credentials, TLS, database), so the application's connection is never put in
 * subscriber mode, renamed or closed.
 */
export interface ClientTargetConfig {
  kind: 'client';
  name: string | null;
  client: Redis;
  /** Shown instead of `host:port`. */
  label?: string;
}

/** A master found through Redis Sentinel, followed across failovers. */
export interface SentinelTargetConfig {
  kind: 'sentinel';
  name: string | null;
  /** The sentinels to ask; any one that answers is enough. */
  sentinels: SentinelAddress[];
  /** The name the sentinels monitor the master under (`sentinel monitor <name> …`). */
  masterName: string;
  db: number;
  /** The ACL user (and password) lockscope logs in with on the master. Never print. */
  username?: string;
  password?: string;
  /** The sentinels' own user (and password: their `requirepass`). Never print. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** Present: TLS to the sentinels and to the master (`rediss+sentinel://`, or REDIS_SENTINEL_TLS). */
  tls?: TargetTls;
  label?: string;
}

export interface SentinelAddress {
  host: string;
  port: number;
}

/** The id of a single unnamed target (in `?target=`, metrics labels and admin requests). */
export const DEFAULT_TARGET_ID = 'default';

/** A target's id: its name, or `default`. */
export const targetId = (t: TargetConfig): string => t.name ?? DEFAULT_TARGET_ID;

/** Whether the target's connections use TLS (and so take `REDIS_TLS_*_FILE`). */
export function usesTls(t: TargetConfig): boolean {
  switch (t.kind) {
    case 'url':
      return /^rediss:/i.test(t.url);
    case 'sentinel':
      return t.tls !== undefined;
    case 'client':
      // Its own connection options say (`duplicate()` keeps them): TLS settings and files do not apply.
      return false;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const NAME_RULE = 'must be 1-32 letters, digits, _ . or - (starting with a letter or digit)';
const URL_START = /^rediss?(\+sentinel)?:\/\//i;
/** A URL target's URL (a Sentinel URL is parsed into a Sentinel target instead). */
const PLAIN_URL = /^rediss?:\/\//i;
const SENTINEL_PORT = 26379;
/** What Sentinel accepts as a master name (`sentinel monitor`): no spaces; we also keep it printable and short. */
const MASTER_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * `REDIS_URL` as one unnamed URL, or a comma-separated list of `name=url` entries
 * (`prod=rediss://…,staging=redis://…`). Entries are split only where a new one starts (`name=scheme://` or
 * `scheme://`), so a comma inside a password, or between a Sentinel URL's hosts, does not split one. Every
 * problem is reported; none repeats a URL, which may hold a password.
 */
export function parseTargets(value: string): { ok: true; targets: TargetConfig[] } | { ok: false; problems: string[] } {
  const entries = value
    .split(/,(?=\s*(?:[^,=/@:]+=)?[A-Za-z][A-Za-z0-9+.-]*:\/\/)/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) return { ok: false, problems: ['must name at least one Redis URL'] };
  const problems: string[] = [];
  const targets: TargetConfig[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const where = entries.length > 1 ? `entry ${i + 1}: ` : '';
    let name: string | null = null;
    let url = entry;
    if (!URL_START.test(entry)) {
      const eq = entry.indexOf('=');
      const candidate = eq > 0 ? entry.slice(0, eq).trim() : '';
      if (!URL_START.test(entry.slice(eq + 1).trim())) {
        problems.push(`${where}must start with redis:// or rediss:// (or redis+sentinel://, or be name=redis://… to name the target)`);
        return;
      }
      if (!NAME.test(candidate)) {
        problems.push(`${where}the name "${candidate.slice(0, 32)}" ${NAME_RULE}`);
        return;
      }
      name = candidate;
      url = entry.slice(eq + 1).trim();
    }
    const shown = name ? `${where}"${name}": ` : where;
    if (entries.length > 1 && name === null) {
      problems.push(`${where}give each of several targets a name: name=redis://…`);
      return;
    }
    let target: TargetConfig;
    if (/^rediss?\+sentinel:/i.test(url)) {
      const parsed = parseSentinelUrl(url);
      if (!parsed.ok) {
        problems.push(...parsed.problems.map((p) => `${shown}${p}`));
        return;
      }
      target = { ...parsed.target, name };
    } else {
      if (!URL.canParse(url) || !new URL(url).hostname) {
        problems.push(`${shown}is not a valid URL`);
        return;
      }
      target = { kind: 'url', name, url };
    }
    if (name !== null) {
      if (seen.has(name)) problems.push(`${shown}the name is used twice`);
      seen.add(name);
    }
    targets.push(target);
  });
  return problems.length ? { ok: false, problems } : { ok: true, targets };
}

/**
 * Problems with targets given as objects (the embedding API), in the words `parseTargets` uses: none given, names
 * missing, malformed or repeated, a URL that is not one (never repeated: it may hold a password), a Sentinel group
 * without sentinels or master, TLS material that is not text, an ioredis connection of a kind lockscope cannot
 * watch as a standalone server.
 */
export function targetProblems(targets: readonly TargetConfig[]): string[] {
  if (!targets.length) return ['must name at least one Redis target'];
  const problems: string[] = [];
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    const where = targets.length > 1 ? `target ${i + 1}${t.name ? ` ("${String(t.name).slice(0, 32)}")` : ''}: ` : '';
    if (t.name !== null && (typeof t.name !== 'string' || !NAME.test(t.name))) problems.push(`${where}the name ${NAME_RULE}`);
    else if (t.name === null && targets.length > 1) problems.push(`${where}give each of several targets a name`);
    else if (t.name !== null) {
      if (seen.has(t.name)) problems.push(`${where}the name is used twice`);
      seen.add(t.name);
    }
    switch (t.kind) {
      case 'url':
        if (typeof t.url !== 'string' || !PLAIN_URL.test(t.url)) problems.push(`${where}the URL must start with redis:// or rediss:// (a Sentinel group: kind 'sentinel')`);
        else if (!URL.canParse(t.url) || !new URL(t.url).hostname) problems.push(`${where}the URL is not a valid URL`);
        problems.push(...tlsProblems(t.tls).map((p) => `${where}${p}`));
        break;
      case 'sentinel':
        problems.push(...sentinelProblems(t).map((p) => `${where}${p}`));
        break;
      case 'client':
        problems.push(...clientProblems(t.client).map((p) => `${where}${p}`));
        break;
      default: {
        // A new kind of target brings its own checks here (the compiler says so); JavaScript callers may pass anything.
        const other: never = t;
        problems.push(`${where}unknown kind "${String((other as { kind?: unknown }).kind).slice(0, 20)}"`);
      }
    }
  });
  return problems;
}

function clientProblems(client: Redis): string[] {
  if (!client || typeof client !== 'object' || typeof client.duplicate !== 'function') return ['the connection must be an ioredis Redis instance'];
  // Both are deployments of several servers, each a topology of its own (a TargetConfig kind), not one connection.
  if ((client as { isCluster?: boolean }).isCluster) return ['an ioredis Cluster is not one server: give the cluster as a target config instead'];
  if (client.options.sentinels?.length) return ['an ioredis connection through Sentinel is not one server: give the Sentinel deployment as a target config instead'];
  return [];
}

function sentinelProblems(t: SentinelTargetConfig): string[] {
  const problems: string[] = [];
  const sentinels: unknown = t.sentinels;
  if (!Array.isArray(sentinels) || !sentinels.length) problems.push('name at least one sentinel: sentinels: [{ host, port }]');
  else {
    sentinels.forEach((a: Partial<SentinelAddress> | null, i) => {
      const ok = a && typeof a.host === 'string' && a.host.length > 0 && Number.isInteger(a.port) && a.port! >= 1 && a.port! <= 65535;
      if (!ok) problems.push(`sentinels[${i}] must be { host, port } with a port from 1 to 65535`);
    });
  }
  if (typeof t.masterName !== 'string' || !MASTER_NAME.test(t.masterName)) problems.push('the master name must be 1-64 letters, digits, _ . : or -');
  if (!Number.isInteger(t.db) || t.db < 0 || t.db > 99) problems.push('db must be a database number (0, 1, …)');
  for (const k of ['username', 'password', 'sentinelUsername', 'sentinelPassword'] as const) {
    if (t[k] !== undefined && typeof t[k] !== 'string') problems.push(`${k} must be a string`);
  }
  return [...problems, ...tlsProblems(t.tls)];
}

/** TLS material must be PEM text (createLockscope checks that it parses, as the entry point does for the files). */
function tlsProblems(tls: TargetTls | undefined): string[] {
  if (tls === undefined) return [];
  if (!tls || typeof tls !== 'object') return ['tls must be { ca?, cert?, key? } (PEM text)'];
  const problems = (['ca', 'cert', 'key'] as const).filter((k) => tls[k] !== undefined && typeof tls[k] !== 'string').map((k) => `tls.${k} must be PEM text (a string)`);
  if ((tls.cert === undefined) !== (tls.key === undefined)) problems.push('tls.cert and tls.key go together (a client certificate and its private key)');
  return problems;
}

/**
 * `redis+sentinel://[user:password@]host[:port][,host[:port]…]/<master name>[/<db>][?sentinelUsername=…&sentinelPassword=…]`
 * (`rediss+sentinel://`: TLS to the sentinels and the master), the form of the Redis-Sentinel-Url convention. The
 * user and password are the master's; the sentinels' own come from the query or from REDIS_SENTINEL_PASSWORD.
 * Problems never repeat the URL.
 */
export function parseSentinelUrl(url: string): { ok: true; target: SentinelTargetConfig } | { ok: false; problems: string[] } {
  const m = /^(rediss?)\+sentinel:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(url);
  if (!m) return { ok: false, problems: ['is not a valid redis+sentinel:// URL (redis+sentinel://[user:password@]host:port,host:port/<master name>)'] };
  const [, scheme, auth, hostList, path = '', query = ''] = m;
  const problems: string[] = [];
  const sentinels = parseSentinelList(hostList!, problems);
  const [masterName = '', db = '0', ...rest] = path.replace(/^\//, '').split('/').map(safeDecode);
  if (!masterName) problems.push('names no master: add /<master name> after the sentinels (redis+sentinel://host:26379/mymaster)');
  else if (!MASTER_NAME.test(masterName)) problems.push('the master name must be 1-64 letters, digits, _ . : or -');
  if (!/^\d{1,2}$/.test(db) || rest.length) problems.push('the path must be /<master name> or /<master name>/<db number>');
  const target: SentinelTargetConfig = { kind: 'sentinel', name: null, sentinels, masterName, db: Number(db) };
  if (auth) {
    const colon = auth.indexOf(':');
    const user = safeDecode(colon < 0 ? auth : auth.slice(0, colon));
    const password = colon < 0 ? '' : safeDecode(auth.slice(colon + 1));
    if (user) target.username = user;
    if (password) target.password = password;
  }
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === 'sentinelUsername') target.sentinelUsername = value;
    else if (key === 'sentinelPassword') target.sentinelPassword = value;
    else problems.push(`unknown parameter "${key.slice(0, 32)}" (sentinelUsername and sentinelPassword are known)`);
  }
  if (scheme!.toLowerCase() === 'rediss') target.tls = {};
  return problems.length ? { ok: false, problems } : { ok: true, target };
}

/** `host:port,host:port` (port default 26379; IPv6 in brackets): every bad entry is a problem. */
export function parseSentinelList(value: string, problems: string[]): SentinelAddress[] {
  const list: SentinelAddress[] = [];
  const entries = value.split(',').map((e) => e.trim());
  if (!entries.some(Boolean)) problems.push('names no sentinel (host:port,host:port)');
  for (const entry of entries.filter(Boolean)) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = m?.[2] === undefined ? SENTINEL_PORT : Number(m[2]);
    if (!m || port < 1 || port > 65535) {
      problems.push(`"${entry.slice(0, 64)}" is not host:port`);
      continue;
    }
    list.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return list;
}

/**
 * A Sentinel group as shown (describeTarget): `redis+sentinel://user:***@host:port,…/master`, without the sentinels'
 * credentials.
 */
export function sentinelLabel(t: SentinelTargetConfig): string {
  const auth = t.username || t.password ? `${t.username ? encodeURIComponent(t.username) : ''}${t.password ? ':***' : ''}@` : '';
  const hosts = t.sentinels.map((s) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`).join(',');
  return `${t.tls ? 'rediss' : 'redis'}+sentinel://${auth}${hosts}/${encodeURIComponent(t.masterName)}${t.db ? `/${t.db}` : ''}`;
}

/** A Redis URL safe to print: the password (and a user's password) replaced by `***`. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid redis url>';
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
