import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseTargets, type TargetConfig } from './targets';

/**
 * Catches the keys of the common lock libraries with a single SCAN pass (one pattern = one pass over the
 * keyspace): `lock:*` (python-redis-lock), `job-lock:*` (ShedLock), `bull:*:lock` (BullMQ), Redisson and
 * redlock names that contain "lock" in any case.
 */
export const DEFAULT_LOCK_PATTERNS = ['*[lL][oO][cC][kK]*'];
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
      'Redis to inspect, e.g. redis://:pass@host:6379/0, or several named ones: prod=rediss://…,staging=redis://… ' +
      '(one dashboard, a switcher between them). Absent: start a private embedded redis-server',
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
  scanCount: { env: 'SCAN_COUNT', flag: 'scan-count', help: `COUNT hint per SCAN call (default ${DEFAULT_SCAN_COUNT})` },
  pollMs: {
    env: 'POLL_MS',
    flag: 'poll-ms',
    help: 'Probe interval in ms when keyspace notifications are unavailable (default 1000)',
  },
  configureNotifications: {
    env: 'CONFIGURE_NOTIFICATIONS',
    flag: 'configure-notifications',
    help: 'Let lockscope add Kg$xhe to notify-keyspace-events on an external Redis (never done without this flag)',
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
  lockPatterns: z
    .string()
    .transform((v) => [...new Set(v.split(',').map((p) => p.trim()).filter(Boolean))])
    .refine((v) => v.length > 0, { message: 'must list at least one glob pattern' })
    .default(DEFAULT_LOCK_PATTERNS),
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
  trustProxy: z
    .string()
    .transform((v, ctx) => {
      const parsed = parseTrustProxy(v);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    })
    .default(false),
}).superRefine((c, ctx) => {
  if (c.adminToken && c.adminTokenSha256) {
    ctx.addIssue({ code: 'custom', path: ['adminTokenSha256'], message: 'set either ADMIN_TOKEN or ADMIN_TOKEN_SHA256, not both' });
  }
});

export type Config = Omit<z.output<typeof schema>, 'redisUrl'> & {
  /** The Redis deployments to watch, in order (the first is the default view); empty = the embedded Redis. */
  targets: TargetConfig[];
};

export type ConfigResult =
  | { kind: 'ok'; config: Config }
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'error'; problems: string[] };

/**
 * Resolves the configuration from environment and CLI flags (flags win). Pure: no I/O, reports every problem
 * at once, each naming the setting the user has to fix.
 */
export function resolveConfig(env: Record<string, string | undefined>, argv: string[]): ConfigResult {
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
  const parsed = schema.safeParse(raw);
  if (parsed.success) {
    const { redisUrl, ...rest } = parsed.data;
    return { kind: 'ok', config: { ...rest, targets: redisUrl ?? [] } };
  }
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path[0] as SettingName | undefined;
    const s: Setting | undefined = name ? SETTINGS[name] : undefined;
    const shown = s ? `${s.env} (--${s.flag})` : 'config';
    const value = name && name !== 'redisUrl' && !s?.secret ? ` = ${JSON.stringify(raw[name])}` : '';
    return `${shown}${value}: ${issue.message}`;
  });
  return { kind: 'error', problems };
}

export function helpText(): string {
  const rows = Object.values(SETTINGS).map((s: Setting) => `  --${s.flag.padEnd(22)} ${s.env.padEnd(18)} ${s.help}`);
  return [
    'lockscope — live dashboard for distributed locks in Redis',
    '',
    'Usage: lockscope [flags]    (in a clone: npm start -- [flags]; each flag has an environment variable, and the flag wins)',
    '',
    `  ${'flag'.padEnd(24)} ${'environment'.padEnd(18)} meaning`,
    ...rows,
    `  --${'help'.padEnd(22)} ${''.padEnd(18)} Show this help`,
    `  --${'version'.padEnd(22)} ${''.padEnd(18)} Print lockscope's version`,
  ].join('\n');
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
