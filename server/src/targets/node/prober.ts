import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Capabilities } from './capabilities';
import { probeKeysByCommands } from './probe-commands';
import { probeKeys, type ProbedKey } from './probe';
import { refusalOf, refusedCommand } from './refusal';
import { keySlot } from './scan';

/** Slot-grouped probe calls in flight at once on a cluster node (each holds the keys of one hash slot). */
const CLUSTER_PROBES_IN_FLIGHT = 16;

/** What a probe round gave: results to fold in, and keys to probe again (they changed between two reads). */
export interface ProbeRound {
  probed: ProbedKey[];
  again: Buffer[];
}

/**
 * Reads keys from one node the best way its Redis user allows: the bounded Lua probe where EVAL is allowed,
 * the same reads as pipelined commands where it is not; on a cluster node one call per hash slot (a script may
 * not cross slots there). Refusals are sorted out here: EVAL refused mid-run switches to commands at once; keys
 * the user may not read (ACL key patterns) are found one by one, remembered and skipped from then on; a read
 * command refused leaves the node blind. Any other failure is thrown (nothing is folded from it).
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

  async probe(keys: Buffer[]): Promise<ProbeRound> {
    const readable = this.caps.unreadable.size ? keys.filter((k) => !this.caps.unreadable.has(k.toString('base64'))) : keys;
    if (!readable.length) return { probed: [], again: [] };
    if (!this.clusterNode) return this.probeSlot(readable);
    const bySlot = new Map<number, Buffer[]>();
    for (const k of readable) {
      const slot = keySlot(k);
      const group = bySlot.get(slot);
      if (group) group.push(k);
      else bySlot.set(slot, [k]);
    }
    const groups = [...bySlot.values()];
    const out: ProbeRound = { probed: [], again: [] };
    let next = 0;
    // A few calls at a time, not all at once: each batch's timing stays its own (see probeKeys).
    const worker = async () => {
      while (next < groups.length) {
        const round = await this.probeSlot(groups[next++]!);
        out.probed.push(...round.probed);
        out.again.push(...round.again);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CLUSTER_PROBES_IN_FLIGHT, groups.length) }, worker));
    return out;
  }

  /** Keys that may share one script call (one slot on a cluster node). */
  private async probeSlot(keys: Buffer[]): Promise<ProbeRound> {
    if (!this.caps.has('eval')) return this.byCommands(keys);
    try {
      return { probed: await probeKeys(this.redis, keys), again: [] };
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

  private async byCommands(keys: Buffer[]): Promise<ProbeRound> {
    const v = this.versionNum;
    const { probed, changed, refused } = await probeKeysByCommands(this.redis, keys, { hasExpireTime: v >= 0x070000, hasNoValues: v >= 0x070400 });
    for (const k of refused) this.caps.markUnreadable(k.toString('base64'));
    return { probed, again: changed };
  }

  /**
   * A script refused for its keys. Either the user may not read some of them, or it may read them but not run
   * scripts on them: a script's keys need write access, so a read-only key permission (`%R~`) covers commands but
   * not EVAL. The same keys read as commands tell which: then commands it is, from now on.
   */
  private async keysRefused(keys: Buffer[], err: Error): Promise<ProbeRound> {
    const round = await this.byCommands(keys);
    const readable = round.probed[0]?.key;
    if (!readable) return round;
    try {
      await probeKeys(this.redis, [readable]);
    } catch (again) {
      if (refusalOf(again) !== 'key') throw again;
      this.caps.refuse('eval', `${err.message} (a script's keys need write permission: %R~ allows reads only)`);
      this.logger.warn({ err: err.message }, 'EVAL may not touch these keys: probing with pipelined commands instead');
    }
    return round;
  }
}
