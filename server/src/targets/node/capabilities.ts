import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Capability, MissingCapability } from '../../../../shared/status';
import { refusalOf } from './refusal';
import { stateKey } from './state-keys';

/** What each missing capability costs (a fallback, or blindness), as the header, log and README say it. */
export const EFFECTS: Record<Capability, { effect: string; blinds: boolean }> = {
  scan: { effect: 'lockscope cannot list keys: no lock is shown, so an empty table means nothing.', blinds: true },
  read: { effect: 'lockscope cannot read lock keys (type, TTL, owner): no lock is shown, so an empty table means nothing.', blinds: true },
  keys: { effect: 'Keys matching the lock patterns that this user may not read are counted but not shown.', blinds: false },
  eval: {
    effect:
      'Probes run as pipelined commands instead of one script: more round trips per batch, and a key is not read atomically (a change between reads is read again).',
    blinds: false,
  },
  info: { effect: 'Restarts are detected by another signal than INFO run_id (below), and the Redis version is read from HELLO.', blinds: false },
  config: {
    effect: 'Whether keyspace notifications are on cannot be read: polling, unless test events prove they arrive.',
    blinds: false,
  },
  'config-set': { effect: 'lockscope may not switch keyspace notifications on: it follows the server\'s own setting.', blinds: false },
  psubscribe: { effect: 'No keyspace notifications: polling every POLL_MS, so changes show with that delay.', blinds: false },
  client: { effect: 'Connections are unnamed in CLIENT LIST, and client ids cannot serve as a restart signal.', blinds: false },
  'state-write': {
    effect: 'No marker key under lockscope:state: (restart detection without INFO) and no test events to prove notifications.',
    blinds: false,
  },
};

/** A key in lockscope's own space that never exists: command checks read it, so they touch nothing of the user's. */
const CHECK_KEY = stateKey('capability-check');
/** `return 1`, by SHA1: EVALSHA of it answers NOSCRIPT (allowed) or NOPERM (refused). */
const RETURN_ONE = 'return 1';
const RETURN_ONE_SHA = 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db';

/**
 * Every read command the probe script (and its pipelined fallback) may run, on a key that does not exist: each
 * answers harmlessly when allowed. PEXPIRETIME only on Redis ≥ 7 (older servers have none and the probe uses PTTL).
 */
function readChecks(hasExpireTime: boolean): (string | number)[][] {
  const k = CHECK_KEY;
  const checks: (string | number)[][] = [
    ['TYPE', k],
    ['PTTL', k],
    ['GETRANGE', k, 0, 0],
    ['STRLEN', k],
    ['HLEN', k],
    ['HKEYS', k],
    ['HSTRLEN', k, 'f'],
    ['HGET', k, 'f'],
    ['HEXISTS', k, 'f'],
    ['HSCAN', k, 0, 'COUNT', 1],
    ['LLEN', k],
    ['SCARD', k],
    ['ZCARD', k],
    ['XLEN', k],
    ['TIME'],
  ];
  if (hasExpireTime) checks.push(['PEXPIRETIME', k]);
  return checks;
}

export interface CapabilityCheck {
  /** Keyspace channel patterns lockscope subscribes to (checked with ACL DRYRUN where it is allowed). */
  channels: string[];
  /** Whether lockscope would set `notify-keyspace-events` (only then does CONFIG SET matter). */
  configureNotifications: boolean;
  /** Whether the server has PEXPIRETIME (Redis ≥ 7), when known. */
  hasExpireTime: boolean;
}

/**
 * What a node's Redis user may do, for everything lockscope relies on. `check()` runs at start-up and after each
 * reconnect: harmless command-level probes in one pipeline (a read of a key that does not exist, `EVAL return 1`,
 * INFO, CONFIG GET, CLIENT ID), plus `ACL DRYRUN` where the user may run it, for what cannot be tried without an
 * effect (PSUBSCRIBE's channels, CONFIG SET, writing lockscope's own keys). Whatever is not known in advance is
 * learnt the first time Redis refuses it (`refuse`). A change emits `change`.
 */
export class Capabilities extends EventEmitter<{ change: [] }> {
  private missing = new Map<Capability, MissingCapability>();
  /** Keys SCAN listed that the user may not read (key permissions), by id; bounded, and cleared by each check. */
  readonly unreadable = new Set<string>();

  has(capability: Capability): boolean {
    return !this.missing.has(capability);
  }

  /** The missing ones, in the order of `EFFECTS`. */
  list(): MissingCapability[] {
    return (Object.keys(EFFECTS) as Capability[]).flatMap((c) => this.missing.get(c) ?? []);
  }

  /** lockscope cannot list this node's locks. */
  get blind(): boolean {
    for (const m of this.missing.values()) if (m.blinds) return true;
    return false;
  }

