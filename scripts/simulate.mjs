// `npm run simulate -- [flags]`: the contention simulator, headless (see `npm run simulate -- --help`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server/src/simulator/cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
// Ctrl-C reaches the child through the terminal's process group; it stops cleanly and prints its summary.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
