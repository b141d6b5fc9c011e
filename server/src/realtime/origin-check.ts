import type { IncomingMessage } from 'node:http';

/**
 * Browsers send Origin on WebSocket handshakes but do not apply CORS to them, so without this check any web
 * page could open a socket to lockscope with the user's cookies (cross-site WebSocket hijacking).
 * Requests without Origin (non-browser clients) are allowed; browsers always send it.
 */
export function sameOrigin(req: IncomingMessage, allowed: string[] = []): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
