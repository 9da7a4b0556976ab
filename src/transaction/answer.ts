// What the transaction layer keeps of a completed non-INVITE server transaction over UDP for Timer J (RFC 3261
// §17.2.2): where its final response went and the response's bytes, packed into one string.

import type { Target } from '../transport/transport.ts';

/**
 * A completed transaction's answer as one flat one-byte string: its UDP target on a first line, then the response's
 * bytes (latin1, a byte a character). Issue 17: two strings a transaction (this and its key) instead of the
 * transaction object with its source and target: 898 → 610 B each (server-transaction.ts), and nothing the garbage
 * collector has to trace through for Timer J's 32 s.
 */
export function packAnswer(target: Target, bytes: Uint8Array): string {
  const head = `${target.transport}\t${target.listenerId ?? ''}\t${target.address}\t${target.port}\n`;
  const buf = Buffer.allocUnsafe(head.length + bytes.byteLength);
  buf.write(head, 0, 'latin1');
  buf.set(bytes, head.length);
  return buf.toString('latin1');
}

/** packAnswer's target, and where the response's bytes begin in the string. */
export function unpackAnswer(answer: string): { target: Target; at: number } {
  const end = answerBodyAt(answer) - 1;
  const [transport, listener, address, port] = answer.slice(0, end).split('\t') as [Target['transport'], string, string, string];
  const target: Target = { transport, address, port: Number(port), connectionId: null };
  if (listener !== '') target.listenerId = Number(listener);
  return { target, at: end + 1 };
}

/** Where the response's bytes begin in a packed answer (after its target's line). */
export function answerBodyAt(answer: string): number {
  return answer.indexOf('\n') + 1;
}
