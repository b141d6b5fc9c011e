// Self-setup shared by `npm start`, `npm test`, `npm run bench`: plain Node, no dependencies, because it runs
// before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Debian package and the path it installs, per program lockscope needs. */
const SYSTEM = {
  'redis-server': { pkg: 'redis-server', paths: ['/usr/bin/redis-server', '/usr/local/bin/redis-server'] },
  chromium: { pkg: 'chromium', paths: ['/usr/bin/chromium'] },
  // redis-py for the real-client test (PyPI is not reachable here; Debian's package is), run by /usr/bin/python3.
  'python3-redis': { pkg: 'python3-redis', paths: ['/usr/lib/python3/dist-packages/redis/__init__.py'] },
};

function fail(sentence) {
  console.error(`\nlockscope: ${sentence}\n`);
  process.exit(1);
}

function onPath(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command with inherited stdio; resolves to its exit code. Ctrl-C/SIGTERM reach the child. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', ...options });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
    child.on('error', (err) => {
      console.error(`lockscope: could not run ${cmd}: ${err.message}`);
      resolve(1);
    });
  });
}

/** Installs npm dependencies when node_modules is missing or older than the lockfile. */
export async function ensureDeps() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && (!existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs)) return;
  const fresh = !existsSync(join(root, 'node_modules'));
  console.log(`lockscope: ${fresh ? 'installing' : 'updating'} npm dependencies…`);
  // Not `npm ci`: npm 11 rejects lockfiles that omit other platforms' optional packages; install honours the lock.
  const code = await run('npm', ['install', '--no-audit', '--no-fund']);
  if (code !== 0) fail('`npm install` failed (see above): check your network access to the npm registry and run the command again.');
}

/** Makes sure the named programs exist: apt-get installs them when we are root on Debian, otherwise one clear sentence. */
export function ensureSystemPackages(programs) {
  const missing = programs.filter((p) => !SYSTEM[p].paths.some((path) => existsSync(path)) && !onPath(p));
  if (!missing.length) return;
  const pkgs = missing.map((p) => SYSTEM[p].pkg);
  const isRoot = process.getuid?.() === 0;
  if (isRoot && onPath('apt-get')) {
    console.log(`lockscope: installing ${pkgs.join(' and ')} with apt-get…`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
    if (install && install.status === 0 && missing.every((p) => SYSTEM[p].paths.some((path) => existsSync(path)) || onPath(p))) return;
    fail(`installing ${pkgs.join(' and ')} with apt-get failed (see above): install ${pkgs.join(' and ')} yourself and run the command again.`);
  }
  fail(`lockscope needs ${pkgs.join(' and ')}: install ${missing.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: sudo apt-get install ${pkgs.join(' ')}) and run the command again.`);
}

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds the dashboard when the build is missing or older than its sources. */
export async function ensureClientBuild() {
  const built = join(root, 'client', 'dist', 'index.html');
  const sources = ['client/src', 'client/index.html', 'client/vite.config.ts', 'shared', 'package-lock.json'];
  const newest = Math.max(...sources.map((s) => newestMtime(join(root, s))));
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  console.log('lockscope: building the dashboard…');
  const code = await run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'client/vite.config.ts', '--logLevel', 'warn']);
  if (code !== 0) fail('building the dashboard failed (see above).');
}
