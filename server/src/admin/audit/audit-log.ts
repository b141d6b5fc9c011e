import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  AUDIT_MAX_ENTRIES,
  AUDIT_STREAM,
  type AuditAction,
  type AuditEntry,
  type AuditPage,
  type AuditResult,
  type WakeMethod,
} from '../../../../shared/admin';
import type { BytesView } from '../../../../shared/locks';
import type { ApiError } from '../../../../shared/result';
import { bytesView, visibleText } from '../../model/bytes';

/** What a caller records; the log adds the id and time. Keys and owners are raw bytes. */
export interface AuditInput {
  action: AuditAction;
  actor: string;
  ip: string;
  /** The target of a lock action (`TargetStatus.id`). */
  target?: string | null;
  key?: Buffer | null;
  ownerSeen?: Buffer | null;
  result: AuditResult;
  currentOwner?: BytesView | null;
  error?: ApiError | null;
  reason?: string | null;
  ttlMs?: number | null;
  woke?: WakeMethod | null;
  bulkId?: string | null;
  detail?: string | null;
}

export interface AuditLogOptions {
  /**
   * Whether entries go to the Redis stream. False in read-only mode: lockscope then writes nothing to the
   * inspected Redis at all, and refused attempts are kept in the JSON log only.
   */
  store: boolean;
  stream?: string;
  maxEntries?: number;
  clock?: () => number;
}

/** Bytes of a key/owner kept in an entry: enough to identify it, bounded against junk sent by unauthenticated callers. */
const MAX_AUDIT_BYTES = 1024;
const MAX_AUDIT_REASON = 500;
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * The audit log: every admin action (refused ones too) goes to a capped Redis stream of lockscope's own, to the
 * JSON log, and out as an `entry` event for live views. Recording never throws: if Redis is down the entry still
 * reaches the log and the live view, with a `log-` id.
 */
export class AuditLog extends EventEmitter<{ entry: [AuditEntry] }> {
  private readonly stream: string;
  private readonly maxEntries: number;
  private readonly clock: () => number;
  private localSeq = 0;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly options: AuditLogOptions,
  ) {
    super();
    this.stream = options.stream ?? AUDIT_STREAM;
    this.maxEntries = options.maxEntries ?? AUDIT_MAX_ENTRIES;
    this.clock = options.clock ?? Date.now;
  }

  async record(input: AuditInput): Promise<AuditEntry> {
    const at = this.clock();
    const reason = input.reason ? input.reason.slice(0, MAX_AUDIT_REASON) : null;
    const entry: AuditEntry = {
      id: '',
      at,
      action: input.action,
      actor: input.actor,
      ip: input.ip,
      target: input.target ?? null,
      key: input.key ? bytesView(input.key.subarray(0, MAX_AUDIT_BYTES)) : null,
      ownerSeen: input.ownerSeen ? bytesView(input.ownerSeen.subarray(0, MAX_AUDIT_BYTES)) : null,
      result: input.result,
      currentOwner: input.currentOwner ?? null,
      error: input.error ?? null,
      // Free text from the caller: shown with its hidden characters escaped, stored as it was written.
      reason: reason === null ? null : visibleText(reason),
      ttlMs: input.ttlMs ?? null,
      woke: input.woke ?? null,
      bulkId: input.bulkId ?? null,
      detail: input.detail ? visibleText(input.detail) : null,
    };
    entry.id = (await this.store(entry, reason)) ?? `log-${at}-${++this.localSeq}`;
    const refused = entry.result === 'refused' || entry.result === 'failed';
    this.logger[refused ? 'warn' : 'info'](
      {
        audit: {
          id: entry.id,
          action: entry.action,
          actor: entry.actor,
          ip: entry.ip,
          target: entry.target,
          key: entry.key?.text ?? null,
          ownerSeen: entry.ownerSeen?.text ?? null,
          result: entry.result,
          currentOwner: entry.currentOwner?.text ?? null,
          error: entry.error?.code ?? null,
          reason: entry.reason,
          ttlMs: entry.ttlMs,
          woke: entry.woke,
          bulkId: entry.bulkId,
          detail: entry.detail,
        },
      },
      `admin ${entry.action}: ${entry.result}${entry.error ? ` (${entry.error.code})` : ''}`,
    );
    this.emit('entry', entry);
    return entry;
  }

  /** Newest first; `before` is an exclusive stream id for paging. */
  async list(count: number, before?: string): Promise<AuditPage> {
    const end = before ? `(${before}` : '+';
    const raw = (await this.redis.xrevrangeBuffer(this.stream, end, '-', 'COUNT', count + 1)) as [Buffer, Buffer[]][];
    const entries = raw.slice(0, count).map(([id, fields]) => decode(id.toString(), fields));
    return { entries, nextBefore: raw.length > count ? entries[entries.length - 1]!.id : null };
  }

  private async store(e: AuditEntry, reason: string | null): Promise<string | null> {
    if (!this.options.store) return null;
    const fields: (string | Buffer)[] = [
      'v', '1',
      'at', String(e.at),
      'action', e.action,
      'actor', e.actor,
      'ip', e.ip,
      'result', e.result,
      'target', e.target ?? '',
      // Text forms are for people reading the stream with redis-cli; the *_b64 forms are what lockscope reads back.
      'key', e.key?.text ?? '',
      'key_b64', e.key?.base64 ?? '',
      'owner', e.ownerSeen?.text ?? '',
      'owner_b64', e.ownerSeen?.base64 ?? '',
      'current_b64', e.currentOwner?.base64 ?? '',
      'code', e.error?.code ?? '',
      'message', e.error?.message ?? '',
      'reason', reason ?? '',
      'ttl_ms', e.ttlMs === null ? '' : String(e.ttlMs),
      'woke', e.woke ?? '',
      'bulk', e.bulkId ?? '',
      'detail', e.detail ?? '',
    ];
    try {
      return await this.redis.xadd(this.stream, 'MAXLEN', '~', this.maxEntries, '*', ...fields);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'could not append to the audit stream; the entry is in this log only');
      return null;
    }
  }
}

export function isStreamId(id: string): boolean {
  return STREAM_ID.test(id);
}

function decode(id: string, flat: Buffer[]): AuditEntry {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!.toString(), flat[i + 1]!);
  const text = (name: string) => f.get(name)?.toString('utf8') ?? '';
  const orNull = (name: string) => text(name) || null;
  const bytes = (name: string): BytesView | null => {
    const b64 = text(name);
    return b64 ? bytesView(Buffer.from(b64, 'base64')) : null;
  };
  const code = text('code');
  const ttl = Number.parseInt(text('ttl_ms'), 10);
  return {
    id,
    at: Number(text('at')) || Number.parseInt(id, 10),
    action: text('action') as AuditAction,
    actor: text('actor'),
    ip: text('ip'),
    target: orNull('target'),
    key: bytes('key_b64'),
    ownerSeen: bytes('owner_b64'),
    result: text('result') as AuditResult,
    currentOwner: bytes('current_b64'),
    error: code ? { code, message: text('message') } : null,
    reason: text('reason') ? visibleText(text('reason')) : null,
    ttlMs: Number.isNaN(ttl) ? null : ttl,
    woke: orNull('woke') as WakeMethod | null,
    bulkId: orNull('bulk'),
    detail: text('detail') ? visibleText(text('detail')) : null,
  };
}
