/** Hash slots in a Redis Cluster. */
export const SLOTS = 16384;

/** One node as a `CLUSTER NODES` line describes it. */
export interface ClusterNodeInfo {
  /** The node's 40-hex id (stable across restarts: it lives in the node's `nodes.conf`). */
  id: string;
  /** `host:port` for clients (the cluster bus port left out), or null for a node without a known address. */
  address: string | null;
  role: 'master' | 'replica';
  /** The master it replicates, for a replica. */
  masterId: string | null;
  /** Agreed failing by the cluster (`fail`): a killed master keeps this flag until it comes back. */
  failed: boolean;
  /** Thought failing by the node that answered (`fail?`), not yet agreed. */
  suspect: boolean;
  /** The node that answered. */
  myself: boolean;
  /** Still being introduced (`handshake`, `noaddr`): not a member yet. */
  joining: boolean;
  /** Inclusive slot ranges it serves (masters). */
  slots: [number, number][];
}

/**
 * Parses `CLUSTER NODES` (Redis ≥ 3; `ip:port@cport[,hostname]` since 7.0). Migrating/importing markers
 * (`[slot->-id]`) are left out: a slot belongs to its source until the migration ends, and keys already moved
 * answer `ASK`, which the probes follow. `host` stands in for a node's own address when it does not know it yet
 * (a lone node reports `:port`).
 */
export function parseClusterNodes(text: string, host: string): ClusterNodeInfo[] {
  const nodes: ClusterNodeInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id = '', addr = '', flagText = '', master = '-'] = fields;
    const flags = new Set(flagText.split(','));
    const hostPort = addr.split('@')[0]!.split(',')[0]!;
    const colon = hostPort.lastIndexOf(':');
    const ip = hostPort.slice(0, colon);
    const port = Number(hostPort.slice(colon + 1));
    const address = port > 0 ? `${ip || (flags.has('myself') ? host : '')}:${port}` : null;
    const slots: [number, number][] = [];
    for (const s of fields.slice(8)) {
      if (s.startsWith('[')) continue;
      const [a, b = a] = s.split('-').map(Number) as [number, number?];
      if (Number.isInteger(a) && Number.isInteger(b)) slots.push([a, b]);
    }
    nodes.push({
      id,
      address: address && !address.startsWith(':') ? address : null,
      role: flags.has('slave') ? 'replica' : 'master',
      masterId: master === '-' ? null : master,
      failed: flags.has('fail'),
      suspect: flags.has('fail?'),
      myself: flags.has('myself'),
      joining: flags.has('handshake') || flags.has('noaddr'),
      slots: slots.sort((x, y) => x[0] - y[0]),
    });
  }
  return nodes;
}

/** The masters lockscope watches: every member master, but a failed one that serves no slot (its replica took over). */
export function watchedMasters(view: ClusterNodeInfo[]): ClusterNodeInfo[] {
  return view.filter((n) => n.role === 'master' && !n.joining && n.address !== null && !(n.failed && !n.slots.length));
}

/** Slot → id of the master serving it (null where none does). */
export function slotOwners(view: ClusterNodeInfo[]): (string | null)[] {
  const owners: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
  for (const n of view) {
    if (n.role !== 'master') continue;
    for (const [a, b] of n.slots) for (let s = a; s <= b && s < SLOTS; s++) owners[s] = n.id;
  }
  return owners;
}

/** Ranges as Redis writes them: `0-5460,5462`. */
export function formatSlots(ranges: [number, number][]): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',');
}
