// `npm run bench [-- name-filter]`: set up what is missing, then run every bench/*.ts module.
import { ensureDeps, ensureSystemPackages, run } from './setup.mjs';
await ensureDeps();
ensureSystemPackages(['redis-server']);
process.exit(await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)]));
