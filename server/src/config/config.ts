import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { BUILTIN_PATTERNS, lockFormatsSchema, type DeclaredFormat } from '../libraries';
import { parseSentinelList, parseTargets, usesTls, type TargetConfig } from './targets';

export { maskRedisUrl } from './targets';

/**
 * The union of the lock libraries' own patterns (server/src/libraries/) and the generic "lock" glob, less those
 * a broader one covers: `*[lL][oO][cC][kK]*` (any name with "lock": python-redis-lock's `lock:*`, ShedLock's
 * `job-lock:*`, BullMQ's `bull:*:lock`, RedLock.net's `redlock:*`, Redisson and redlock names…), `mutex:*`
 * (redis-semaphore's Mutex) and `*[sS][eE][mM][aA][pP][hH][oO][rR][eE]*` (redis-semaphore's semaphores, Redisson
 * semaphores). Discovery walks the keyspace once for all of them (see targets/node/scan-plan.ts).
 */
export const DEFAULT_LOCK_PATTERNS: readonly string[] = BUILTIN_PATTERNS;
/** SCAN COUNT hint: at 1000 one SCAN call costs Redis ~0.6–1 ms on a 1M-key keyspace; 500 keeps each call well under 1 ms at the same total time (bench/inspector-discovery.ts). */
export const DEFAULT_SCAN_COUNT = 500;

interface Setting {
  env: string;
  flag: string;
  help: string;
  boolean?: boolean;
  /** Never echoed back in error messages or logs. */
  secret?: boolean;
}

