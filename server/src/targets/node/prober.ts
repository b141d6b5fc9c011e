import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Capabilities } from './capabilities';
import { probeKeysByCommands } from './probe-commands';
import { PROBE_BATCH, probeKeys, type ProbedKey } from './probe';
import { redirectOf, type Redirect } from './redirect';
import { refusalOf, refusedCommand } from './refusal';
import { keySlot } from './scan';

/**
 * Slot-grouped probe calls sent together on a cluster node (each holds the keys of one hash slot, often one key):
 * written to the socket at once, they cost one write instead of one each (measured: a write per call was most of
 * a cluster discovery's own CPU).
 */
const CLUSTER_PROBES_PER_WRITE = 256;

/**
 * What a probe round gave: results to fold in, and keys to probe again (they changed between two reads). On a
 * cluster node, also keys it answered for elsewhere — none of them is gone for all that (see `Redirect`).
 */
export interface ProbeRound {
  probed: ProbedKey[];
  again: Buffer[];
  /** `MOVED`: another master serves their slot now (the slot map is stale). */
  moved: Buffer[];
  /** `ASK`: moved to the master importing their slot (a migration half-way): probe them there, after ASKING. */
  asked: { address: string; keys: Buffer[] }[];
  /** `CLUSTERDOWN` (a shard without a master, for now), or keys that could not be asked for: probe again later. */
  later: Buffer[];
}

const round = (part: Partial<ProbeRound> = {}): ProbeRound => ({ probed: [], again: [], moved: [], asked: [], later: [], ...part });

function merge(into: ProbeRound, part: ProbeRound): void {
  into.probed.push(...part.probed);
  into.again.push(...part.again);
  into.moved.push(...part.moved);
  into.asked.push(...part.asked);
  into.later.push(...part.later);
}

/**
 * Reads keys from one node the best way its Redis user allows: the bounded Lua probe where EVAL is allowed,
 * the same reads as pipelined commands where it is not; on a cluster node one call per hash slot (a script may
 * not cross slots there). Refusals are sorted out here: EVAL refused mid-run switches to commands at once; keys
 * the user may not read (ACL key patterns) are found one by one, remembered and skipped from then on; a read
 * command refused leaves the node blind. On a cluster node, MOVED/ASK/TRYAGAIN/CLUSTERDOWN are sorted out too (see
 * `ProbeRound`). Any other failure is thrown (nothing is folded from it).
 */
export class KeyProber {
  /** Set per connection: a cluster node refuses scripts that touch keys of several slots (CROSSSLOT). */
  clusterNode = false;
  /** `redis.REDIS_VERSION_NUM` style (0 = unknown): picks PEXPIRETIME and HSCAN NOVALUES for the command probe. */
  versionNum = 0;

  constructor(
    private readonly redis: Redis,
    private readonly caps: Capabilities,
    private readonly logger: Logger,
  ) {}

  /**
   * Probes `keys` on this node. `asking`: this node imports their slot and the owner sent them here (`ASK`): each
   * call is prefixed with ASKING, without which the node would send them back (`MOVED`).
   */
  async probe(keys: Buffer[], asking = false): Promise<ProbeRound> {
    const readable = this.caps.unreadable.size ? keys.filter((k) => !this.caps.unreadable.has(k.toString('base64'))) : keys;
    if (!readable.length) return round();
    if (!this.clusterNode) return this.probeSlot(readable);
    const bySlot = new Map<number, Buffer[]>();
    for (const k of readable) {
      const slot = keySlot(k);
      const group = bySlot.get(slot);
      if (group) group.push(k);
      else bySlot.set(slot, [k]);
    }
    const groups = [...bySlot.values()];
    const out = round();
    // Each call reads Redis's clock itself (see probeKeys): replies that wait behind others shift no deadline.
    const stream = (this.redis as { stream?: { cork?: () => void; uncork?: () => void } }).stream;
    for (let i = 0; i < groups.length; i += CLUSTER_PROBES_PER_WRITE) {
      let calls: Promise<ProbeRound>[];
      stream?.cork?.();
      try {
        calls = groups.slice(i, i + CLUSTER_PROBES_PER_WRITE).map((g) => this.probeSlot(g, asking));
      } finally {
        stream?.uncork?.();
      }
      for (const part of await Promise.all(calls)) merge(out, part);
    }
    return out;
  }

