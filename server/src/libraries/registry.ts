/**
 * The adapters in the order they are asked, and what the rest of lockscope calls instead of naming a library.
 *
 * Who wins when two adapters could claim a key (documented in the README, tested in libraries-precedence):
 * 1. Formats declared in LOCK_FORMATS, in file order: a key their pattern matches (of their type) is theirs.
 * 2. Built-in adapters that go by the key's shape (`claims: 'key'`), in the order below: a prefix or suffix the
 *    library always writes, checked together with its value. Some of them also refuse to let another library
 *    have a key in their own namespace whose value they never write (BullMQ, simple-redis-mutex): `generic`.
 * 3. Built-in adapters that go by the value alone (`claims: 'value'`), in the order below.
 * 4. Nothing claimed it: `generic` (a string), `unknown` (a hash or another type).
 * Helper keys (wait queues, signal lists, fencing counters) are recognised by name before any of this and never
 * show as locks.
 */
import type { LibraryId } from '../../../shared/libraries';
import { globTokens } from '../model/glob';
import type { KeyName, LockLibrary, Present, RecogniseContext, Recognition, ReleaseTarget, RenewalRule, SideKey } from './adapter';
import { PlanRefusal } from './adapter';
import { bsmRedislock } from './bsm-redislock';
import { bullmq } from './bullmq';
import { helperKey, lockOf, owned } from './common';
import { CUT_NAME } from '../model/probe-result';
import { declaredLibrary, type DeclaredFormat } from './declared';
import { laravel } from './laravel';
import { lockscope } from './lockscope';
import { pythonRedisLock } from './python-redis-lock';
import { redisLock } from './redis-lock';
import { redisPy } from './redis-py';
import { redisSemaphore } from './redis-semaphore';
import { redisson } from './redisson';
import { redissonSemaphore } from './redisson-semaphore';
import { redlock } from './redlock';
import { redlockNet } from './redlock-net';
import { redsync } from './redsync';
import { deleteIfOwner, type OwnerCheck, type ReleasePlan } from './release-plan';
import { shedlock } from './shedlock';
import { sidekiqUnique } from './sidekiq-unique';
import { simpleRedisMutex } from './simple-redis-mutex';
import { spring } from './spring';
import { symfony } from './symfony';
import { uuidToken } from './uuid-token';

/** Built-in adapters: key-shape adapters first, then value-shape ones; within each, the order they are asked in. */
export const BUILTIN_LIBRARIES: readonly LockLibrary[] = [
  bullmq,
  sidekiqUnique,
  simpleRedisMutex,
  redisSemaphore,
  redisLock,
  redlockNet,
  redissonSemaphore,
  pythonRedisLock,
  redisson,
  shedlock,
  lockscope,
  symfony,
  redsync,
  redisPy,
  redlock,
  spring,
  uuidToken,
  laravel,
  bsmRedislock,
];

/** Any key whose name contains "lock" in any case: the lock keys of libraries that use the caller's names. */
export const GENERIC_LOCK_GLOB = '*[lL][oO][cC][kK]*';

/**
 * The default LOCK_PATTERNS: the generic "lock" glob plus every adapter's patterns, less those a broader one of
 * them already covers (`bull:*:lock` is inside `*[lL][oO][cC][kK]*`), so that each key set is scanned and
 * subscribed to once.
 */
export function defaultPatterns(libraries: readonly LockLibrary[] = BUILTIN_LIBRARIES): string[] {
  const all = [...new Set([GENERIC_LOCK_GLOB, ...libraries.flatMap((l) => l.patterns)])];
  const words = all.map(caseFreeWord).filter((w): w is string => w !== null);
  return all.filter((p) => {
    const own = caseFreeWord(p);
    return own !== null || !words.some((w) => literalContains(p, w));
  });
}

/** `*[wW][oO][rR][dD]*` → `word`: a glob matching every key that contains a word in any case; else null. */
function caseFreeWord(pattern: string): string | null {
  const m = /^\*((?:\[[a-zA-Z]{2}\])+)\*$/.exec(pattern);
  if (!m) return null;
  let word = '';
  for (const [, pair] of m[1]!.matchAll(/\[([a-zA-Z]{2})\]/g)) {
    const [a, b] = [pair![0]!, pair![1]!];
    if (a.toLowerCase() !== b.toLowerCase() || a === b) return null;
    word += a.toLowerCase();
  }
  return word;
}

/** Whether every key `pattern` matches contains `word` (in any case): a literal run of the pattern holds it. */
function literalContains(pattern: string, word: string): boolean {
  let run = '';
  for (const t of globTokens(Buffer.from(pattern, 'utf8'))) {
    if (t.kind === 'set' && t.bytes.size === 1) {
      run += String.fromCharCode([...t.bytes][0]!).toLowerCase();
      if (run.includes(word)) return true;
    } else run = '';
  }
  return false;
}

/** The default LOCK_PATTERNS of the built-in adapters. */
export const BUILTIN_PATTERNS: readonly string[] = defaultPatterns();

