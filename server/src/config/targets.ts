/**
 * The Redis deployments lockscope watches, as configured: plain data (an embedding app passes the same shapes).
 * One member per way of reaching a deployment; everything downstream switches on `kind`.
 */
export type TargetConfig = UrlTargetConfig | SentinelTargetConfig;

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
export const usesTls = (t: TargetConfig): boolean => (t.kind === 'url' ? /^rediss:/i.test(t.url) : t.tls !== undefined);

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const URL_START = /^rediss?(\+sentinel)?:\/\//i;
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
        problems.push(`${where}the name "${candidate.slice(0, 32)}" must be 1-32 letters, digits, _ . or - (starting with a letter or digit)`);
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
 * How a target is shown (header, switcher, logs, start-up lines): a URL with its password replaced by `***`; a
 * Sentinel group as `redis+sentinel://user:***@host:port,…/master`, without the sentinels' credentials.
 */
export function targetLabel(t: TargetConfig): string {
  if (t.label) return t.label;
  if (t.kind === 'url') return maskRedisUrl(t.url);
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
