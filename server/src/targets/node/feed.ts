import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeFeedMode } from '../../../../shared/status';
import type { Capabilities } from './capabilities';
import { coversEvictions, coversZsets, detectNotifications, enableNotifications, type NotificationSupport } from './notifications';
import { refusalOf, refusedCommand } from './refusal';
import { stateKey } from './state-keys';

/** How long a (re)connect waits for the subscriber connection before settling for polling. */
const SUBSCRIBER_READY_TIMEOUT_MS = 5000;
/** How long test events may take to come back before notifications count as not proven. */
const PROOF_TIMEOUT_MS = 1000;
/** The events a proof must see: string (`set`), generic (`expire`, `del`), hash (`hset`) and expired ones. */
const PROOF_EVENTS = ['set', 'expire', 'hset', 'del', 'expired'];

export interface FeedOptions {
  /** Keyspace channel patterns for the lock patterns (one PSUBSCRIBE each). */
  channels: string[];
  /** Database number (the proof's channel name). */
  db: number;
  /** May lockscope change `notify-keyspace-events`? */
  configureNotifications: boolean;
  /** A hash tag that puts the proof's keys in a slot this node serves (a cluster master); '' elsewhere. */
  tag?: () => string;
}

/**
 * Decides how one node's changes reach lockscope, and keeps deciding: keyspace notifications when
 * `notify-keyspace-events` covers locks (read with CONFIG GET, or — where CONFIG is refused — proven by test
 * events on lockscope's own keys), polling otherwise. `decide()` runs after each (re)connect and periodically, so
 * notifications switched on (or off) later are picked up without a reconnect; it returns whether the mode changed,
 * and the node watcher then resyncs across the switch so nothing falls in the gap.
 */