/** Every setting, once: the environment variable, its CLI flag, and what it does. */
export const SETTINGS = {
  port: { env: 'PORT', flag: 'port', help: 'HTTP port of the dashboard (default 7070; 0 = any free port)' },
  host: { env: 'HOST', flag: 'host', help: 'Interface to listen on (default 127.0.0.1)' },
  redisUrl: {
    env: 'REDIS_URL',
    flag: 'redis-url',
    help:
      'Redis to inspect, e.g. redis://user:pass@host:6379/0, a Sentinel group redis+sentinel://[user:pass@]host:26379,host:26379/mymaster, ' +
      'or several named ones: prod=rediss://…,staging=redis://… (one dashboard, a switcher between them). Absent: start a private embedded redis-server',
  },
  redisSentinels: {
    env: 'REDIS_SENTINELS',
    flag: 'redis-sentinels',
    help: 'Sentinels to find the master through, host:port,host:port (with REDIS_SENTINEL_MASTER; instead of REDIS_URL). Several Sentinel groups: REDIS_URL=prod=redis+sentinel://…',
  },
  redisSentinelMaster: {
    env: 'REDIS_SENTINEL_MASTER',
    flag: 'redis-sentinel-master',
    help: 'The name the sentinels monitor the master under (sentinel monitor <name> …), e.g. mymaster',
  },
  redisSentinelUsername: {
    env: 'REDIS_SENTINEL_USERNAME',
    flag: 'redis-sentinel-username',
    help: 'ACL user on the sentinels (for REDIS_SENTINELS and any redis+sentinel:// URL that names none)',
  },
  redisSentinelPassword: {
    env: 'REDIS_SENTINEL_PASSWORD',
    flag: 'redis-sentinel-password',
    help: "The sentinels' password (their requirepass), for REDIS_SENTINELS and any redis+sentinel:// URL that names none",
    secret: true,
  },
  redisUsername: {
    env: 'REDIS_USERNAME',
    flag: 'redis-username',
    help: "ACL user on the master found through REDIS_SENTINELS (a URL carries its own: redis://user:password@…)",
  },
  redisPassword: {
    env: 'REDIS_PASSWORD',
    flag: 'redis-password',
    help: 'Password on the master found through REDIS_SENTINELS',
    secret: true,
  },
  redisSentinelTls: {
    env: 'REDIS_SENTINEL_TLS',
    flag: 'redis-sentinel-tls',
    help: 'TLS to the sentinels and the master of REDIS_SENTINELS (a URL says it by its scheme: rediss+sentinel://)',
    boolean: true,
  },
  redisTlsCaFile: {
    env: 'REDIS_TLS_CA_FILE',
    flag: 'redis-tls-ca-file',
    help: "PEM file of the CA(s) to trust for TLS targets (rediss://, rediss+sentinel://) instead of the system's",
  },
  redisTlsCertFile: {
    env: 'REDIS_TLS_CERT_FILE',
    flag: 'redis-tls-cert-file',
    help: 'PEM client certificate for TLS targets (servers with tls-auth-clients yes), with REDIS_TLS_KEY_FILE',
  },
  redisTlsKeyFile: {
    env: 'REDIS_TLS_KEY_FILE',
    flag: 'redis-tls-key-file',
    help: 'PEM private key (unencrypted) of REDIS_TLS_CERT_FILE',
  },
  stateRedisUrl: {
    env: 'STATE_REDIS_URL',
    flag: 'state-redis-url',
    help:
      'Where several lockscope replicas keep what they share (leader lease, change stream), under lockscope:state:. ' +
      'Default: in each watched Redis (it needs write access to lockscope:state:* there)',
    secret: true,
  },
  leaseMs: {
    env: 'LEASE_MS',
    flag: 'lease-ms',
    help: 'Leader lease of a target among lockscope replicas, in ms: a dead leader is replaced within this plus a second (default 5000)',
  },
  lockPatterns: {
    env: 'LOCK_PATTERNS',
    flag: 'lock-patterns',
    help: `Comma-separated SCAN globs for lock keys (default ${DEFAULT_LOCK_PATTERNS.join(',')})`,
  },
  lockFormats: {
    env: 'LOCK_FORMATS',
    flag: 'lock-formats',
    help: 'JSON file declaring in-house lock formats (key pattern, label, owner, renewal, force-release; schema in the README); their patterns are always scanned',
  },
  scanCount: { env: 'SCAN_COUNT', flag: 'scan-count', help: `COUNT hint per SCAN call (default ${DEFAULT_SCAN_COUNT})` },
  pollMs: {
    env: 'POLL_MS',
    flag: 'poll-ms',
    help: 'Probe interval in ms when keyspace notifications are unavailable (default 1000)',
  },
  configureNotifications: {
    env: 'CONFIGURE_NOTIFICATIONS',
    flag: 'configure-notifications',
    help: 'Let lockscope add Kg$xhze to notify-keyspace-events on an external Redis (never done without this flag)',
    boolean: true,
  },
  heldTooLongMs: {
    env: 'HELD_TOO_LONG_MS',
    flag: 'held-too-long-ms',
    help: 'Mark a lock "held too long" after this many ms with one owner (default 300000)',
  },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level', help: 'pino log level (default info)' },
  adminToken: {
    env: 'ADMIN_TOKEN',
    flag: 'admin-token',
    help: 'Token that unlocks admin actions (force-release, set TTL); at least 16 characters. Prefer the variable: flags show in ps',
    secret: true,
  },
  adminTokenSha256: {
    env: 'ADMIN_TOKEN_SHA256',
    flag: 'admin-token-sha256',
    help: 'The admin token given as its SHA-256 (64 hex digits) instead of ADMIN_TOKEN',
    secret: true,
  },
  simulator: {
    env: 'SIMULATOR',
    flag: 'simulator',
    help: 'Allow the contention simulator against an external REDIS_URL (always on with the embedded Redis); it only touches keys under lockscope:sim:',
    boolean: true,
  },
  readOnly: {
    env: 'READ_ONLY',
    flag: 'read-only',
    help: 'Refuse every admin action and the simulator, whatever else is set (READ_ONLY=1/true)',
    boolean: true,
  },
  basePath: {
    env: 'BASE_PATH',
    flag: 'base-path',
    help:
      'Serve everything under this path, e.g. /ops/locks behind a reverse proxy that keeps the prefix: the dashboard, ' +
      'the API, Socket.IO, /healthz and /metrics. Default: the root',
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    flag: 'trust-proxy',
    help:
      'Reverse proxies whose X-Forwarded-For/-Proto to believe (client address for rate limits and the audit log, Secure cookie behind TLS): ' +
      'a hop count (1), or comma-separated loopback, linklocal, uniquelocal, addresses and CIDRs. Default: none',
  },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

const int = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY → Express's `trust proxy`: `false` (none), a hop count, or a list of names, addresses and CIDRs.
 * `true` (every hop) is refused: any client could then choose the address it is rate-limited and audited under.
 */
export function parseTrustProxy(value: string): { ok: true; value: false | number | string[] } | { ok: false; problem: string } {
  const v = value.trim().toLowerCase();
  if (['0', 'false', 'no', 'off', 'none'].includes(v)) return { ok: true, value: false };
  if (['true', 'yes', 'on', 'all', '*'].includes(v)) {
    return {
      ok: false,
      problem: 'trusting every hop would let any client pick its own address; name the proxy (loopback, an address, a CIDR) or give the number of proxies in front',
    };
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops >= 1 && hops <= 10 ? { ok: true, value: hops } : { ok: false, problem: 'a hop count must be 1 to 10' };
  }
  const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
  if (!entries.length) return { ok: false, problem: 'name at least one proxy' };
  for (const e of entries) {
    if (PROXY_NAMES.includes(e)) continue;
    const [address, prefix, extra] = e.split('/');
    const family = isIP(address!);
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (!family || !prefixOk || extra !== undefined) {
      return { ok: false, problem: `"${e.slice(0, 60)}" is not ${PROXY_NAMES.join(', ')}, an IP address or a CIDR such as 10.0.0.0/8` };
    }
  }
  return { ok: true, value: entries };
}

/** Characters a base path's segments may use: RFC 3986 `pchar` without percent-encoding (so no path means two things). */
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/;

/**
 * BASE_PATH (or the embedding API's `basePath`) → `''` for the root, or `/ops/locks`: a leading slash, no trailing
 * one (`/ops/locks/` is accepted and means the same), no empty, `.` or `..` segment.
 */
export function parseBasePath(value: string): { ok: true; value: string } | { ok: false; problem: string } {
  const v = value.trim();
  if (v === '' || v === '/') return { ok: true, value: '' };
  if (!v.startsWith('/')) return { ok: false, problem: 'must start with / (e.g. /ops/locks)' };
  const path = v.endsWith('/') ? v.slice(0, -1) : v;
  for (const segment of path.slice(1).split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return { ok: false, problem: 'must not contain //, /./ or /../' };
    if (!SEGMENT.test(segment)) {
      return { ok: false, problem: `"${segment.slice(0, 40)}" may only use letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ (no percent-encoding, ? or #)` };
    }
  }
  return { ok: true, value: path };
}

/** A string setting read by `parse`, whose problem becomes the setting's. */
const parsedBy = <T>(parse: (v: string) => { ok: true; value: T } | { ok: false; problem: string }) =>
  z.string().transform((v, ctx) => {
    const parsed = parse(v);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  });

/** A flag (`--read-only`, boolean) or its variable (`READ_ONLY=1/true/yes/on` or `0/false/no/off`); default off. */
const bool = () =>
  z
    .union([z.boolean(), z.string()])
    .transform((v, ctx) => {
      if (typeof v === 'boolean') return v;
      const s = v.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be 1/true or 0/false' });
      return z.NEVER;
    })
    .default(false);

const schema = z.object({
  port: int(0, 65535).default(7070),
  host: z.string().min(1).default('127.0.0.1'),
  redisUrl: z
    .string()
    .transform((v, ctx) => {
      const parsed = parseTargets(v);
      if (parsed.ok) return parsed.targets;
      for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    })
    .optional(),
  stateRedisUrl: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v) && URL.canParse(v) && new URL(v).hostname !== '', { message: 'must be a redis:// or rediss:// URL' })
    .optional(),
  leaseMs: int(1000, 120_000).default(5000),
  redisSentinels: z
    .string()
    .transform((v, ctx) => {
      const problems: string[] = [];
      const list = parseSentinelList(v, problems);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return problems.length ? z.NEVER : list;
    })
    .optional(),
  redisSentinelMaster: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1-64 letters, digits, _ . : or -' }).optional(),
  redisSentinelUsername: z.string().optional(),
  redisSentinelPassword: z.string().optional(),
  redisUsername: z.string().optional(),
  redisPassword: z.string().optional(),
  redisSentinelTls: bool(),
  redisTlsCaFile: z.string().optional(),
  redisTlsCertFile: z.string().optional(),
  redisTlsKeyFile: z.string().optional(),
  lockPatterns: z
    .union([z.string().transform((v) => v.split(',')), z.array(z.string())])
    .transform((v) => [...new Set(v.map((p) => p.trim()).filter(Boolean))])
    .refine((v) => v.length > 0, { message: 'must list at least one glob pattern' })
    .default([...DEFAULT_LOCK_PATTERNS]),
  scanCount: int(10, 100_000).default(DEFAULT_SCAN_COUNT),
  pollMs: int(50, 60_000).default(1000),
  configureNotifications: bool(),
  heldTooLongMs: int(1000, 30 * 24 * 3600 * 1000).default(300_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** SHA-256 (hex) of ADMIN_TOKEN: the token itself is hashed on arrival and never kept in the config. */
  adminToken: z
    .string()
    .min(16, { message: 'must be at least 16 characters' })
    .transform((v) => createHash('sha256').update(v, 'utf8').digest('hex'))
    .optional(),
  /** ADMIN_TOKEN_SHA256, lower-cased hex. */
  adminTokenSha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { message: 'must be 64 hex digits (a SHA-256 digest)' })
    .transform((v) => v.toLowerCase())
    .optional(),
  simulator: bool(),
  readOnly: bool(),
  trustProxy: parsedBy(parseTrustProxy).default(false),
  basePath: parsedBy(parseBasePath).default(''),
}).superRefine((c, ctx) => {
  if (c.adminToken && c.adminTokenSha256) {
    ctx.addIssue({ code: 'custom', path: ['adminTokenSha256'], message: 'set either ADMIN_TOKEN or ADMIN_TOKEN_SHA256, not both' });
  }
});

