import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReleaseOutcome, ReleaseScope, SetTtlOutcome, WakeMethod } from '../../../shared/admin';
import { libraryLabel } from '../../../shared/libraries';
import type { BytesView, LibraryId } from '../../../shared/locks';
import { isPlainStringDelete, PlanRefusal, type Present, type Recognition, type ReleasePlan, type ReleaseTarget } from '../libraries';
import { bytesText, bytesView } from '../model/bytes';
import { matchesAny } from '../model/glob';
import type { LockTracker } from '../model/lock-tracker';
import type { Target } from '../targets/target';
import { MAX_VALUE_BYTES, probeKeys } from '../targets/node/probe';
import { AdminError } from './errors';
import { withinSlot } from './one-slot';
import { encodePlan, encodeSetTtl, RELEASE_LUA, SET_TTL_LUA, type ScriptArg } from './release-script';

type ScriptReply = [Buffer, Buffer, (Buffer | Buffer[] | number)?, number?];

interface AdminCommands {
  lockscopeReleaseBuffer(numKeys: number, ...keysAndArgs: ScriptArg[]): Promise<ScriptReply>;
  lockscopeSetTtlBuffer(numKeys: number, ...keysAndArgs: ScriptArg[]): Promise<ScriptReply>;
}

export interface LockAdminDeps {
  /** A connection for commands on any of the target's keys (`Target.keyed`). */
  redis: Redis;
  tracker: LockTracker;
  /**
   * The target: told after each action, it notes the action in the lock's history and looks at the key now (on a
   * replica that follows another, the leader does both).
   */
  inspector: Pick<Target, 'afterAction'>;
  /** The target is a Redis Cluster now: a script's keys must share a hash slot, and Redisson wakes by SPUBLISH. */
  cluster?: () => boolean;
  logger: Logger;
  /** The lock patterns in force (LOCK_PATTERNS plus declared formats'): only keys they match can be acted on. */
  patterns: readonly string[];
}

export interface ActionResult<T> {
  outcome: T;
  /** The library of the lock as read from Redis just before the action (null when it was not there to read). */
  library: LibraryId | null;
}

/** A lock as read from Redis for an action: present, recognised, and a lock (not a helper key). */
interface ReadLock {
  id: string;
  probe: Present;
  recognition: Recognition;
}

/**
 * The two things lockscope ever writes to a lock: an owner-checked release and an owner-checked TTL. Each acts on
 * the key as Redis has it now (read just before, so a lock taken a moment ago can be acted on before the inspector
 * has seen it), and is one atomic step in Redis (DELEX IFEQ where the server has it and nobody needs waking, a
 * script otherwise), so a lock that changed hands between the operator looking and clicking is never touched.
 */
export class LockAdmin {
  /** Whether the server has a command (DELEX, SPUBLISH), asked once per connection. */
  private readonly support = new Map<string, Promise<boolean>>();
  private readonly isLockKey: (key: Buffer) => boolean;

  constructor(private readonly deps: LockAdminDeps) {
    const { redis } = deps;
    if (!('lockscopeRelease' in redis)) redis.defineCommand('lockscopeRelease', { lua: RELEASE_LUA });
    if (!('lockscopeSetTtl' in redis)) redis.defineCommand('lockscopeSetTtl', { lua: SET_TTL_LUA });
    // A reconnect may land on another server (failover, upgrade): ask again.
    redis.on('ready', () => this.support.clear());
    this.isLockKey = matchesAny(deps.patterns);
  }

