import { pino } from 'pino';
import { createApp } from './app';
import { resolveConfig } from './config/config';
import { applyTlsFiles } from './config/tls-files';
import { packagedClientDir, packageVersion } from './package-root';
import { startEmbeddedRedis, type EmbeddedRedis } from './redis/embedded-redis';
import { superviseEmbeddedRedis } from './redis/embedded-supervisor';

/** The only place that reads the environment, connects, listens and handles signals. */
async function main(): Promise<void> {
  const resolved = resolveConfig(process.env, process.argv.slice(2));
  if (resolved.kind === 'help') {
    console.log(resolved.text);
    return;
  }
  if (resolved.kind === 'version') {
    console.log(packageVersion());
    return;
  }
  // The TLS files are read (and checked) here, once: a bad one stops start-up like any other bad setting.
  const loaded = resolved.kind === 'error' ? { ok: false as const, problems: resolved.problems } : applyTlsFiles(resolved.config);
  if (!loaded.ok) {
    console.error(`lockscope: invalid configuration:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exitCode = 2;
    return;
  }
  const config = loaded.config;
  const logger = pino({ level: config.logLevel, base: { app: 'lockscope' } });
  const version = packageVersion();

  let embedded: EmbeddedRedis | null = null;
  let targets = config.targets;
  if (!targets.length) {
    embedded = await startEmbeddedRedis();
    targets = [{ kind: 'url', name: null, url: embedded.url, label: `embedded (${embedded.url})` }];
  }
  const supervised = embedded ? superviseEmbeddedRedis(embedded, logger.child({ part: 'embedded-redis' })) : null;

  const app = createApp({
    config,
    targets,
    logger,
    // Never change an external server's config unless told to (--configure-notifications).
    configureNotifications: embedded !== null || config.configureNotifications,
    // Also: the simulator writes load into Redis, so it is always allowed on our own, on an external one when asked.
    embedded: embedded !== null,
    clientDir: packagedClientDir,
    version,
  });
  await app.start();
  await new Promise<void>((resolve, reject) => {
    app.httpServer.once('error', reject);
    app.httpServer.listen(config.port, config.host, resolve);
  });
  const address = app.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  console.log(`lockscope ${version} — dashboard: http://${shownHost}:${port}${config.basePath && `${config.basePath}/`}`);
  for (const t of app.targets.list) {
    const s = t.status();
    const state = s.health === 'ok' || s.health === 'degraded' ? s.health : `${s.health}: ${s.problem}`;
    console.log(`Redis${t.name ? ` ${t.name}` : ''}: ${t.url} (${state})`);
  }
  if (config.lockFormatsPath) console.log(`Lock formats: ${config.lockFormats.length} declared in ${config.lockFormatsPath}`);
  const { mode: adminMode, reason: adminReason } = app.admin.mode;
  console.log(
    `Admin: ${
      adminMode === 'token'
        ? 'log in with ADMIN_TOKEN to release locks'
        : adminMode === 'open'
          ? 'open on loopback (embedded Redis, no ADMIN_TOKEN)'
          : `read-only (${adminReason ?? 'no admin actions'})`
    }`,
  );

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took over 10 s; forcing exit');
      process.exit(1);
    }, 10_000);
    force.unref();
    await app.close().catch((err: Error) => logger.error({ err: err.message }, 'closing the app failed'));
    await supervised?.stop();
    clearTimeout(force);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`lockscope: ${err.message}`);
  process.exit(1);
});
