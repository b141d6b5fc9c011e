/** redis-lock 1.0 ships no types: the part of its API the tests use (`index.js`). */
declare module 'redis-lock' {
  type Release = () => Promise<unknown>;
  /** A lock function bound to a node-redis v4 client: resolves, once acquired, to the function that releases it. */
  export default function redisLock(client: unknown, retryDelay?: number): (name: string, timeoutMs?: number) => Promise<Release>;
}
