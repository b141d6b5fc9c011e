import { z } from 'zod';
import type { NodeStatus, RedisRestart } from '../../../shared/status';
import type { HistoryRecord, LockRecord } from '../model/lock-tracker';
import type { IdentityMemory } from '../targets/node/server-identity';

/**
 * The leader's change stream: one Redis stream entry per message, flat fields (readable with `XRANGE` in
 * redis-cli), the payload as JSON in `data`.
 *
 * Every entry carries the lease's `epoch`, `term` and a `seq` that counts the term's entries from 1: a follower
 * applies entries of the term it follows in order and notices a missing one (a gap: it asks for a snapshot), and
 * ignores any entry of an older term (a leader whose term is over: fencing; the publish script refuses such
 * writes already, this is the second line).
 */
export const ENTRY_VERSION = '1';

export type EntryKind = 'term' | 'changes' | 'status' | 'beat' | 'snapshot' | 'resign';

/** One lock's change in a `changes` entry (or its whole state in a `snapshot` part). */
export interface ChangeItem {
  id: string;
  /** The lock's new state; null: it left the table; absent: unchanged (only history). */
  lock?: LockRecord | null;
  /** History recorded since the previous entry; with `reset`, the lock's whole history (it was dropped and re-added). */
  history?: HistoryRecord;
  reset?: true;
}

/** The leader's view of the target's nodes (what followers show instead of their own idle watchers). */
export interface StatusData {
  nodes: NodeStatus[];
  lastRestart: RedisRestart | null;
  lastError: string | null;
  /** What the leader knows of each node's server, for whoever leads next (restart detection). */
  memories: Record<string, IdentityMemory>;
}

/** The lease as the leader publishes it (at a new term, and with every renewal). */
export interface LeaseData {
  holder: string;
  acquiredAt: number;
  renewedAt: number;
  ttlMs: number;
  transitions: number;
}

/** Where a stream stands: the last entry applied. */
export interface Position {
  epoch: string;
  term: number;
  seq: number;
}

export type EntryData =
  | { kind: 'term'; data: LeaseData & { base: Position | null } }
  | { kind: 'changes'; data: { items: ChangeItem[] } }
  | { kind: 'status'; data: StatusData }
  | { kind: 'beat'; data: LeaseData }
  | { kind: 'snapshot'; data: { items: ChangeItem[]; status?: StatusData }; to: string; nonce: string; part: number; done: boolean }
  | { kind: 'resign'; data: Record<string, never> };

export type Entry = EntryData & Position & { id: string; /** The leader's clock when it published (epoch ms). */ at: number };

/** The fields of an entry, for XADD (after the envelope the publish script checks). */
export function encodeEntry(entry: EntryData & Position & { at: number }): string[] {
  const fields = ['v', ENTRY_VERSION, 'epoch', entry.epoch, 'term', String(entry.term), 'seq', String(entry.seq), 'kind', entry.kind, 'at', String(entry.at)];
  if (entry.kind === 'snapshot') fields.push('to', entry.to, 'nonce', entry.nonce, 'part', String(entry.part), 'done', entry.done ? '1' : '0');
  fields.push('data', JSON.stringify(entry.data));
  return fields;
}

const count = z.coerce.number().int().nonnegative();
const envelope = z.object({
  v: z.literal(ENTRY_VERSION),
  epoch: z.string().min(1).max(64),
  term: count,
  seq: count,
  kind: z.enum(['term', 'changes', 'status', 'beat', 'snapshot', 'resign']),
  at: count,
  data: z.string(),
  to: z.string().optional(),
  nonce: z.string().optional(),
  part: count.optional(),
  done: z.enum(['0', '1']).optional(),
});

const position = z.object({ epoch: z.string(), term: z.number(), seq: z.number() });
const lease = z.object({ holder: z.string(), acquiredAt: z.number(), renewedAt: z.number(), ttlMs: z.number(), transitions: z.number() });
/** Lock records and statuses come from another lockscope of the same version: checked for shape, not field by field. */
const items = z.array(z.object({ id: z.string(), lock: z.record(z.string(), z.unknown()).nullable().optional(), history: z.object({ events: z.array(z.any()), samples: z.array(z.number()) }).optional(), reset: z.literal(true).optional() }));
const status = z.object({ nodes: z.array(z.any()), lastRestart: z.any(), lastError: z.string().nullable(), memories: z.record(z.string(), z.any()) });
const payloads = {
  term: lease.extend({ base: position.nullable() }),
  changes: z.object({ items }),
  status,
  beat: lease,
  snapshot: z.object({ items, status: status.optional() }),
  resign: z.object({}),
} as const;

/** Decodes one XREAD/XRANGE entry; a malformed one is an error saying what is wrong (the follower then resyncs). */
export function decodeEntry(id: string, flat: string[]): Entry {
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) raw[flat[i]!] = flat[i + 1]!;
  const head = envelope.safeParse(raw);
  if (!head.success) throw new Error(`change stream entry ${id} is malformed: ${head.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const h = head.data;
  let json: unknown;
  try {
    json = JSON.parse(h.data);
  } catch {
    throw new Error(`change stream entry ${id} has a data field that is not JSON`);
  }
  const data = payloads[h.kind].safeParse(json);
  if (!data.success) throw new Error(`change stream entry ${id} (${h.kind}) has unexpected data: ${data.error.issues[0]?.message ?? ''}`);
  const base = { id, epoch: h.epoch, term: h.term, seq: h.seq, at: h.at };
  if (h.kind === 'snapshot') {
    if (h.to === undefined || h.nonce === undefined || h.part === undefined || h.done === undefined) throw new Error(`snapshot entry ${id} lacks its recipient or part`);
    return { ...base, kind: 'snapshot', data: data.data as Extract<EntryData, { kind: 'snapshot' }>['data'], to: h.to, nonce: h.nonce, part: h.part, done: h.done === '1' };
  }
  return { ...base, kind: h.kind, data: data.data } as Entry;
}

/** The ms part of a stream id (Redis's clock when the entry was added). */
export const idTime = (id: string): number => Number(id.slice(0, id.indexOf('-')));