/** The settings that describe where Redis is: folded into `targets` (and `tlsFiles`) by `targetsOf`. */
const WHERE_SETTINGS = [
  'redisUrl',
  'redisSentinels',
  'redisSentinelMaster',
  'redisSentinelUsername',
  'redisSentinelPassword',
  'redisUsername',
  'redisPassword',
  'redisSentinelTls',
  'redisTlsCaFile',
  'redisTlsCertFile',
  'redisTlsKeyFile',
] as const satisfies readonly SettingName[];
type WhereSettings = (typeof WHERE_SETTINGS)[number];

export type Config = Omit<z.output<typeof schema>, WhereSettings> & {
  /** The Redis deployments to watch, in order (the first is the default view); empty = the embedded Redis. */
  targets: TargetConfig[];
  /** Formats declared in the LOCK_FORMATS file, or given to createLockscope (empty without either). */
  lockFormats: DeclaredFormat[];
  /** The file they came from, for the start-up banner (null when none, or given as objects). */
  lockFormatsPath: string | null;
  /**
   * REDIS_TLS_*_FILE paths, for every TLS target. Read and checked at start-up by `applyTlsFiles` (tls-files.ts), which puts their
   * PEM text into each TLS target's `tls`.
   */
  tlsFiles: TlsFiles;
};

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export type ConfigResult =
  | { kind: 'ok'; config: Config }
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'error'; problems: string[] };

