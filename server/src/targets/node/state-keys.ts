/**
 * lockscope's own bookkeeping in a watched Redis lives under one prefix: today a restart marker per node and the
 * short-lived keys that prove keyspace notifications arrive; later the leader lease and change stream of several
 * lockscope replicas. None of it is a lock: discovery and notifications skip these keys (the default pattern
 * `*lock*` matches `lockscope:` itself). Users grant it with an ACL key pattern such as `%RW~lockscope:state:*`.
 */
export const STATE_PREFIX = 'lockscope:state:';

const PREFIX = Buffer.from(STATE_PREFIX);

/** Whether a key is lockscope's own bookkeeping (never shown, never probed). */
export function isStateKey(key: Buffer): boolean {
  return key.length >= PREFIX.length && key.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) === 0;
}

/** A bookkeeping key: `lockscope:state:<name>`. */
export const stateKey = (name: string): string => STATE_PREFIX + name;
