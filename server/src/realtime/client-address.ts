import type { IncomingMessage } from 'node:http';

/** Express's compiled `trust proxy` setting (`app.get('trust proxy fn')`): may hop `i`, at `addr`, be trusted? */
export type TrustFn = (addr: string, i: number) => boolean;

/**
 * The client's address for a raw request (a Socket.IO handshake), exactly as Express computes `req.ip`: walk
 * from the socket's peer back through `X-Forwarded-For`, right to left, while each hop is a trusted proxy.
 * Without a trusted proxy this is the peer address, whatever the header says.
 */
export function clientAddress(req: IncomingMessage, trust: TrustFn): string {
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .reverse();
  const chain = [req.socket.remoteAddress ?? '', ...forwarded];
  for (let i = 0; i < chain.length - 1; i++) if (!trust(chain[i]!, i)) return chain[i]!;
  return chain[chain.length - 1]!;
}

/**
 * The host a raw request addressed, exactly as Express 5 computes `req.host`: the first `X-Forwarded-Host` when the
 * peer is a trusted proxy, else `Host`.
 */
export function clientHost(req: IncomingMessage, trust: TrustFn): string | undefined {
  const header = req.headers['x-forwarded-host'];
  const forwarded = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  return forwarded && trust(req.socket.remoteAddress ?? '', 0) ? forwarded : req.headers.host;
}