export class ChangeFeed extends EventEmitter<{ mode: [mode: ChangeFeedMode] }> {
  mode: ChangeFeedMode = 'starting';
  /** How the mode was decided: CONFIG GET, or test events that came back. */
  source: 'config' | 'proven' | null = null;
  /**
   * Notifications are on but evicted keys may raise none (no `e` on a server that evicts, or unknown): an evicted
   * lock raises no event, so the tracked locks are re-probed every POLL_MS as in polling mode.
   */
  evictionsUnseen = false;
  /**
   * Notifications are on but without sorted-set events (`z`, or unknown): a semaphore's holders leave by a bare
   * ZREM that raises no event lockscope hears, so the tracked sorted-set locks are re-probed every POLL_MS.
   */
  zsetsUnseen = false;
  private subscribed = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly caps: Capabilities,
    private readonly options: FeedOptions,
    private readonly logger: Logger,
  ) {
    super();
    // ioredis re-subscribes by itself after a reconnect; a connection that ended for good has no subscription left.
    subscriber.on('end', this.ended);
  }

  /** Stops following the subscriber connection (which may outlive this feed). */
  dispose(): void {
    this.subscriber.off('end', this.ended);
  }

  private readonly ended = (): void => {
    this.subscribed = false;
  };

  /** Decides the mode now (after a reconnect, or periodically). True when it changed. */
  async decide(): Promise<boolean> {
    let support = await this.detect();
    // Flags that are enough to follow locks but lack `z` are completed too where lockscope may configure them.
    const incomplete = support.kind === 'missing' || (support.kind === 'enabled' && !coversZsets(support.flags)) ? support : null;
    if (incomplete && this.options.configureNotifications && this.caps.has('config-set')) {
      try {
        await enableNotifications(this.redis, incomplete.flags);
        support = await this.detect();
      } catch (err) {
        if (refusalOf(err)) this.caps.refuse('config-set', (err as Error).message);
        this.logger.warn({ err: (err as Error).message }, 'could not enable keyspace notifications');
      }
    }
    let mode: ChangeFeedMode = 'polling';
    let source: ChangeFeed['source'] = null;
    if (support.kind === 'enabled') {
      if (await this.subscribe()) {
        mode = 'notifications';
        source = 'config';
        this.evictionsUnseen = await this.evictionsMayBeMissed(support.flags);
        const zsetsUnseen = !coversZsets(support.flags);
        if (zsetsUnseen && !this.zsetsUnseen) {
          this.logger.info({ flags: support.flags }, 'notify-keyspace-events lacks z (sorted set): re-probing tracked sorted-set locks every POLL_MS');
        }
        this.zsetsUnseen = zsetsUnseen;
      }
    } else if (support.kind === 'unknown' && this.caps.has('psubscribe') && this.caps.has('state-write')) {
      if ((await this.prove()) && (await this.subscribe())) {
        mode = 'notifications';
        source = 'proven';
        // The eviction policy and the sorted-set flag cannot be read either: assume neither raises an event.
        this.evictionsUnseen = true;
        this.zsetsUnseen = true;
      }
    }
    if (mode === 'polling') await this.unsubscribe();
    const changed = mode !== this.mode;
    if (changed || source !== this.source) {
      const was = this.mode;
      this.mode = mode;
      this.source = source;
      if (was !== 'starting' && changed) this.logger.info({ from: was, to: mode }, 'change feed switched');
      else if (mode === 'polling') this.logger.info({ why: reasonOf(support) }, 'keyspace notifications unavailable: polling every POLL_MS');
      this.emit('mode', mode);
    }
    return changed;
  }

  /** Notifications are decided by test events, not CONFIG: re-deciding costs a few writes, so do it less often. */
  get costly(): boolean {
    return !this.caps.has('config');
  }

  private async detect(): Promise<NotificationSupport> {
    if (!this.caps.has('config')) return { kind: 'unknown', reason: 'CONFIG GET is refused' };
    const support = await detectNotifications(this.redis);
    if (support.kind === 'unknown' && refusalOf(support.reason)) this.caps.refuse('config', support.reason);
    return support;
  }

  private async evictionsMayBeMissed(flags: string): Promise<boolean> {
    if (coversEvictions(flags)) return false;
    const policy = await this.redis.config('GET', 'maxmemory-policy').then(
      (r) => (r as string[])[1] ?? 'noeviction',
      () => 'unknown',
    );
    if (policy === 'noeviction') return false;
    this.logger.info({ flags, policy }, 'notify-keyspace-events lacks e (evicted) on a server that may evict keys: re-probing tracked locks every POLL_MS');
    return true;
  }

  private async subscribe(): Promise<boolean> {
    if (this.subscribed) return true;
    try {
      if (this.subscriber.status !== 'ready') await whenReady(this.subscriber, SUBSCRIBER_READY_TIMEOUT_MS);
      await this.subscriber.psubscribe(...this.options.channels);
      this.subscribed = true;
      this.caps.grant('psubscribe');
      return true;
    } catch (err) {
      if (refusalOf(err)) this.caps.refuse('psubscribe', (err as Error).message);
      this.logger.warn({ err: (err as Error).message }, 'PSUBSCRIBE failed; polling instead');
      return false;
    }
  }

  /** Leaves the keyspace channels (polling; or the node watcher paused: another replica follows them). */
  async unsubscribe(): Promise<void> {
    if (!this.subscribed) return;
    this.subscribed = false;
    await this.subscriber.punsubscribe(...this.options.channels).catch(() => {});
  }

  /**
   * Proves that the events lockscope needs arrive, where CONFIG cannot say: writes two short-lived keys of its own
   * (a string with a 30 ms TTL, a hash deleted at once) and waits for their set, expire, hset, del and expired
   * events on a channel of their own. Anything refused or missing: not proven.
   */
  private async prove(): Promise<boolean> {
    // `{` and `}` are plain characters in a channel pattern: the tag may stay in it.
    const base = stateKey(`feed-proof:${randomUUID()}`) + (this.options.tag?.() ?? '');
    const channel = `__keyspace@${this.options.db}__:${base}:*`;
    const seen = new Set<string>();
    let done: () => void = () => {};
    const complete = new Promise<void>((resolve) => (done = resolve));
    const onMessage = (pattern: string, _channel: string, event: string) => {
      if (pattern !== channel) return;
      seen.add(event);
      if (PROOF_EVENTS.every((e) => seen.has(e))) done();
    };
    this.subscriber.on('pmessage', onMessage);
    try {
      if (this.subscriber.status !== 'ready') await whenReady(this.subscriber, SUBSCRIBER_READY_TIMEOUT_MS);
      await this.subscriber.psubscribe(channel);
      await this.redis.pipeline().set(`${base}:s`, '1', 'PX', 30).hset(`${base}:h`, 'f', '1').del(`${base}:h`).exec().then(throwFirst);
      await sleep(60);
      // Reading the expired key makes Redis expire it now (and raise `expired`) rather than at its next sweep.
      await this.redis.exists(`${base}:s`);
      await Promise.race([complete, sleep(PROOF_TIMEOUT_MS)]);
    } catch (err) {
      if (refusalOf(err) === 'channel' || refusedCommand(err) === 'psubscribe') this.caps.refuse('psubscribe', (err as Error).message);
      else if (refusalOf(err) || /READONLY/.test((err as Error).message)) this.caps.refuse('state-write', (err as Error).message);
      return false;
    } finally {
      this.subscriber.off('pmessage', onMessage);
      await this.subscriber.punsubscribe(channel).catch(() => {});
    }
    const proven = PROOF_EVENTS.every((e) => seen.has(e));
    this.logger.info({ events: [...seen] }, proven ? 'keyspace notifications proven by test events' : 'test events did not all arrive: polling');
    return proven;
  }
}

function reasonOf(support: NotificationSupport): string {
  return support.kind === 'unknown' ? support.reason : `notify-keyspace-events is "${support.flags}"`;
}

function throwFirst(replies: [Error | null, unknown][] | null): void {
  for (const [err] of replies ?? []) if (err) throw err;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`subscriber connection not ready after ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