/**
 * Resolves the configuration from environment and CLI flags (flags win). Reads nothing but the LOCK_FORMATS file,
 * through `readFile`; reports every problem at once, each naming the setting (and in the file, the field) to fix.
 */
export function resolveConfig(
  env: Record<string, string | undefined>,
  argv: string[],
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ConfigResult {
  const options = Object.fromEntries(
    Object.values(SETTINGS).map((s: Setting) => [s.flag, { type: s.boolean ? 'boolean' : 'string' } as const]),
  );
  let flags: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
      allowPositionals: true,
    });
    if (parsed.positionals.length) return { kind: 'error', problems: [`unexpected argument: ${parsed.positionals[0]}`] };
    flags = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    return { kind: 'error', problems: [`${(err as Error).message} (see --help)`] };
  }
  if (flags.help) return { kind: 'help', text: helpText() };
  if (flags.version) return { kind: 'version' };

  const raw: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const value = flags[s.flag] ?? env[s.env];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const parsed = parseSettings(raw, settingName, readFile);
  return parsed.ok ? { kind: 'ok', config: parsed.config } : { kind: 'error', problems: parsed.problems };
}

/**
 * Validates settings given by name (from the environment and flags, or from the embedding API's options), every
 * problem at once, each as `<shown name> = <value>: <problem>` (secrets and Redis URLs never echoed). `lockFormats`
 * is a LOCK_FORMATS file's path, read through `readFile`, or (embedded) the file's content or its `formats` array.
 * The "where is Redis" settings (REDIS_URL, REDIS_SENTINELS, …) become `targets` and `tlsFiles`.
 */
