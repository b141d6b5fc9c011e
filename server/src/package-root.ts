import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root: two levels up from server/src/ (run through tsx) and from dist/server/ (the bundle that
 * `lockscope` and `import 'lockscope'` load), where package.json and client/dist are.
 */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built dashboard that comes with the package. */
export const packagedClientDir = join(packageRoot, 'client', 'dist');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
