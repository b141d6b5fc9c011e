import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Server as Engine, type ServerOptions as EngineOptions } from 'engine.io';
import { Server, type ServerOptions } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { jsonParser } from './json-parser';

export type IO = Server<ClientToServerEvents, ServerToClientEvents>;

/** An HTTP(S) server lockscope's Socket.IO can serve on: the host application's, or the one `createApp` makes. */
export type AttachableServer = HttpServer | HttpsServer;

export interface SocketServerOptions {
  /** Where Socket.IO answers, e.g. `/ops/locks/socket.io/` (with the trailing slash the client adds). */
  path: string;
  /** Decides each handshake (the cross-site check); not asked again for the requests of a connected client. */
  allowRequest: NonNullable<EngineOptions['allowRequest']>;
  /** A Socket.IO adapter (e.g. one that shares rooms between lockscope instances); default: in memory. */
  adapter?: ServerOptions['adapter'];
}

export interface SocketServer {
  io: IO;
  /** Serves Socket.IO on `server` beside whatever else it serves; the returned function lets go of it again. */
  attach(server: AttachableServer): () => void;
  /** Disconnects every client and lets go of every server attached to; never closes those servers. */
  close(): Promise<void>;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * lockscope's own Socket.IO server on its own engine.io, which it attaches to HTTP servers itself rather than
 * through `io.attach()`: Socket.IO's attach wraps the server's request listeners for good and its `close()` closes
 * the HTTP server, both wrong for a host application's server. Here only requests under `path` are taken; every
 * other request and upgrade (the host's routes, its own Socket.IO on `/socket.io/`) reaches the host's listeners
 * as before, and `close()` puts the server's listeners back as they were.
 */
export function createSocketServer(options: SocketServerOptions): SocketServer {
  const { path } = options;
  const engine = new Engine({ allowRequest: options.allowRequest, maxHttpBufferSize: 64 * 1024 });
  // Our events are plain JSON: the server's parser skips Socket.IO's search for binary attachments (json-parser.ts).
  const io: IO = new Server({ path, serveClient: false, adapter: options.adapter, maxHttpBufferSize: 64 * 1024, parser: jsonParser });
  io.bind(engine);
  const ours = (req: IncomingMessage) => (req.url ?? '').startsWith(path);
  const detachers = new Set<() => void>();

  return {
    io,
    attach(server) {
      // Request listeners run in turn and each may answer: ours must stand in front of the host's (an Express app
      // answers 404 to whatever it does not know) and hand them everything else, as engine.io's own attach does.
      const hosts = server.rawListeners('request') as RequestListener[];
      let attached = true;
      const onRequest: RequestListener = (req, res) => {
        if (attached && ours(req)) return void engine.handleRequest(req, res);
        for (const listener of hosts) listener.call(server, req, res);
      };
      // Upgrades for other paths are the host's (its own Socket.IO's, say). With no listener of the host's, Node would
      // answer them as plain requests; an 'upgrade' listener takes that over, so one nobody takes is refused here.
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (attached && ours(req)) return engine.handleUpgrade(req, socket, head);
        if (server.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      };
      server.removeAllListeners('request');
      server.on('request', onRequest);
      server.on('upgrade', onUpgrade);
      const detach = () => {
        if (!attached) return;
        attached = false;
        detachers.delete(detach);
        server.off('upgrade', onUpgrade);
        const now = server.rawListeners('request') as RequestListener[];
        // Another attach after ours (the host's own Socket.IO, say) holds `onRequest` inside its wrapper: left there,
        // it only passes requests on now.
        if (!now.includes(onRequest)) return;
        server.removeAllListeners('request');
        for (const listener of now) {
          if (listener === onRequest) for (const host of hosts) server.on('request', host);
          else server.on('request', listener);
        }
      };
      detachers.add(detach);
      return detach;
    },
    async close() {
      // Without an HTTP server of its own, io.close() ends the clients and the engine and leaves servers alone.
      await io.close();
      for (const detach of [...detachers]) detach();
    },
  };
}
