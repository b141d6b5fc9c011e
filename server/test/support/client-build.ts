import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** index.html as Vite builds it for lockscope: every URL relative to the page. */
export const FAKE_INDEX_HTML = '<!doctype html><title>lockscope</title><script type="module" src="./assets/index-Ab12Cd34.js"></script>';
/** The one asset of the fake build. */
export const FAKE_ASSET = 'assets/index-Ab12Cd34.js';

/** A stand-in for client/dist (index.html and one asset) in a temp dir, for servers under test to serve. */
export function fakeClientBuild(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'lockscope-client-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), FAKE_INDEX_HTML);
  writeFileSync(join(dir, FAKE_ASSET), 'console.log(1)');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
