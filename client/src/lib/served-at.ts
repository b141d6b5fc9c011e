/**
 * A URL of this dashboard's server, relative to the directory the page was loaded from (`document.baseURI`, e.g.
 * `https://ops.example.com/ops/locks/`). Nothing in the client names a path from the root, so one build works at
 * `/`, under BASE_PATH, mounted in another application, and behind a proxy that adds or strips a prefix.
 */
export function servedAt(path: string): URL {
  return new URL(path, document.baseURI);
}
