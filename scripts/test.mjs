// `npm test`: set up what is missing, then static checks, unit + integration (vitest) and e2e (Playwright).
// Ends with one summary line "N passed, N failed, N skipped" over every suite.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureClientBuild, ensureDeps, ensureSystemPackages, root, run } from './setup.mjs';

await ensureDeps();
ensureSystemPackages(['redis-server', 'chromium', 'python3-redis']);
await ensureClientBuild();

// Not under test-results/: Playwright empties that folder when it starts.
const reports = join(root, '.lockscope', 'reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
const bin = (name) => join(root, 'node_modules', '.bin', name);
const failures = [];
const step = async (name, cmd, args, env = {}) => {
  console.log(`\n=== ${name} ===`);
  const code = await run(cmd, args, { env: { ...process.env, ...env } });
  if (code !== 0) failures.push(name);
};

await step('typecheck', 'npm', ['run', '-s', 'typecheck']);
await step('lint', 'npm', ['run', '-s', 'lint']);
await step('unit + integration (vitest)', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${join(reports, 'vitest.json')}`]);
await step('e2e (playwright)', bin('playwright'), ['test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: join(reports, 'playwright.json') });

const read = (file) => (existsSync(join(reports, file)) ? JSON.parse(readFileSync(join(reports, file), 'utf8')) : null);
const vitest = read('vitest.json');
const playwright = read('playwright.json');
const passed = (vitest?.numPassedTests ?? 0) + (playwright?.stats?.expected ?? 0) + (playwright?.stats?.flaky ?? 0);
const failed = (vitest?.numFailedTests ?? 0) + (playwright?.stats?.unexpected ?? 0) + (failures.length && !vitest && !playwright ? 1 : 0);
const skipped = (vitest?.numPendingTests ?? 0) + (vitest?.numTodoTests ?? 0) + (playwright?.stats?.skipped ?? 0);
if (failures.length) console.log(`\nFailed steps: ${failures.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failures.length ? 1 : 0);
