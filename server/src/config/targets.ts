/**
 * The Redis deployments lockscope watches, as configured. One shape per way of reaching a deployment; today a
 * URL (a standalone server). Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`) and TLS file settings add
 * members to this union and to `parseTargets`' callers; everything downstream switches on `kind`.
 */
export type TargetConfig = UrlTargetConfig;

export interface UrlTargetConfig {
  kind: 'url';
  /** The name given in `REDIS_URL=name=redis://…`, or null for a single unnamed URL. */
  name: string | null;
  /** `redis://` or `rediss://` URL, credentials included: never print it (see maskRedisUrl). */
  url: string;
  /** Shown instead of the masked URL (the embedded Redis says so); set by the entry point, never parsed. */
  label?: string;
}

/** The id of a single unnamed target (in `?target=`, metrics labels and admin requests). */
export const DEFAULT_TARGET_ID = 'default';

/** A target's id: its name, or `default`. */
export const targetId = (t: TargetConfig): string => t.name ?? DEFAULT_TARGET_ID;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
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
        problems.push(`${where}the name "${candidate.slice(0, 32)}" must be 1-32 letters, digits, _ . or - (starting with a letter or digit)`);
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
