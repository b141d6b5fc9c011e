/**
 * Benchmark runner: each `bench/*.ts` module (but this one) exports
 * `default async function run(ctx: { redisUrl, log })` and gets a fresh private Redis. Figures are printed
 * as ratios against a baseline measured in the same run, because these machines are noisy.
 */
import { readdirSync } from 'node:fs';
import { startEmbeddedRedis } from '../server/src/redis/embedded-redis';

export interface BenchContext {
  redisUrl: string;
  log: (line: string) => void;
}

const dir = new URL('.', import.meta.url);
const filter = process.argv[2];
const modules = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (!modules.length) console.log(`no benchmark matches "${filter}"`);
for (const file of modules) {
  const { default: bench } = (await import(new URL(file, dir).href)) as { default: (ctx: BenchContext) => Promise<void> };
  const redis = await startEmbeddedRedis();
  console.log(`\n## ${file.replace(/\.ts$/, '')}`);
  const started = Date.now();
  try {
    await bench({ redisUrl: redis.url, log: (line) => console.log(`  ${line}`) });
  } catch (err) {
    console.log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    await redis.stop();
  }
  console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
