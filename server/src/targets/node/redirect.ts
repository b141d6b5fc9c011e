/**
 * A Redis Cluster node's "not here" for a command on keys, as opposed to an answer. None of them says anything
 * about whether a key exists:
 * - `moved`: the slot is served by another master (`MOVED <slot> <host:port>`): lockscope's slot map is stale.
 * - `ask`: the slot is being migrated and this key is not on the source any more (`ASK <slot> <host:port>`):
 *   ask the target, prefixed with `ASKING`.
 * - `tryagain`: a multi-key call over a slot half migrated, some keys here and some moved (`TRYAGAIN`): ask
 *   for the keys one by one.
 * - `down`: the cluster cannot serve the slot now (`CLUSTERDOWN`: a master failed and no replica has taken
 *   over yet; or the node is a replica, or still loading the slot map): ask again later.
 */
export type Redirect =
  | { kind: 'moved' | 'ask'; slot: number; address: string }
  | { kind: 'tryagain' | 'down'; message: string };

export function redirectOf(err: unknown): Redirect | null {
  const message = err instanceof Error ? err.message : '';
  const moved = /^(MOVED|ASK) (\d+) (\S+)/.exec(message);
  if (moved) return { kind: moved[1] === 'MOVED' ? 'moved' : 'ask', slot: Number(moved[2]), address: moved[3]! };
  if (/^TRYAGAIN/.test(message)) return { kind: 'tryagain', message };
  if (/^CLUSTERDOWN/.test(message)) return { kind: 'down', message };
  return null;
}
