/** The request headers the cross-origin check reads. */
export interface OriginHeaders {
  origin?: string;
  /** The host the browser addressed: `Host`, or `X-Forwarded-Host` from a trusted proxy (Express's `req.host`). */
  host?: string;
  /** `Sec-Fetch-Site`, sent by every current browser with its fetches (not with WebSocket handshakes). */
  secFetchSite?: string;
}

/**
 * Why a state-changing request or a Socket.IO handshake must be refused as cross-site, or null when it may
 * proceed. Browsers send `Sec-Fetch-Site` and/or `Origin` on every POST/DELETE, and `Origin` on every WebSocket
 * handshake; a page on another site cannot forge either. Clients that send neither (curl, scripts with a bearer
 * token) are not browsers and cannot carry a victim's cookie.
 */
export function crossOriginProblem({ origin, host, secFetchSite }: OriginHeaders): string | null {
  if (secFetchSite !== undefined && secFetchSite !== 'same-origin' && secFetchSite !== 'none') {
    return `the request came from another site (Sec-Fetch-Site: ${secFetchSite})`;
  }
  // The browser itself says the page is on the origin it sends to. Comparing Origin with Host would add nothing, and
  // fails behind a proxy that rewrites Host (nginx's usual `Host $host` drops the port the browser used).
  if (secFetchSite === 'same-origin') return null;
  if (origin === undefined) return null;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `the request's Origin (${origin.slice(0, 100)}) is not a URL`;
  }
  if (!host || originHost.toLowerCase() !== host.toLowerCase()) {
    return `the request came from ${origin.slice(0, 100)}, not from this dashboard`;
  }
  return null;
}
