// Runs the TypeScript screenshot script after making sure dependencies, redis-server, chromium and the build exist.
import { ensureDeps, ensureSystemPackages, ensureClientBuild, run } from './setup.mjs';
await ensureDeps();
ensureSystemPackages(['redis-server', 'chromium']);
await ensureClientBuild();
process.exit(await run(process.execPath, ['--import', 'tsx', 'scripts/screenshots.ts', ...process.argv.slice(2)]));
