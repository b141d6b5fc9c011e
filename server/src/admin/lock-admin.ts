import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReleaseOutcome, SetTtlOutcome, WakeMethod } from '../../../shared/admin';
import type { BytesView, LibraryId } from '../../../shared/locks';
import { bytesText, bytesView } from '../model/bytes';
import type { LockTracker } from '../model/lock-tracker';
import { MAX_VALUE_BYTES } from '../targets/node/probe';
import { AdminError } from './errors';
import { hashHolder, PYTHON_SIGNAL_EXPIRE_MS, wakePlan } from './wake';

/**
 * Shared head of both scripts: confirms that KEYS[1] still has the owner ARGV[1] (string: the whole value;
 * hash: a holder field of that name). Otherwise returns what is there instead, and the script stops.
 * ARGV[2] = most bytes of a string value returned as the current owner. ARGV[7] = '1' when the named holder
 * must be the only one (release), else ''.
 */
const CHECK_OWNER = `
local key = KEYS[1]
local owner = ARGV[1]
local t = redis.call('TYPE', key).ok
if t == 'none' then return {'gone', t} end
if t == 'string' then
  if redis.call('STRLEN', key) ~= #owner or redis.call('GET', key) ~= owner then
    return {'changed', t, redis.call('GETRANGE', key, 0, tonumber(ARGV[2]) - 1)}
  end
elseif t == 'hash' then
  local names = {}
  if redis.call('HLEN', key) <= 32 then
    names = redis.call('HKEYS', key)
  else
    local page = redis.call('HSCAN', key, 0, 'COUNT', 32)[2]
    for i = 1, #page, 2 do names[#names + 1] = page[i] end
  end
  -- 'mode' is a Redisson read-write lock's bookkeeping, never a holder: naming it proves nothing.
  if owner == 'mode' or redis.call('HEXISTS', key, owner) == 0 then
    return {'changed', t, names}
  end
  if ARGV[7] == '1' then
    -- Releasing deletes the whole hash: refuse while anyone but the named holder holds it (other readers of a
    -- read-write lock). The same thread's writer and reader fields (<id>:<tid>:write, <id>:<tid>) are one holder.
    local base = owner
    if string.sub(owner, -6) == ':write' then base = string.sub(owner, 1, -7) end
    if redis.call('HLEN', key) > 32 then return {'shared', t, names} end
    for _, name in ipairs(names) do
      if name ~= 'mode' and name ~= base and name ~= base .. ':write' then return {'shared', t, names} end
    end
  end
else
  return {'wrong-type', t}
end
`;

/**
 * Force-release: compare-and-delete, then wake waiters the library's way, all in one atomic script.
 * KEYS[2] = python-redis-lock signal list, pushed when ARGV[3] = '1' and the lock is a string (else KEYS[1] again).
 * ARGV[4] = signal list expiry (ms). ARGV[5] / ARGV[6] = Redisson lock / read-write lock channel, published on
 * when non-empty and the lock is a hash. KEYS[3] / KEYS[4] = a Redisson fair lock's waiter queue and timeouts
 * (else KEYS[1]): when the queue exists, the script does what RedissonFairLock's unlock does instead — drop the
 * waiters at its head whose wait has ended, then wake the first in line on `<ARGV[5]>:<its id>`.
 * ARGV[8..] = Spring RedisLockRegistry unlock channels, each published the key (as Spring's own unlock script
 * does) when the lock is a string.
 */
const RELEASE_LUA = `${CHECK_OWNER}
local woke = ''
if t == 'string' then
  if ARGV[3] == '1' then
    redis.call('DEL', KEYS[2])
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
    woke = 'python-redis-lock'
  end
  redis.call('DEL', key)
  if #ARGV >= 8 then
    for i = 8, #ARGV do redis.call('PUBLISH', ARGV[i], key) end
    woke = 'spring'
  end
else
  local rw = redis.call('HEXISTS', key, 'mode') == 1
  redis.call('DEL', key)
  if ARGV[5] ~= '' and not rw and redis.call('TYPE', KEYS[3]).ok == 'list' then
    local now = redis.call('TIME')
    now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    while true do
      local first = redis.call('LINDEX', KEYS[3], 0)
      if not first then break end
      local timeout = tonumber(redis.call('ZSCORE', KEYS[4], first))
      if timeout and timeout > now then break end
      redis.call('ZREM', KEYS[4], first)
      redis.call('LPOP', KEYS[3])
    end
    local nextWaiter = redis.call('LINDEX', KEYS[3], 0)
    if nextWaiter then redis.call('PUBLISH', ARGV[5] .. ':' .. nextWaiter, 0) end
    woke = 'redisson-fair'
  elseif ARGV[5] ~= '' then
    if rw then redis.call('PUBLISH', ARGV[6], 1) else redis.call('PUBLISH', ARGV[5], 0) end
    woke = 'redisson'
  end
end
return {'released', t, woke}
`;

