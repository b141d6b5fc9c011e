import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 hex digest of a token (the form ADMIN_TOKEN_SHA256 takes). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Compares a presented token with the configured digest in constant time: both sides are 32-byte SHA-256
 * digests, so neither the token's length nor the position of the first wrong character shows in the timing.
 */
export function tokenMatches(presented: string, expectedDigestHex: string): boolean {
  const given = createHash('sha256').update(presented, 'utf8').digest();
  const expected = Buffer.from(expectedDigestHex, 'hex');
  return expected.length === given.length && timingSafeEqual(given, expected);
}