/** What lockscope knows of lock libraries, built-in and declared: all the rest of the server calls. */
export interface Libraries {
  /** The patterns that find every built-in and declared format's keys (LOCK_PATTERNS' default). */
  readonly defaultPatterns: readonly string[];
  /** Patterns of declared formats: scanned whatever LOCK_PATTERNS says. */
  readonly declaredPatterns: readonly string[];
  /** Which library wrote a key, and who holds it. Never throws; pure. */
  recognise(key: Buffer, probe: Present, ctx: RecogniseContext): Recognition;
  /** A helper key (wait queue, signal list, fencing counter…) by name alone, or null. */
  sideKeyOf(key: Buffer): SideKey | null;
  /** The renewal rule of a library's locks (see `LockLibrary.renewal`), or null. */
  renewalOf(library: LibraryId): RenewalRule | null;
  /** How to force-release the lock as recognised. Throws `PlanRefusal` when its format does not allow it. */
  releasePlan(target: ReleaseTarget): ReleasePlan;
  /** How to prove the owner before changing the lock otherwise (set TTL), and what is bookkeeping, not a holder. */
  ownerCheck(target: ReleaseTarget): { check: OwnerCheck; bookkeeping: Buffer[] };
}

export function createLibraries(declared: readonly DeclaredFormat[] = []): Libraries {
  const declaredLibs = declared.map(declaredLibrary);
  const order = [...declaredLibs, ...BUILTIN_LIBRARIES];
  const byId = new Map<LibraryId, LockLibrary>(order.flatMap((l) => [l.id, ...(l.alsoAs ?? [])].map((id) => [id, l] as const)));
  const withSideKeys = order.filter((l) => l.sideKey);
  const sideKeyIn = (name: KeyName): SideKey | null => {
    for (const lib of withSideKeys) {
      const side = lib.sideKey!(name);
      if (side) return side;
    }
    return null;
  };
  const sideKeyOf = (key: Buffer): SideKey | null => sideKeyIn({ bytes: key, text: key.toString('latin1') });
  return {
    defaultPatterns: [...new Set([...BUILTIN_PATTERNS, ...declaredLibs.flatMap((l) => l.patterns)])],
    declaredPatterns: declaredLibs.flatMap((l) => l.patterns),
    sideKeyOf,
    renewalOf: (library) => byId.get(library)?.renewal ?? null,
    recognise(key, probe, ctx) {
      const name: KeyName = { bytes: key, text: key.toString('latin1') };
      const side = sideKeyIn(name);
      // A declared format may claim a name a library uses for helpers (its own keys win).
      if (side && !declaredLibs.some((l) => l.recognise(name, probe, ctx))) return helperKey(side.library);
      const full: RecogniseContext = { now: ctx.now, current: ctx.current, value: probe.type === 'string' && probe.value ? probe.value.toString('latin1') : '' };
      for (const lib of order) {
        const r = lib.recognise(name, probe, full);
        if (r) {
          owned(r.fields);
          if (r.group) for (const h of r.group.holders) owned(h.fields);
          r.shared = r.group !== null;
          return r;
        }
      }
      return unclaimed(probe);
    },
    releasePlan(target) {
      const { recognition, scope } = target;
      if (!recognition.group && scope !== 'lock') throw new PlanRefusal('this lock has one owner, not several holders: release the lock itself');
      if (recognition.group && scope === 'all' && !recognition.group.releaseAll) throw new PlanRefusal('this library does not allow freeing every holder at once');
      return byId.get(recognition.library)?.releasePlan?.(target) ?? defaultPlan(target);
    },
    ownerCheck(target) {
      const lib = byId.get(target.recognition.library);
      const own = lib?.ownerCheck?.(target);
      if (own) return { check: own, bookkeeping: [] };
      let plan: ReleasePlan;
      try {
        plan = lib?.releasePlan?.({ ...target, scope: 'lock' }) ?? defaultPlan(target);
      } catch (err) {
        if (!(err instanceof PlanRefusal)) throw err;
        plan = defaultPlan(target);
      }
      return { check: plan.check, bookkeeping: plan.bookkeeping };
    },
  };
}

/** A key no adapter claimed: a string is a generic token lock; a hash shows its first fields; anything else is unknown. */
function unclaimed(probe: Present): Recognition {
  if (probe.type === 'string' && probe.value) return lockOf('generic', probe.value);
  if (probe.type !== 'hash') return lockOf('unknown', null);
  // A random sample of a big hash names no owner: a different one would show at every probe.
  if (probe.sampled) return lockOf('unknown', null);
  const fields = probe.fields ?? [];
  const [name, , cut = 0] = fields[0] ?? [null];
  const r = lockOf('unknown', name ?? null);
  r.ownerCut = cut !== 0;
  r.fields = owned({ fields: fields.slice(0, 5).map(([f, , c = 0]) => f.toString('utf8') + (c & CUT_NAME ? '…' : '')).join(', ') });
  return r;
}

/** An owner-checked delete of the key, for libraries that release that way and wake nobody. */
function defaultPlan({ owner, probe }: ReleaseTarget): ReleasePlan {
  if (probe.type === 'hash') return { check: { kind: 'hash', field: owner }, bookkeeping: [Buffer.from('mode')], steps: [{ op: 'del' }], scope: 'lock' };
  if (probe.type === 'zset') return { check: { kind: 'zset', members: [owner] }, bookkeeping: [], steps: [{ op: 'del' }], scope: 'lock' };
  return deleteIfOwner({ kind: 'string', value: owner });
}
