// Identifiers: branch (RFC 3261 §8.1.1.7), tags (§19.3), Call-ID (§8.1.1.4). Random, unguessable.
import { hash, randomBytes } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/** the next `bytes` of the pool (a view: copy it or use it before the next call), refilled when spent */
function take(bytes: number): Buffer {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += bytes;
  return pool.subarray(offset - bytes, offset);
}

function randomHex(bytes: number): string {
  return take(bytes).toString('hex');
}

/** `bytes` random bytes into `target` at `at`: one CSPRNG call per 4 kB instead of one per use (a digest nonce) */
export function randomInto(target: Uint8Array, at: number, bytes: number): void {
  target.set(take(bytes), at);
}

/** RFC 3261 §8.1.1.7: the branch MUST begin with the magic cookie "z9hG4bK". */
export function newBranch(): string {
  return 'z9hG4bK' + randomHex(10);
}

/** RFC 3261 §19.3: at least 32 bits of randomness. */
export function newTag(): string {
  return randomHex(8);
}

/** this process's key of statelessTag: its tags cannot be computed from outside */
const TAG_KEY = randomHex(16);

/**
 * RFC 3261 §8.2.7: a stateless UAS generates "the same tag for the same request consistently": a keyed hash of
 * what a retransmission repeats byte for byte (`identity`); 16 hex digits, as newTag's.
 */
export function statelessTag(identity: string): string {
  return hash('sha256', TAG_KEY + identity).slice(0, 16);
}

/** RFC 3261 §8.1.1.4: globally unique; `random@host` when a host is given. */
export function newCallId(host?: string): string {
  const id = randomHex(16);
  return host ? `${id}@${host}` : id;
}
