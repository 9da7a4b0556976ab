// Identifiers: branch (RFC 3261 §8.1.1.7), tags (§19.3), Call-ID (§8.1.1.4). Random, unguessable.
import { randomBytes } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

/** RFC 3261 §8.1.1.7: the branch MUST begin with the magic cookie "z9hG4bK". */
export function newBranch(): string {
  return 'z9hG4bK' + randomHex(10);
}

/** RFC 3261 §19.3: at least 32 bits of randomness. */
export function newTag(): string {
  return randomHex(8);
}

/** RFC 3261 §8.1.1.4: globally unique; `random@host` when a host is given. */
export function newCallId(host?: string): string {
  const id = randomHex(16);
  return host ? `${id}@${host}` : id;
}