  async release(key: Buffer, owner: Buffer, scope: ReleaseScope = 'lock'): Promise<ActionResult<ReleaseOutcome>> {
    const lock = await this.read(key);
    if (!lock) return { outcome: { result: 'already-gone' }, library: this.deps.tracker.get(key.toString('base64'))?.library ?? null };
    const { id, recognition } = lock;
    const library = recognition.library;
    const target = await this.target(key, owner, scope, lock);
    let plan: ReleasePlan;
    try {
      plan = this.deps.tracker.libraries.releasePlan(target);
    } catch (err) {
      if (!(err instanceof PlanRefusal)) throw err;
      throw new AdminError(409, 'release_not_allowed', `Not released: ${err.message}. Nothing was changed.`);
    }
    if (this.deps.cluster?.()) {
      const { plan: local, dropped } = withinSlot(key, plan);
      // A helper key the library keeps in another slot (python-redis-lock's signal list without a hash tag: its
      // own unlock script fails there too): released without that step rather than not at all (CROSSSLOT).
      if (dropped.length) this.deps.logger.info({ key: bytesText(key.subarray(0, 200)), dropped }, 'release steps on keys of another hash slot left out');
      plan = local;
    }
    // DELEX cannot wake anyone: locks whose library has waiters to wake go through the script.
    if (isPlainStringDelete(plan) && (await this.hasDelex())) {
      if ((await this.delex(key, owner)) === 1) {
        this.afterRelease(id, key, scope, owner);
        return { outcome: { result: 'released', woke: null, via: 'delex' }, library };
      }
      // 0: gone, another owner, or no longer a string. The script below tells which (and, should the named owner
      // be back by now, releases it: it is still the lock the operator asked about).
    }
    const { keys, args } = encodePlan(key, plan, MAX_VALUE_BYTES);
    const reply = await (this.deps.redis as unknown as AdminCommands).lockscopeReleaseBuffer(keys.length, ...keys, ...args);
    const [status, typeBuf, extra] = reply;
    switch (status.toString()) {
      case 'released': {
        this.afterRelease(id, key, scope, owner);
        const woke = Buffer.isBuffer(extra) && extra.length ? (extra.toString() as WakeMethod) : null;
        const outcome: ReleaseOutcome = { result: 'released', woke, via: 'lua' };
        if (recognition.group) outcome.freed = freedBy(scope, owner, recognition);
        return { outcome, library };
      }
      case 'changed':
        return { outcome: { result: 'owner-changed', currentOwner: this.currentOwner(key, typeBuf.toString(), extra) }, library };
      case 'shared':
        return { outcome: { result: 'shared', holders: holderViews(typeBuf.toString(), extra, plan.bookkeeping) }, library };
      case 'gone':
        return { outcome: { result: 'already-gone' }, library };
      default:
        throw unsupportedType(key, typeBuf.toString());
    }
  }

  async setTtl(key: Buffer, owner: Buffer, ttlMs: number): Promise<ActionResult<SetTtlOutcome>> {
    const lock = await this.read(key);
    if (!lock) return { outcome: { result: 'already-gone' }, library: this.deps.tracker.get(key.toString('base64'))?.library ?? null };
    const { id, recognition } = lock;
    const library = recognition.library;
    const { check, bookkeeping } = this.deps.tracker.libraries.ownerCheck(await this.target(key, owner, 'lock', lock));
    const { keys, args } = encodeSetTtl(key, check, bookkeeping, ttlMs, MAX_VALUE_BYTES);
    const [status, typeBuf, extra] = await (this.deps.redis as unknown as AdminCommands).lockscopeSetTtlBuffer(keys.length, ...keys, ...args);
    switch (status.toString()) {
      case 'ttl-set':
        this.deps.inspector.afterAction(id, key, 'ttl-set', ttlMs);
        return { outcome: { result: 'ttl-set', ttlMs }, library };
      case 'has-ttl':
        return { outcome: { result: 'has-ttl', pttlMs: typeof extra === 'number' ? extra : Number(extra) }, library };
      case 'changed':
        return { outcome: { result: 'owner-changed', currentOwner: this.currentOwner(key, typeBuf.toString(), extra) }, library };
      case 'gone':
        return { outcome: { result: 'already-gone' }, library };
      default:
        throw unsupportedType(key, typeBuf.toString());
    }
  }

  /**
   * The key as Redis has it now, if it is a lock lockscope may act on: it matches a lock pattern (the admin API is
   * not a general "delete any key" endpoint), it is not a library's helper key, and it has a type locks use. Null
   * when it is gone but lockscope tracked it (the answer is "already gone"); a key that neither exists nor was ever
   * seen is refused. The tracker learns of a lock it had not seen yet from this read.
   */
  private async read(key: Buffer): Promise<ReadLock | null> {
    const shown = bytesText(key.subarray(0, 200));
    if (!this.isLockKey(key)) {
      throw new AdminError(404, 'unknown_key', `"${shown}" matches none of the lock patterns, so lockscope does not treat it as a lock: nothing was changed.`);
    }
    const { tracker } = this.deps;
    const id = key.toString('base64');
    const [probed] = await probeKeys(this.deps.redis, [key]);
    const result = probed!.result;
    if (!result.exists) {
      if (tracker.get(id)) return null;
      throw new AdminError(404, 'unknown_key', `There is no key "${shown}" in Redis (and lockscope has not seen one): nothing was changed.`);
    }
    const recognition = tracker.libraries.recognise(key, result, { now: probed!.redisAt ?? probed!.observedAt });
    if (recognition.role === 'side-key') {
      throw new AdminError(404, 'unknown_key', `"${shown}" is a helper key of ${libraryLabel(recognition.library)}, not a lock: nothing was changed.`);
    }
    if (result.type !== 'string' && result.type !== 'hash' && !recognition.group) throw unsupportedType(key, result.type);
    const tracked = tracker.get(id);
    if (!tracked || tracked.endedAt !== null) tracker.apply(probed!);
    return { id, probe: result, recognition };
  }