  /** Keys that may share one script call (one slot on a cluster node), with the cluster's redirections sorted out. */
  private async probeSlot(keys: Buffer[], asking = false): Promise<ProbeRound> {
    try {
      return await this.probeOnce(keys, asking);
    } catch (err) {
      const redirect = this.clusterNode ? redirectOf(err) : null;
      if (!redirect) throw err;
      return this.redirected(keys, redirect, asking);
    }
  }

  /**
   * A redirection instead of an answer. A slot half migrated answers a call with `TRYAGAIN` when some of its keys
   * moved and some did not (or, after ASKING, when some have not arrived), and `ASK` when none is left: one key at
   * a time, each is answered where it is.
   */
  private async redirected(keys: Buffer[], redirect: Redirect, asking: boolean): Promise<ProbeRound> {
    if (redirect.kind === 'moved') return round({ moved: keys });
    if (keys.length > 1 && (redirect.kind === 'tryagain' || redirect.kind === 'ask')) {
      const out = round();
      for (const k of keys) merge(out, await this.probeSlot([k], asking));
      return out;
    }
    if (redirect.kind === 'ask' && !asking) return round({ asked: [{ address: redirect.address, keys }] });
    return round({ later: keys });
  }

  private async probeOnce(keys: Buffer[], asking: boolean): Promise<ProbeRound> {
    if (!this.caps.has('eval')) {
      // ASKING holds for one command: the pipelined reads would each need it. The migration ends soon enough.
      if (asking) return round({ later: keys });
      return this.byCommands(keys);
    }
    try {
      return round({ probed: asking ? await this.probeAsking(keys) : await probeKeys(this.redis, keys) });
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal === 'key') return this.keysRefused(keys, err as Error);
      if (refusal !== 'command') throw err;
      const command = refusedCommand(err);
      if (command === 'evalsha' || command === 'eval') {
        this.caps.refuse('eval', (err as Error).message);
        this.logger.warn({ err: (err as Error).message }, 'EVAL refused: probing with pipelined commands instead');
        return this.byCommands(keys);
      }
      this.caps.refuse('read', (err as Error).message);
      this.logger.error({ err: (err as Error).message }, 'a read command of the probe is refused: lockscope cannot see this node\'s locks');
      throw err;
    }
  }

  /** Each script call right after an ASKING of its own (both written at once: nothing can come in between). */
  private async probeAsking(keys: Buffer[]): Promise<ProbedKey[]> {
    const calls: Promise<ProbedKey[]>[] = [];
    for (let i = 0; i < keys.length; i += PROBE_BATCH) {
      this.redis.asking().catch(() => {});
      calls.push(probeKeys(this.redis, keys.slice(i, i + PROBE_BATCH)));
    }
    return (await Promise.all(calls)).flat();
  }

  private async byCommands(keys: Buffer[]): Promise<ProbeRound> {
    const v = this.versionNum;
    const { probed, changed, refused } = await probeKeysByCommands(this.redis, keys, { hasExpireTime: v >= 0x070000, hasNoValues: v >= 0x070400 });
    for (const k of refused) this.caps.markUnreadable(k.toString('base64'));
    return round({ probed, again: changed });
  }

  /**
   * A script refused for its keys. Either the user may not read some of them, or it may read them but not run
   * scripts on them: a script's keys need write access, so a read-only key permission (`%R~`) covers commands but
   * not EVAL. The same keys read as commands tell which: then commands it is, from now on.
   */
  private async keysRefused(keys: Buffer[], err: Error): Promise<ProbeRound> {
    const byCommands = await this.byCommands(keys);
    const readable = byCommands.probed[0]?.key;
    if (!readable) return byCommands;
    try {
      await probeKeys(this.redis, [readable]);
    } catch (again) {
      if (refusalOf(again) !== 'key') throw again;
      this.caps.refuse('eval', `${err.message} (a script's keys need write permission: %R~ allows reads only)`);
      this.logger.warn({ err: err.message }, 'EVAL may not touch these keys: probing with pipelined commands instead');
    }
    return byCommands;
  }
}
