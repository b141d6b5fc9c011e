import type { AdminMode } from '../../../../shared/admin';

export interface AdminModeInputs {
  /** `--read-only` / `READ_ONLY`. */
  readOnly: boolean;
  /** ADMIN_TOKEN or ADMIN_TOKEN_SHA256 is set. */
  tokenConfigured: boolean;
  /** lockscope started its own embedded Redis (nothing else can depend on its data). */
  embedded: boolean;
  /** The interface lockscope listens on (HOST). */
  host: string;
}

export interface ResolvedAdminMode {
  mode: AdminMode;
  /** Why admin is read-only; absent otherwise. */
  reason?: string;
}

/**
 * Decides once, at start-up, whether admin actions exist at all. Pure. In order: `--read-only` wins; a token
 * means log in; an embedded Redis reachable only from this machine needs no token; anything else is read-only.
 */
export function resolveAdminMode({ readOnly, tokenConfigured, embedded, host }: AdminModeInputs): ResolvedAdminMode {
  if (readOnly) return { mode: 'read-only', reason: 'lockscope was started read-only (--read-only / READ_ONLY)' };
  if (tokenConfigured) return { mode: 'token' };
  if (embedded && isLoopbackHost(host)) return { mode: 'open' };
  if (embedded) {
    return {
      mode: 'read-only',
      reason: `lockscope listens on ${host}, not only on loopback, and no ADMIN_TOKEN is set`,
    };
  }
  return { mode: 'read-only', reason: 'external Redis and no ADMIN_TOKEN: set ADMIN_TOKEN to enable admin actions' };
}

/**
 * True for names that can only mean this machine: `localhost` (and `*.localhost`, which browsers pin to
 * loopback), 127.0.0.0/8 and ::1. Accepts a bare host name or an IPv6 literal with or without brackets.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4.slice(1).every((o) => Number(o) <= 255);
}

/** The host name of a `Host` header value (`127.0.0.1:7070` → `127.0.0.1`, `[::1]:80` → `[::1]`), or null. */
export function hostnameOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return null;
  }
}
