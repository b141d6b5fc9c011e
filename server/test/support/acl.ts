import type { Redis, RedisOptions } from 'ioredis';
import { quietClient } from './redis-process';

/*
 * ACL rule presets, checked against Redis 7.0.15 with `ACL DRYRUN` (server/test/topology-rig.test.ts). Two facts
 * of 7.0 shape them:
 *
 * - A new user gets NO pub/sub channel (`acl-pubsub-default resetchannels` is the 7.0 default), so `+@all ~*`
 *   alone cannot PSUBSCRIBE to keyspace notifications: every preset that should have channels says `&*`.
 * - `@dangerous` on 7.0 (`ACL CAT dangerous`) is: INFO; CONFIG GET/SET/REWRITE/RESETSTAT; CLIENT KILL/LIST/PAUSE/
 *   UNPAUSE/UNBLOCK/NO-EVICT (not CLIENT ID/INFO/SETNAME/GETNAME); KEYS; ROLE; SORT, SORT_RO; MIGRATE, RESTORE,
 *   RESTORE-ASKING; DEBUG; MONITOR; SLOWLOG *; LATENCY *; LASTSAVE, SAVE, BGSAVE, BGREWRITEAOF; FLUSHALL, FLUSHDB,
 *   SWAPDB; SHUTDOWN; FAILOVER, REPLICAOF/SLAVEOF, PSYNC, SYNC, REPLCONF; ACL DELUSER/DRYRUN/GETUSER/LIST/LOAD/
 *   LOG/SAVE/SETUSER/USERS; MODULE LIST/LOAD/LOADEX/UNLOAD; PFDEBUG, PFSELFTEST; and CLUSTER ADDSLOTS(RANGE)/
 *   BUMPEPOCH/COUNT-FAILURE-REPORTS/DELSLOTS(RANGE)/FAILOVER/FLUSHSLOTS/FORGET/MEET/REPLICAS/REPLICATE/RESET/
 *   SAVECONFIG/SET-CONFIG-EPOCH/SETSLOT/SLAVES. Not in it: SCAN, TYPE, PTTL, EVAL/EVALSHA/SCRIPT, PSUBSCRIBE,
 *   CLUSTER NODES/SLOTS/SHARDS/INFO/MYID/KEYSLOT/GETKEYSINSLOT, MEMORY USAGE, OBJECT, DBSIZE, COMMAND, HELLO.
 *   So a managed-Redis default of `+@all -@dangerous` leaves lockscope without INFO (no `run_id`, no version,
 *   no `cluster_enabled`), CONFIG GET (no `notify-keyspace-events`), CLIENT LIST and ROLE.
 */
const ALL = ['~*', '&*', '+@all'];

/** Named rule lists for `createAclUser`; each denies exactly what its name says (and nothing else `ALL` grants). */
export const aclPresets = {
  /** Everything, channels included. */
  fullAccess: ALL,
  /** No SCAN: discovery must fail loudly. */
  noScan: [...ALL, '-scan'],
  /** No scripts at all: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT *, FCALL, FCALL_RO, FUNCTION * (`-@scripting`). */
  noEval: [...ALL, '-@scripting'],
  /** No INFO (no `run_id`, version, `cluster_enabled`, replication role). */
  noInfo: [...ALL, '-info'],
  /** No CONFIG GET/SET (notification settings cannot be read or changed: lockscope must poll). */
  noConfig: [...ALL, '-config'],
  /** The PSUBSCRIBE command is denied (channels otherwise allowed). */
  noPsubscribe: [...ALL, '-psubscribe'],
  /** PSUBSCRIBE allowed but no channel may be used (`resetchannels`: 7.0's default for a new user): NOPERM on subscribe. */
  noChannels: ['~*', 'resetchannels', '+@all'],
  /** No CLIENT subcommand (not even CLIENT SETNAME/ID). */
  noClient: [...ALL, '-client'],
  /** The common managed-Redis default: `+@all -@dangerous` (see above for what that removes on 7.0). */
  managedLike: [...ALL, '-@dangerous'],
} as const satisfies Record<string, readonly string[]>;

export type AclPreset = keyof typeof aclPresets;

export interface TestAclUser {
  name: string;
  password: string;
  /** `redis(s)://name:password@host:port` of the server `admin` is connected to. */
  url: string;
  /** ioredis options for this user on that server (host, port, TLS as `admin` has them). */
  options: RedisOptions;
  /** A new connection as this user (closed by `remove()`). */
  connect(extra?: RedisOptions): Redis;
  /** `ACL DRYRUN`: `OK`, or the server's reason for refusing (`This user has no permissions to run the 'info' command`). */
  dryRun(...command: (string | number)[]): Promise<string>;
  /** Closes its connections and deletes the user (`ACL DELUSER`). Safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Creates (or resets) an ACL user with `ACL SETUSER <name> reset on ><password> …rules` through `admin`, a
 * connection allowed to run ACL. Fast (one round trip).
 */
export async function createAclUser(admin: Redis, name: string, password: string, rules: readonly string[]): Promise<TestAclUser> {
  await admin.call('ACL', 'SETUSER', name, 'reset', 'on', `>${password}`, ...rules);
  const { host = '127.0.0.1', port = 6379, tls } = admin.options;
  const options: RedisOptions = { host, port, username: name, password, ...(tls ? { tls } : {}) };
  const clients: Redis[] = [];
  let removing: Promise<void> | undefined;
  return {
    name,
    password,
    url: `${tls ? 'rediss' : 'redis'}://${encodeURIComponent(name)}:${encodeURIComponent(password)}@${host}:${port}`,
    options,
    connect(extra = {}) {
      const c = quietClient({ ...options, ...extra });
      clients.push(c);
      return c;
    },
    async dryRun(...command) {
      return admin.call('ACL', 'DRYRUN', name, ...command).then(String, (err: Error) => err.message);
    },
    remove: () =>
      (removing ??= (async () => {
        for (const c of clients) c.disconnect();
        await admin.call('ACL', 'DELUSER', name);
      })()),
  };
}