export function parseSettings(
  raw: Partial<Record<SettingName, unknown>>,
  shown: (name: SettingName) => string,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { ok: true; config: Config } | { ok: false; problems: string[] } {
  const { lockFormats: declared, ...settings } = raw;
  const parsed = schema.safeParse(settings);
  const formatsPath = typeof declared === 'string' ? declared : null;
  const formats =
    declared === undefined
      ? { formats: [], problems: [] }
      : formatsPath !== null
        ? loadLockFormats(formatsPath, readFile)
        : checkLockFormats(Array.isArray(declared) ? { formats: declared } : declared);
  const where = parsed.success ? targetsOf(parsed.data) : null;
  if (parsed.success && where && !where.problems.length && !formats.problems.length) {
    const rest = Object.fromEntries(Object.entries(parsed.data).filter(([k]) => !(WHERE_SETTINGS as readonly string[]).includes(k))) as Omit<
      z.output<typeof schema>,
      WhereSettings
    >;
    // Declared formats' keys are scanned whatever LOCK_PATTERNS says: that is what declaring them is for.
    const lockPatterns = [...new Set([...rest.lockPatterns, ...formats.formats.map((f) => f.keyPattern)])];
    return {
      ok: true,
      config: { ...rest, targets: where.targets, tlsFiles: where.tlsFiles, lockPatterns, lockFormats: formats.formats, lockFormatsPath: formatsPath },
    };
  }
  const problems = (parsed.success ? [] : parsed.error.issues).map((issue) => {
    const name = issue.path[0] as SettingName | undefined;
    const s: Setting | undefined = name ? SETTINGS[name] : undefined;
    const label = name && s ? shown(name) : 'config';
    const value = name && name !== 'redisUrl' && !s?.secret ? ` = ${JSON.stringify(raw[name])}` : '';
    return `${label}${value}: ${issue.message}`;
  });
  problems.push(...(where?.problems ?? []).map(([name, message]) => `${shown(name)}: ${message}`));
  const source = formatsPath === null ? shown('lockFormats') : `${shown('lockFormats')} ${formatsPath}`;
  problems.push(...formats.problems.map((p) => `${source}: ${p}`));
  return { ok: false, problems };
}

/** The LOCK_FORMATS file, read and validated: its formats, or every problem, each naming the field (`formats[2].owner.pattern`). */
function loadLockFormats(path: string, readFile: (path: string) => string): { formats: DeclaredFormat[]; problems: string[] } {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    return { formats: [], problems: [`cannot be read (${(err as Error).message})`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { formats: [], problems: [`is not valid JSON (${(err as Error).message})`] };
  }
  return checkLockFormats(json);
}

/** Declared formats (`{ "formats": [ … ] }`) validated: their parsed form, or every problem, each naming the field. */
function checkLockFormats(json: unknown): { formats: DeclaredFormat[]; problems: string[] } {
  const parsed = lockFormatsSchema.safeParse(json);
  if (parsed.success) return { formats: parsed.data.formats, problems: [] };
  return {
    formats: [],
    problems: parsed.error.issues.map((issue) => {
      const field = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
      return `${field || 'the file'}: ${issue.message}`;
    }),
  };
}

/** `REDIS_SENTINELS (--redis-sentinels)`: how a problem names the setting to fix. */
export function settingName(name: SettingName): string {
  const s: Setting = SETTINGS[name];
  return `${s.env} (--${s.flag})`;
}

/**
 * The targets the "where is Redis" settings describe: REDIS_URL's list, or one Sentinel group from
 * REDIS_SENTINELS; sentinel credentials for every Sentinel target that names none; the TLS files, which only a
 * TLS target can use. Every problem names its setting (and never repeats a secret).
 */
function targetsOf(s: Pick<z.output<typeof schema>, WhereSettings>): {
  targets: TargetConfig[];
  tlsFiles: TlsFiles;
  problems: [SettingName, string][];
} {
  const problems: [SettingName, string][] = [];
  const targets: TargetConfig[] = [...(s.redisUrl ?? [])];
  if (s.redisSentinels) {
    if (s.redisUrl) problems.push(['redisSentinels', 'set either REDIS_URL or REDIS_SENTINELS (several targets: REDIS_URL=prod=redis+sentinel://host:26379/mymaster,…)']);
    if (!s.redisSentinelMaster) problems.push(['redisSentinelMaster', 'is required with REDIS_SENTINELS: the name the sentinels monitor the master under']);
    targets.push({
      kind: 'sentinel',
      name: null,
      sentinels: s.redisSentinels,
      masterName: s.redisSentinelMaster ?? '',
      db: 0,
      ...(s.redisUsername ? { username: s.redisUsername } : {}),
      ...(s.redisPassword ? { password: s.redisPassword } : {}),
      ...(s.redisSentinelTls ? { tls: {} } : {}),
    });
  } else {
    const onlyWithSentinels = ['redisSentinelMaster', 'redisUsername', 'redisPassword'] as const;
    for (const name of onlyWithSentinels) {
      if (s[name] !== undefined) problems.push([name, 'applies only with REDIS_SENTINELS (a URL carries its own credentials: redis://user:password@host)']);
    }
    if (s.redisSentinelTls) problems.push(['redisSentinelTls', 'applies only with REDIS_SENTINELS (a URL says it by its scheme: rediss+sentinel://)']);
  }
  const sentinelTargets = targets.filter((t) => t.kind === 'sentinel');
  for (const name of ['redisSentinelUsername', 'redisSentinelPassword'] as const) {
    if (s[name] === undefined) continue;
    if (!sentinelTargets.length) problems.push([name, 'applies only to Sentinel targets (REDIS_SENTINELS, or redis+sentinel:// in REDIS_URL)']);
  }
  for (const t of sentinelTargets) {
    if (s.redisSentinelUsername && t.sentinelUsername === undefined) t.sentinelUsername = s.redisSentinelUsername;
    if (s.redisSentinelPassword && t.sentinelPassword === undefined) t.sentinelPassword = s.redisSentinelPassword;
  }
  const tlsFiles: TlsFiles = {
    ...(s.redisTlsCaFile ? { ca: s.redisTlsCaFile } : {}),
    ...(s.redisTlsCertFile ? { cert: s.redisTlsCertFile } : {}),
    ...(s.redisTlsKeyFile ? { key: s.redisTlsKeyFile } : {}),
  };
  const tlsSettings = (['redisTlsCaFile', 'redisTlsCertFile', 'redisTlsKeyFile'] as const).filter((n) => s[n]);
  if (tlsSettings.length && !targets.some(usesTls)) {
    problems.push([tlsSettings[0]!, 'no target uses TLS: use a rediss:// (or rediss+sentinel://) URL, or REDIS_SENTINEL_TLS']);
  }
  if (tlsFiles.cert && !tlsFiles.key) problems.push(['redisTlsKeyFile', 'is required with REDIS_TLS_CERT_FILE: the client certificate\'s private key']);
  if (tlsFiles.key && !tlsFiles.cert) problems.push(['redisTlsCertFile', 'is required with REDIS_TLS_KEY_FILE: the certificate of that key']);
  return { targets, tlsFiles, problems };
}

export function helpText(): string {
  const flagWidth = Math.max(...Object.values(SETTINGS).map((s: Setting) => s.flag.length)) + 2;
  const envWidth = Math.max(...Object.values(SETTINGS).map((s: Setting) => s.env.length));
  const rows = Object.values(SETTINGS).map((s: Setting) => `  --${s.flag.padEnd(flagWidth)} ${s.env.padEnd(envWidth)} ${s.help}`);
  return [
    'lockscope — live dashboard for distributed locks in Redis',
    '',
    'Usage: lockscope [flags]    (in a clone: npm start -- [flags]; each flag has an environment variable, and the flag wins)',
    '',
    `  ${'flag'.padEnd(flagWidth + 2)} ${'environment'.padEnd(envWidth)} meaning`,
    ...rows,
    `  --${'help'.padEnd(flagWidth)} ${''.padEnd(envWidth)} Show this help`,
    `  --${'version'.padEnd(flagWidth)} ${''.padEnd(envWidth)} Print lockscope's version`,
  ].join('\n');
}

