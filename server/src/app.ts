import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { composeLockscope, type LockscopeCore, type LockscopeParts } from './lockscope';

export type AppDeps = LockscopeParts;

/** lockscope as its own server: the composed parts, mounted at the base path of an HTTP server of their own. */
export interface App extends Omit<LockscopeCore, 'attach' | 'router' | 'basePath'> {
  httpServer: HttpServer;
  /** Ordered shutdown: the HTTP server stops taking connections, then lockscope closes, then the server is closed. */
  close(): Promise<void>;
}

/** Builds the whole server without touching the network: the caller starts it and listens. */
export function createApp(deps: AppDeps): App {
  const core = composeLockscope(deps);
  const web = express();
  web.disable('x-powered-by');
  if (core.basePath) {
    web.use(core.basePath, core.router);
    // Someone who opens the server's root finds the dashboard.
    web.get('/', (_req, res) => res.redirect(302, `${core.basePath}/`));
  } else {
    web.use(core.router);
  }
  const httpServer = createServer(web);
  core.attach(httpServer);
  const { attach: _attach, router: _router, basePath: _basePath, ...parts } = core;
  return {
    ...parts,
    httpServer,
    async close() {
      const stopped = httpServer.listening ? new Promise<void>((resolve) => httpServer.close(() => resolve())) : null;
      await core.close();
      // Idle keep-alive connections would hold `close` open until they time out.
      httpServer.closeIdleConnections();
      await stopped;
    },
  };
}