/**
 * Set TTL: only on a lock that still has the owner and no TTL. ARGV[3] = TTL in ms. A TTL takes the lock from
 * no live holder (their renewals go on), so other holders of a shared hash do not stop it.
 */
const SET_TTL_LUA = `${CHECK_OWNER}
local pttl = redis.call('PTTL', key)
if pttl >= 0 then return {'has-ttl', t, pttl} end
redis.call('PEXPIRE', key, ARGV[3])
return {'ttl-set', t}
`;

/** What the release script says it did → the wire name. */
const WOKE: Record<string, WakeMethod> = {
  redisson: 'redisson-channel',
  'redisson-fair': 'redisson-fair-queue',
  'python-redis-lock': 'python-redis-lock-signal',
  spring: 'spring-channel',
};

type ScriptReply = [Buffer, Buffer, (Buffer | Buffer[] | number)?];

interface AdminCommands {
  lockscopeForceReleaseBuffer(key: Buffer, signalKey: Buffer, fairQueue: Buffer, fairTimeouts: Buffer, ...args: (Buffer | string | number)[]): Promise<ScriptReply>;
  lockscopeSetTtlBuffer(key: Buffer, ...args: (Buffer | string | number)[]): Promise<ScriptReply>;
}

export interface LockAdminDeps {
  /** A connection for commands on any of the target's keys (`Target.keyed`). */
  redis: Redis;
  tracker: LockTracker;
  /** Probes a key on the node that owns it (the target). */
  /**
   * The target: told after each action, it notes the action in the lock's history and looks at the key now (on a
   * replica that follows another, the leader does both).
   */
  inspector: { afterAction(id: string, key: Buffer, kind: 'force-released' | 'ttl-set', pttlMs: number): void };
  logger: Logger;
}

export interface ActionResult<T> {
  outcome: T;
  /** Library of the tracked lock when the action ran. */
  library: LibraryId | null;
}

/**
 * The two things lockscope ever writes to a lock: a checked delete and a checked TTL. Each is one atomic step
 * in Redis (DELEX IFEQ where the server has it, a script otherwise), so a lock that changed hands between the
 * operator looking and clicking is never touched.
 */
export class LockAdmin {
  private delexSupport: Promise<boolean> | null = null;

  constructor(private readonly deps: LockAdminDeps) {
    const { redis } = deps;
    if (!('lockscopeForceRelease' in redis)) redis.defineCommand('lockscopeForceRelease', { numberOfKeys: 4, lua: RELEASE_LUA });
    if (!('lockscopeSetTtl' in redis)) redis.defineCommand('lockscopeSetTtl', { numberOfKeys: 1, lua: SET_TTL_LUA });
    // A reconnect may land on another server (failover, upgrade): ask again.
    redis.on('ready', () => (this.delexSupport = null));
  }

  async release(key: Buffer, owner: Buffer): Promise<ActionResult<ReleaseOutcome>> {
    const { id, library, type } = this.tracked(key);
    const plan = wakePlan(key, owner);
    // DELEX cannot wake anyone: locks whose library has waiters to wake go through the script.
    if (type === 'string' && !plan.pythonSignal && !plan.springChannels.length && (await this.hasDelex())) {
      if ((await this.delex(key, owner)) === 1) {
        this.afterChange(id, key, 'force-released', -2);
        return { outcome: { result: 'released', woke: null, via: 'delex' }, library };
      }
      // 0: gone, another owner, or no longer a string. The script below tells which (and, should the named owner
      // be back by now, releases it: it is still the lock the operator asked about).
    }
    const cmd = this.deps.redis as unknown as AdminCommands;
    const reply = await cmd.lockscopeForceReleaseBuffer(
      key,
      plan.pythonSignal ?? key,
      plan.redisson?.fairQueue ?? key,
      plan.redisson?.fairTimeouts ?? key,
      owner,
      MAX_VALUE_BYTES,
      plan.pythonSignal ? '1' : '',
      PYTHON_SIGNAL_EXPIRE_MS,
      plan.redisson?.channel ?? '',
      plan.redisson?.rwChannel ?? '',
      '1',
      ...plan.springChannels,
    );
    const [status, typeBuf, extra] = reply;
    switch (status.toString()) {
      case 'released': {
        this.afterChange(id, key, 'force-released', -2);
        const woke = Buffer.isBuffer(extra) ? extra.toString() : '';
        return {
          outcome: {
            result: 'released',
            woke: WOKE[woke] ?? null,
            via: 'lua',
          },
          library,
        };
      }
      case 'changed':
        return { outcome: { result: 'owner-changed', currentOwner: currentOwner(extra) }, library };
      case 'shared':
        return { outcome: { result: 'shared', holders: holderViews(extra) }, library };
      case 'gone':
        return { outcome: { result: 'already-gone' }, library };
      default:
        throw unsupportedType(key, typeBuf.toString());
    }
  }

