import type { Redis } from 'ioredis';

/** Keyspace channel + generic, string, hash and expired events: all a lock's life touches. */
export const REQUIRED_FLAGS = 'Kg$xh';

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

export function covers(flags: string): boolean {
  if (!flags.includes('K')) return false;
  // `A` is the alias for every class (g$lshzxet).
  const classes = flags.includes('A') ? 'g$lshzxet' : flags;
  return [...'g$xh'].every((c) => classes.includes(c));
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
