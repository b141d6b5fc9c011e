// `npm start`: set up what is missing, then run the lockscope server (flags after `--` go to it).
import { ensureClientBuild, ensureDeps, ensureSystemPackages, run } from './setup.mjs';

const args = process.argv.slice(2);
// --help and --version need neither Redis nor the dashboard build.
const help = ['--help', '-h', '--version', '-v'].some((flag) => args.includes(flag));
const external = Boolean(process.env.REDIS_URL) || args.some((a) => a.startsWith('--redis-url'));
await ensureDeps();
if (!help) {
  if (!external) ensureSystemPackages(['redis-server']);
  await ensureClientBuild();
}
process.exit(await run(process.execPath, ['--import', 'tsx', 'server/src/main.ts', ...args]));