  /** Redis refused `capability` (at run time, or in a check): true when that is news. */
  refuse(capability: Capability, detail: string, effect = EFFECTS[capability].effect): boolean {
    const known = this.missing.get(capability);
    if (known && known.detail === detail && known.effect === effect) return false;
    this.missing.set(capability, { capability, detail: detail.slice(0, 300), effect, blinds: EFFECTS[capability].blinds });
    this.emit('change');
    return !known;
  }

  /** `capability` worked after all (a later attempt succeeded). */
  grant(capability: Capability): void {
    if (this.missing.delete(capability)) this.emit('change');
  }

  /** A key of the lock patterns the user may not read. */
  markUnreadable(id: string): void {
    if (this.unreadable.has(id) || this.unreadable.size >= MAX_UNREADABLE) return;
    this.unreadable.add(id);
    if (this.unreadable.size === 1) this.refuse('keys', 'NOPERM: no permission to read some keys matching the lock patterns');
  }

  /** Checks everything from scratch (start-up, reconnect). Connection errors propagate: the caller retries. */
  async check(redis: Redis, what: CapabilityCheck): Promise<void> {
    const found = new Map<Capability, string>();
    const pipeline = redis.pipeline();
    const probes: [Capability, number][] = [];
    const add = (capability: Capability, args: (string | number)[]) => {
      pipeline.call(String(args[0]), ...args.slice(1));
      probes.push([capability, probes.length]);
    };
    add('scan', ['SCAN', 0, 'MATCH', CHECK_KEY, 'COUNT', 1]);
    const typeCheck = probes.length;
    for (const args of readChecks(what.hasExpireTime)) add('read', args);
    add('eval', ['EVAL', RETURN_ONE, 0]);
    add('eval', ['EVALSHA', RETURN_ONE_SHA, 0]);
    // A script's keys need write permission: a user that may read a key (TYPE above) may still not script it.
    const evalOnKey = probes.length;
    pipeline.call('EVAL', RETURN_ONE, 1, CHECK_KEY);
    probes.push(['eval', -1]);
    add('info', ['INFO', 'server']);
    add('config', ['CONFIG', 'GET', 'notify-keyspace-events']);
    add('client', ['CLIENT', 'ID']);
    const replies = (await pipeline.exec()) ?? [];
    for (const [capability, i] of probes) {
      const err = i >= 0 ? replies[i]?.[0] : null;
      // A key refusal means the command itself is allowed (commands are checked first); NOSCRIPT means EVALSHA is.
      if (err && refusalOf(err) === 'command' && !found.has(capability)) found.set(capability, err.message);
    }
    const scriptKeyErr = replies[evalOnKey]?.[0];
    if (!replies[typeCheck]?.[0] && scriptKeyErr && refusalOf(scriptKeyErr) === 'key' && !found.has('eval')) {
      found.set('eval', `${scriptKeyErr.message} (a script's keys need write permission: %R~ allows reads only)`);
    }
    await this.dryRun(redis, what, found);
    this.missing = new Map([...found].map(([c, detail]) => [c, { capability: c, detail: detail.slice(0, 300), ...EFFECTS[c] }]));
    this.unreadable.clear();
    this.emit('change');
  }

  /**
   * `ACL DRYRUN <me> …` for what cannot be tried harmlessly. Most restricted users may not run it (it is
   * `@dangerous`); then these are learnt when lockscope first needs them.
   */
  private async dryRun(redis: Redis, what: CapabilityCheck, found: Map<Capability, string>): Promise<void> {
    let user: string;
    try {
      user = String(await redis.call('ACL', 'WHOAMI'));
    } catch {
      return;
    }
    const checks: [Capability, (string | number)[]][] = what.channels.map((c) => ['psubscribe', ['PSUBSCRIBE', c]]);
    checks.push(['state-write', ['SET', stateKey('marker'), '1']]);
    if (what.configureNotifications) checks.push(['config-set', ['CONFIG', 'SET', 'notify-keyspace-events', 'KEA']]);
    const pipeline = redis.pipeline();
    for (const [, args] of checks) pipeline.call('ACL', 'DRYRUN', user, ...args);
    const replies = (await pipeline.exec()) ?? [];
    checks.forEach(([capability, args], i) => {
      const [err, reply] = replies[i] ?? [];
      if (err) return; // DRYRUN itself refused (or Redis < 7): nothing learnt
      const text = String(reply);
      if (text !== 'OK' && !found.has(capability)) found.set(capability, `ACL DRYRUN ${args[0]}: ${text}`);
    });
  }
}

/** Unreadable keys remembered per node (each costs a retry of its own when found again otherwise). */
const MAX_UNREADABLE = 100_000;
