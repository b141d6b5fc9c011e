/**
 * What kind of "no" a Redis error is. ACL refusals are `NOPERM …` (a command, a key or a channel); inside a script
 * Redis 7.0 says `The user executing the script can't run this command`; a command renamed away (managed Redis
 * often does that to CONFIG) or absent is `unknown command`. Anything else is not a refusal.
 */
export type Refusal = 'command' | 'key' | 'channel';

export function refusalOf(err: unknown): Refusal | null {
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  if (/NOPERM/.test(message)) {
    if (/\bkeys?\b/i.test(message)) return 'key';
    if (/\bchannels?\b/i.test(message)) return 'channel';
    return 'command';
  }
  if (/can't run this command/i.test(message) || /unknown command/i.test(message)) return 'command';
  return null;
}

/** The command a refusal names (`'info'`, `'config|get'`), lower-cased, when it names one. */
export function refusedCommand(err: unknown): string | null {
  const message = err instanceof Error ? err.message : String(err);
  return /(?:run the|command) '([^']+)'/i.exec(message)?.[1]?.toLowerCase() ?? null;
}
