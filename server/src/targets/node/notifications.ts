import type { Redis } from 'ioredis';

/**
 * What lockscope sets when it may configure notifications: keyspace channel + generic, string, hash and expired
 * events (all a lock's life touches), sorted-set events (a semaphore holder's release is a bare ZREM), and
 * evicted events, so a lock evicted under `maxmemory` goes at once.
 */
export const REQUIRED_FLAGS = 'Kg$xhze';

export type NotificationSupport =
  | { kind: 'enabled'; flags: string }
  | { kind: 'missing'; flags: string }
  | { kind: 'unknown'; reason: string };

/** Reads `notify-keyspace-events` and says whether lockscope's events are on. Managed Redis often refuses CONFIG. */
export async function detectNotifications(redis: Redis): Promise<NotificationSupport> {
  try {
    const reply = (await redis.config('GET', 'notify-keyspace-events')) as string[];
    const flags = reply[1] ?? '';
    return covers(flags) ? { kind: 'enabled', flags } : { kind: 'missing', flags };
  } catch (err) {
    return { kind: 'unknown', reason: (err as Error).message };
  }
}

/**
 * Whether `flags` are enough to follow locks by notifications (`Kg$xh`). Evicted events (`e`) are not required:
 * on a server that never evicts (`maxmemory-policy noeviction`, the default) there are none; elsewhere the
 * node watcher re-probes tracked locks every POLL_MS when they are missing (see coversEvictions).
 */
export function covers(flags: string): boolean {
  if (!flags.includes('K')) return false;
  // `A` is the alias for every class (g$lshzxet).
  const classes = flags.includes('A') ? 'g$lshzxet' : flags;
  return [...'g$xh'].every((c) => classes.includes(c));
}

/** Whether `flags` include sorted-set events (`z`, or `A`): without them a semaphore holder's ZREM goes unseen. */
export function coversZsets(flags: string): boolean {
  return flags.includes('z') || flags.includes('A');
}

/** Whether `flags` include evicted events (`e`, or `A` for all classes). */
export function coversEvictions(flags: string): boolean {
  return flags.includes('e') || flags.includes('A');
}

/** Adds lockscope's flags to whatever the server already has (other tools may rely on theirs). */
export async function enableNotifications(redis: Redis, current: string): Promise<void> {
  const merged = [...new Set([...current, ...REQUIRED_FLAGS])].join('');
  await redis.config('SET', 'notify-keyspace-events', merged);
}

/** Keyspace channel names for the lock patterns: one PSUBSCRIBE each, so Redis filters, not lockscope. */
export function keyspaceChannels(db: number, patterns: string[]): { prefix: string; channels: string[] } {
  const prefix = `__keyspace@${db}__:`;
  return { prefix, channels: patterns.map((p) => prefix + p) };
}
