import type { Redis } from 'ioredis';

/**
 * Creates (or replaces) an ACL user on a test server and returns the URL lockscope connects with. `rules` are
 * `ACL SETUSER` rules after `reset on >password`, e.g. `['+@all', '-@dangerous', '~*', '&*']`. Redis 7 gives a
 * new user no channels (`acl-pubsub-default resetchannels`), as managed services often do.
 */
export async function aclUser(admin: Redis, port: number, name: string, rules: string[]): Promise<string> {
  const password = `pw-${name}`;
  await admin.call('ACL', 'SETUSER', name, 'reset', 'on', `>${password}`, ...rules);
  return `redis://${name}:${password}@127.0.0.1:${port}`;
}

/** The rule set most managed Redis services give an application user: everything but admin commands. */
export const MANAGED_DEFAULT = ['+@all', '-@dangerous', '~*', '&*'];
