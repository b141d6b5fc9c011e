import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { RedisConnectionState } from '../../../shared/status';

/** After this long without a connection, "reconnecting" becomes "down". */
const DOWN_AFTER_MS = 3000;

/** Follows an ioredis connection and reduces its many events to the four states the UI shows. */
export class ConnectionState extends EventEmitter<{ change: [] }> {
  state: RedisConnectionState = 'connecting';
  lastError: string | null = null;
  private downTimer: NodeJS.Timeout | null = null;

  private readonly unbind: () => void;

  constructor(redis: Redis) {
    super();
    if (redis.status === 'ready') this.state = 'ready';
    const onReady = () => {
      this.clearDownTimer();
      this.lastError = null;
      this.set('ready');
    };
    const onError = (err: Error) => {
      this.lastError = readableError(err.message);
      // Never reached yet, and refused: that is down, not still connecting.
      if (this.state === 'connecting') this.set('down');
      this.emit('change');
    };
    const onReconnecting = () => {
      if (this.state === 'ready') this.set('reconnecting');
      this.downTimer ??= setTimeout(() => this.set('down'), DOWN_AFTER_MS).unref();
    };
    const onEnd = () => this.set('down');
    redis.on('ready', onReady).on('error', onError).on('reconnecting', onReconnecting).on('end', onEnd);
    this.unbind = () => void redis.off('ready', onReady).off('error', onError).off('reconnecting', onReconnecting).off('end', onEnd);
  }

  /** Stops following the connection (which may outlive this object). */
  dispose(): void {
    this.clearDownTimer();
    this.unbind();
  }

  private clearDownTimer(): void {
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = null;
  }

  private set(state: RedisConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.emit('change');
  }
}

/**
 * OpenSSL's errors arrive as `80BC…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate
 * required:../deps/openssl/…/rec_layer_s3.c:1601:SSL alert number 116` (with a newline): keep the reason.
 */
export function readableError(message: string): string {
  const ssl = /^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):[\s\S]*?(SSL alert number \d+)?\s*$/.exec(message);
  return ssl ? `TLS: ${ssl[1]}${ssl[2] ? ` (${ssl[2]})` : ''}` : message;
}
