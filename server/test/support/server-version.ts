import type { Redis } from 'ioredis';

export interface ServerVersion {
  product: 'redis' | 'valkey';
  major: number;
  minor: number;
  /** As the server reports it, for messages. */
  text: string;
}

/**
 * The server's product and version from `INFO server`. Valkey reports a frozen `redis_version` (7.2.4) for
 * compatibility and its own in `valkey_version`, so that one wins when present.
 */
export async function serverVersion(client: Redis): Promise<ServerVersion> {
  const info = await client.info('server');
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
  const valkey = field('valkey_version');
  const text = valkey ?? field('redis_version') ?? '0.0.0';
  const [major = 0, minor = 0] = text.split('.').map(Number);
  return { product: valkey ? 'valkey' : 'redis', major, minor, text };
}

const atLeast = (v: ServerVersion, major: number, minor: number) => v.major > major || (v.major === major && v.minor >= minor);

/**
 * Which owner-checked delete each release path should use on this server, by its version (not by asking it, which
 * is what the code under test does): `DELEX key IFEQ` came with Redis 8.4 and Valkey 9.2, `DELIFEQ` with Valkey 9.0.
 */
export function expectedDeletes(v: ServerVersion): {
  /** locklib's `capabilities().release`. */
  locklib: 'delex' | 'delifeq' | 'lua';
  /** Admin force-release of a plain string lock (`ReleaseOutcome.via`); admin does not use DELIFEQ. */
  admin: 'delex' | 'lua';
} {
  const delex = v.product === 'redis' ? atLeast(v, 8, 4) : atLeast(v, 9, 2);
  const delifeq = v.product === 'valkey' && atLeast(v, 9, 0);
  return { locklib: delex ? 'delex' : delifeq ? 'delifeq' : 'lua', admin: delex ? 'delex' : 'lua' };
}
