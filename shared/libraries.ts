/**
 * Lock libraries as the wire names them. The server recognises a key's library with one adapter per library
 * (`server/src/libraries/`); teams can declare their own formats (`LOCK_FORMATS`), which travel as
 * `declared:<label>`. Both sides read labels from here, so a name is spelled once.
 */

/** Built-in libraries and the label each shows in the Library column and filter. */
export const BUILTIN_LIBRARIES = {
  redisson: 'Redisson',
  'redisson-rw': 'Redisson RW',
  'redisson-semaphore': 'Redisson semaphore',
  bullmq: 'BullMQ',
  redlock: 'redlock',
  'redis-py': 'redis-py',
  'python-redis-lock': 'python-redis-lock',
  shedlock: 'ShedLock',
  spring: 'Spring',
  redsync: 'redsync',
  laravel: 'Laravel',
  'sidekiq-unique': 'sidekiq-unique-jobs',
  'redis-semaphore': 'redis-semaphore',
  'redis-lock': 'redis-lock',
  'simple-redis-mutex': 'simple-redis-mutex',
  symfony: 'Symfony Lock',
  'redlock-net': 'RedLock.net',
  'bsm-redislock': 'bsm/redislock',
  'uuid-token': 'UUID token',
  lockscope: 'lockscope',
  generic: 'generic',
  unknown: 'unknown',
} as const;

export type BuiltinLibraryId = keyof typeof BUILTIN_LIBRARIES;

/** Prefix of the id of a format a team declared in `LOCK_FORMATS`: `declared:<its label>`. */
export const DECLARED_PREFIX = 'declared:';

/** A format declared in `LOCK_FORMATS`, by its label (1–40 printable characters). */
export type DeclaredLibraryId = `declared:${string}`;

/**
 * The lock library whose storage format a key matches (see LOCK-FORMATS.md), or a declared format.
 * `generic` = a plain string lock no library claims; `unknown` = a key no lock library writes this way.
 */
export type LibraryId = BuiltinLibraryId | DeclaredLibraryId;

export function isDeclaredLibrary(id: string): id is DeclaredLibraryId {
  return id.startsWith(DECLARED_PREFIX) && id.length > DECLARED_PREFIX.length;
}

export function isLibraryId(id: string): id is LibraryId {
  return Object.hasOwn(BUILTIN_LIBRARIES, id) || isDeclaredLibrary(id);
}

/** The label a library shows: the built-in name, or the label a team declared. */
export function libraryLabel(id: LibraryId): string {
  if (isDeclaredLibrary(id)) return id.slice(DECLARED_PREFIX.length);
  return (BUILTIN_LIBRARIES as Record<string, string>)[id] ?? id;
}
