import type { Redis } from 'ioredis';

/**
 * The Redis deployments lockscope watches, as configured. One shape per way of reaching a deployment; today a
 * URL (a standalone server), or an ioredis connection an application embedding lockscope already has. Sentinel
 * (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`) and TLS file settings add members to this union and to
 * `parseTargets`' callers; everything downstream switches on `kind`.
 */
export type TargetConfig = UrlTargetConfig | ClientTargetConfig;

export interface UrlTargetConfig {
  kind: 'url';
  /** The name given in `REDIS_URL=name=redis://…`, or null for a single unnamed URL. */
  name: string | null;
  /** `redis://` or `rediss://` URL, credentials included: never print it (see maskRedisUrl). */
  url: string;
  /** Shown instead of the masked URL (the embedded Redis says so); set by the entry point, never parsed. */
  label?: string;
}

/**
 * A standalone server reached the way an ioredis connection of the embedding application reaches it (createLockscope's
 * `redis`; never parsed from the environment). lockscope opens connections of its own with the same options
 * (`client.duplicate()`: address, credentials, TLS, database), so the application's connection is never put in
 * subscriber mode, renamed or closed.
 */
export interface ClientTargetConfig {
  kind: 'client';
  name: string | null;
  client: Redis;
  /** Shown instead of `host:port`. */
  label?: string;
}

/** The id of a single unnamed target (in `?target=`, metrics labels and admin requests). */
export const DEFAULT_TARGET_ID = 'default';

/** A target's id: its name, or `default`. */
export const targetId = (t: TargetConfig): string => t.name ?? DEFAULT_TARGET_ID;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const NAME_RULE = 'must be 1-32 letters, digits, _ . or - (starting with a letter or digit)';
const URL_START = /^rediss?:\/\//;

/**
 * `REDIS_URL` as one unnamed URL, or a comma-separated list of `name=url` entries
 * (`prod=rediss://…,staging=redis://…`). Entries are split only where a new one starts (`name=scheme://` or
 * `scheme://`), so a comma inside a password does not split one. Every problem is reported; none repeats a URL,
 * which may hold a password.
 */
export function parseTargets(value: string): { ok: true; targets: TargetConfig[] } | { ok: false; problems: string[] } {
  const entries = value
    .split(/,(?=\s*(?:[^,=/@:]+=)?[A-Za-z][A-Za-z0-9+.-]*:\/\/)/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) return { ok: false, problems: ['must name at least one Redis URL'] };
  const problems: string[] = [];
  const targets: TargetConfig[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const where = entries.length > 1 ? `entry ${i + 1}: ` : '';
    let name: string | null = null;
    let url = entry;
    if (!URL_START.test(entry)) {
      const eq = entry.indexOf('=');
      const candidate = eq > 0 ? entry.slice(0, eq).trim() : '';
      if (!URL_START.test(entry.slice(eq + 1).trim())) {
        problems.push(`${where}must start with redis:// or rediss:// (or be name=redis://… to name the target)`);
        return;
      }
      if (!NAME.test(candidate)) {
        problems.push(`${where}the name "${candidate.slice(0, 32)}" ${NAME_RULE}`);
        return;
      }
      name = candidate;
      url = entry.slice(eq + 1).trim();
    }
    const shown = name ? `${where}"${name}": ` : where;
    if (!URL.canParse(url) || !new URL(url).hostname) {
      problems.push(`${shown}is not a valid URL`);
      return;
    }
    if (entries.length > 1 && name === null) {
      problems.push(`${where}give each of several targets a name: name=redis://…`);
      return;
    }
    if (name !== null) {
      if (seen.has(name)) problems.push(`${shown}the name is used twice`);
      seen.add(name);
    }
    targets.push({ kind: 'url', name, url });
  });
  return problems.length ? { ok: false, problems } : { ok: true, targets };
}

/**
 * Problems with targets given as objects (the embedding API), in the words `parseTargets` uses: none given, names
 * missing, malformed or repeated, a URL that is not one (never repeated: it may hold a password), an ioredis
 * connection of a kind lockscope cannot watch as a standalone server.
 */
export function targetProblems(targets: readonly TargetConfig[]): string[] {
  if (!targets.length) return ['must name at least one Redis target'];
  const problems: string[] = [];
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    const where = targets.length > 1 ? `target ${i + 1}${t.name ? ` ("${String(t.name).slice(0, 32)}")` : ''}: ` : '';
    if (t.name !== null && (typeof t.name !== 'string' || !NAME.test(t.name))) problems.push(`${where}the name ${NAME_RULE}`);
    else if (t.name === null && targets.length > 1) problems.push(`${where}give each of several targets a name`);
    else if (t.name !== null) {
      if (seen.has(t.name)) problems.push(`${where}the name is used twice`);
      seen.add(t.name);
    }
    switch (t.kind) {
      case 'url':
        if (typeof t.url !== 'string' || !URL_START.test(t.url)) problems.push(`${where}the URL must start with redis:// or rediss://`);
        else if (!URL.canParse(t.url) || !new URL(t.url).hostname) problems.push(`${where}the URL is not a valid URL`);
        break;
      case 'client':
        problems.push(...clientProblems(t.client).map((p) => `${where}${p}`));
        break;
      default: {
        // A new kind of target brings its own checks here (the compiler says so); JavaScript callers may pass anything.
        const other: never = t;
        problems.push(`${where}unknown kind "${String((other as { kind?: unknown }).kind).slice(0, 20)}"`);
      }
    }
  });
  return problems;
}

function clientProblems(client: Redis): string[] {
  if (!client || typeof client !== 'object' || typeof client.duplicate !== 'function') return ['the connection must be an ioredis Redis instance'];
  // Both are deployments of several servers, each a topology of its own (a TargetConfig kind), not one connection.
  if ((client as { isCluster?: boolean }).isCluster) return ['an ioredis Cluster is not one server: give the cluster as a target config instead'];
  if (client.options.sentinels?.length) return ['an ioredis connection through Sentinel is not one server: give the Sentinel deployment as a target config instead'];
  return [];
}
