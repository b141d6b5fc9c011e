import type { SimSummary } from '../../../shared/simulator';
import { maskRedisUrl } from '../config/config';
import { startEmbeddedRedis, type EmbeddedRedis } from '../redis/embedded-redis';
import { helpText, humanSummary, parseCli, progressLine } from './cli-args';
import { parseSimConfig } from './config';
import { runSimulation } from './simulator';

/**
 * `npm run simulate -- [flags]`: runs the contention simulator headless against REDIS_URL (or a private embedded
 * redis-server) and prints a summary, as JSON with --json. Exit code 0; 1 with --fail-on-violation when the run
 * had violations; 2 for bad flags; 3 when Redis could not be used.
 */
async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.kind === 'help') {
    console.log(helpText());
    return 0;
  }
  if (cli.kind === 'error') {
    console.error(`simulate: invalid flags:\n${cli.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }
  const parsed = parseSimConfig(cli.input);
  if (!parsed.ok) return 2;
  let embedded: EmbeddedRedis | null = null;
  let redisUrl = cli.redisUrl;
  try {
    if (!redisUrl) {
      embedded = await startEmbeddedRedis({ args: ['--notify-keyspace-events', ''] });
      redisUrl = embedded.url;
    }
    const log = (line: string) => {
      if (!cli.quiet) console.error(line);
    };
    log(`simulate: ${parsed.config.strategy}, ${parsed.config.workers} workers over ${parsed.config.resources} resources for ${parsed.config.durationMs} ms against ${embedded ? `embedded Redis (${redisUrl})` : maskRedisUrl(redisUrl)}`);
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    // `on`, not `once`: Ctrl-C reaches both this process and scripts/simulate.mjs, which forwards it again.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let summary: SimSummary;
    try {
      summary = await runSimulation(parsed.config, { redisUrl }, (s) => log(progressLine(s)), controller.signal);
    } catch (err) {
      const where = embedded ? 'the embedded Redis' : `REDIS_URL / --redis-url (${maskRedisUrl(redisUrl)})`;
      console.error(`simulate: ${(err as Error).message}. Nothing was run; check ${where}.`);
      return 3;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    console.log(cli.json ? JSON.stringify(summary, null, 2) : humanSummary(summary));
    return cli.failOnViolation && summary.violations > 0 ? 1 : 0;
  } finally {
    await embedded?.stop();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(`simulate: ${err.message}`);
    process.exitCode = 3;
  },
);
