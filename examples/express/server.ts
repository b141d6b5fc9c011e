/**
 * An Express application of its own with lockscope mounted beside its routes, at /locks.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npm run example        # then open http://127.0.0.1:3000/locks/
 *
 * In your own project, after `npm install lockscope`, the same file runs as it is (`lockscope` is the package).
 */
import { createServer } from 'node:http';
import express from 'express';
import { createLockscope } from 'lockscope';

const app = express();
app.use(express.json());
// The application's own route: lockscope neither sees nor changes it.
app.get('/api/orders', (_req, res) => {
  res.json({ orders: [{ id: 42, status: 'paid' }] });
});

const lockscope = await createLockscope({
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  basePath: '/locks',
  // Admin actions (force-release, set TTL) behind a login; read-only without a token.
  auth: process.env.ADMIN_TOKEN ? { token: process.env.ADMIN_TOKEN } : undefined,
});
app.use(lockscope.basePath, lockscope.router);

const server = createServer(app);
lockscope.attach(server); // Socket.IO at /locks/socket.io/, beside anything else on this server
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`example app on http://127.0.0.1:${port}: its API at /api/orders, lockscope at /locks/`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // No process.exit(): once lockscope and the server are closed nothing is left, and Node exits by itself.
    void lockscope.close().then(() => server.close());
  });
}