  async setTtl(key: Buffer, owner: Buffer, ttlMs: number): Promise<ActionResult<SetTtlOutcome>> {
    const { id, library } = this.tracked(key);
    const cmd = this.deps.redis as unknown as AdminCommands;
    const [status, typeBuf, extra] = await cmd.lockscopeSetTtlBuffer(key, owner, MAX_VALUE_BYTES, ttlMs);
    switch (status.toString()) {
      case 'ttl-set':
        this.afterChange(id, key, 'ttl-set', ttlMs);
        return { outcome: { result: 'ttl-set', ttlMs }, library };
      case 'has-ttl':
        return { outcome: { result: 'has-ttl', pttlMs: typeof extra === 'number' ? extra : Number(extra) }, library };
      case 'changed':
        return { outcome: { result: 'owner-changed', currentOwner: currentOwner(extra) }, library };
      case 'gone':
        return { outcome: { result: 'already-gone' }, library };
      default:
        throw unsupportedType(key, typeBuf.toString());
    }
  }

  /**
   * Only keys lockscope tracks as locks (they match LOCK_PATTERNS and are in the table, or ended less than
   * 10 s ago) can be acted on: the admin API is not a general "delete any key" endpoint.
   */
  private tracked(key: Buffer) {
    const id = key.toString('base64');
    const view = this.deps.tracker.get(id);
    if (!view) {
      throw new AdminError(
        404,
        'unknown_key',
        `lockscope is not tracking "${bytesText(key.subarray(0, 200))}" as a lock (it matches none of the lock patterns, or it has not been seen): nothing was changed.`,
      );
    }
    return { id, library: view.library, type: view.type };
  }

  private afterChange(id: string, key: Buffer, kind: 'force-released' | 'ttl-set', pttlMs: number): void {
    this.deps.inspector.afterAction(id, key, kind, pttlMs);
  }

  /** Whether the server has `DELEX` (Redis 8.4+, Valkey 9.2+). Asked once per connection. */
  hasDelex(): Promise<boolean> {
    this.delexSupport ??= (this.deps.redis.call('COMMAND', 'INFO', 'DELEX') as Promise<unknown[]>).then(
      (reply) => Array.isArray(reply) && reply[0] !== null && reply[0] !== undefined,
      (err: Error) => {
        this.delexSupport = null;
        this.deps.logger.debug({ err: err.message }, 'COMMAND INFO DELEX failed; using the Lua script');
        return false;
      },
    );
    return this.delexSupport;
  }

  /** `DELEX key IFEQ owner`: 1 = deleted; 0 = not (gone, other owner, or not a string). */
  private async delex(key: Buffer, owner: Buffer): Promise<number> {
    try {
      return Number(await this.deps.redis.call('DELEX', key, 'IFEQ', owner));
    } catch (err) {
      if (/^WRONGTYPE/.test((err as Error).message)) return 0;
      throw err;
    }
  }
}

function currentOwner(extra: ScriptReply[2]): BytesView | null {
  if (Buffer.isBuffer(extra)) return bytesView(extra);
  if (Array.isArray(extra)) {
    const holder = hashHolder(extra);
    return holder ? bytesView(holder) : null;
  }
  return null;
}

/** The holder fields of a shared hash (its `mode` bookkeeping left out). */
function holderViews(extra: ScriptReply[2]): BytesView[] {
  return Array.isArray(extra) ? extra.filter((f) => f.toString('latin1') !== 'mode').map((f) => bytesView(f)) : [];
}

function unsupportedType(key: Buffer, type: string): AdminError {
  return new AdminError(
    409,
    'unsupported_type',
    `"${bytesText(key.subarray(0, 200))}" is a ${type}: lockscope only changes string and hash locks, so nothing was changed.`,
  );
}
