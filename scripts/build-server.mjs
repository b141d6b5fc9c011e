// `npm run build:server`: the server as one ES module for Node (dist/server/main.js, the `lockscope` command).
// Our code (server/src, shared) is bundled; npm packages stay imports, installed as the package's dependencies.
// `npm start` in a clone does not use it: it runs server/src through tsx.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { root } from './setup.mjs';

const outfile = join(root, 'dist', 'server', 'main.js');
const result = await build({
  entryPoints: [join(root, 'server', 'src', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
  metafile: true,
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
const externals = new Set(Object.values(result.metafile.inputs).flatMap((i) => i.imports.filter((d) => d.external).map((d) => d.path)));
console.log(`built ${outfile} (npm packages imported: ${[...externals].filter((p) => !p.startsWith('node:')).sort().join(', ')})`);
