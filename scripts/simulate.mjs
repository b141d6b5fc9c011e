// `npm run simulate -- [flags]`: the contention simulator, headless (see --help).
import { ensureDeps, ensureSystemPackages, run } from './setup.mjs';
const args = process.argv.slice(2);
await ensureDeps();
if (!process.env.REDIS_URL && !args.some((a) => a.startsWith('--redis-url')) && !args.includes('--help')) ensureSystemPackages(['redis-server']);
process.exit(await run(process.execPath, ['--import', 'tsx', 'server/src/simulator/cli.ts', ...args]));