  private async target(key: Buffer, owner: Buffer, scope: ReleaseScope, lock: ReadLock): Promise<ReleaseTarget> {
    // Redisson on a cluster subscribes to sharded channels wherever the servers have them (its
    // shardedSubscriptionMode AUTO, Redis 7+): a plain PUBLISH would reach none of its waiters there.
    const sharded = !!this.deps.cluster?.() && (await this.hasCommand('SPUBLISH'));
    return { key, owner, scope, probe: lock.probe, recognition: lock.recognition, sharded };
  }

  private afterRelease(id: string, key: Buffer, scope: ReleaseScope, owner: Buffer): void {
    // Noted in the lock's history and shown now rather than at the next notification or poll.
    if (scope === 'holder') this.deps.inspector.afterAction(id, key, 'holder-force-released', -2, owner);
    else this.deps.inspector.afterAction(id, key, 'force-released', -2);
  }

  /** The owner a `changed` reply found: a string's prefix, or the holder a hash's fields or a ZSET's members name. */
  private currentOwner(key: Buffer, type: string, extra: ScriptReply[2]): BytesView | null {
    if (Buffer.isBuffer(extra)) return bytesView(extra);
    if (!Array.isArray(extra) || !extra.length) return null;
    const fields: [Buffer, Buffer][] =
      type === 'zset' ? pairs(extra) : extra.map((name) => [name, Buffer.from('1')] as [Buffer, Buffer]);
    const probe: Present = { exists: true, type: type === 'zset' ? 'zset' : 'hash', pttlMs: -1, size: fields.length, value: null, fields };
    const r = this.deps.tracker.libraries.recognise(key, probe, { now: Date.now() });
    return r.owner ? bytesView(r.owner) : null;
  }

  /** Whether the server has `DELEX` (Redis 8.4+, Valkey 9.2+). */
  hasDelex(): Promise<boolean> {
    return this.hasCommand('DELEX');
  }

  /** Whether the server has a command (asked once per connection; a failed answer counts as no, and asks again next time). */
  private hasCommand(name: string): Promise<boolean> {
    let known = this.support.get(name);
    if (!known) {
      known = (this.deps.redis.call('COMMAND', 'INFO', name) as Promise<unknown[]>).then(
        (reply) => Array.isArray(reply) && reply[0] !== null && reply[0] !== undefined,
        (err: Error) => {
          this.support.delete(name);
          this.deps.logger.debug({ err: err.message, command: name }, 'COMMAND INFO failed; taking the command as missing');
          return false;
        },
      );
      this.support.set(name, known);
    }
    return known;
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

/** A flat `[member, score, …]` reply as pairs. */
function pairs(flat: Buffer[]): [Buffer, Buffer][] {
  const out: [Buffer, Buffer][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** The holders a `shared` reply lists: hash fields or ZSET members, the library's bookkeeping left out. */
function holderViews(type: string, extra: ScriptReply[2], bookkeeping: Buffer[]): BytesView[] {
  if (!Array.isArray(extra)) return [];
  const names = type === 'zset' ? pairs(extra).map(([m]) => m) : extra;
  return names.filter((n) => !bookkeeping.some((b) => b.equals(n))).map((n) => bytesView(n));
}

/** The holders a release of one holder, or of all, freed. */
function freedBy(scope: ReleaseScope, owner: Buffer, recognition: Recognition): { holders: BytesView[]; count: number } {
  const group = recognition.group!;
  if (scope === 'holder') return { holders: [bytesView(owner)], count: 1 };
  return { holders: group.holders.map((h) => bytesView(h.token)), count: group.count ?? group.holders.length };
}

function unsupportedType(key: Buffer, type: string): AdminError {
  return new AdminError(
    409,
    'unsupported_type',
    `"${bytesText(key.subarray(0, 200))}" is a ${type} that no lock library writes: lockscope only changes locks it recognises, so nothing was changed.`,
  );
}
