// `npm run build:server`: the server for Node as ES modules in dist/server/ — main.js (the `lockscope` command) and
// index.js (`import { createLockscope } from 'lockscope'`), sharing one chunk of everything else — and index.d.ts,
// the embedding API's types in one file. Our code (server/src, shared) is bundled; npm packages stay imports,
// installed as the package's dependencies. `npm start` in a clone does not use it: it runs server/src through tsx.
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDtsBundle } from 'dts-bundle-generator';
import { build } from 'esbuild';
import { root } from './setup.mjs';

const outdir = join(root, 'dist', 'server');
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(root, 'server', 'src', 'main.ts'), index: join(root, 'server', 'src', 'index.ts') },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: 'lockscope-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
});
const main = join(outdir, 'main.js');
writeFileSync(main, `#!/usr/bin/env node\n${readFileSync(main, 'utf8')}`);
chmodSync(main, 0o755);

const [types] = generateDtsBundle(
  [{ filePath: join(root, 'server', 'src', 'index.ts'), output: { noBanner: true, exportReferencedTypes: false } }],
  { preferredConfigPath: join(root, 'server', 'tsconfig.json') },
);
writeFileSync(join(outdir, 'index.d.ts'), types);

const externals = new Set(Object.values(result.metafile.inputs).flatMap((i) => i.imports.filter((d) => d.external).map((d) => d.path)));
console.log(`built ${outdir}: main.js, index.js, index.d.ts (npm packages imported: ${[...externals].filter((p) => !p.startsWith('node:')).sort().join(', ')})`);
