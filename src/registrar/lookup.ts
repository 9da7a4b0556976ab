// Lookup of an AoR's bindings in the order the proxy should try them (RFC 3261 §16.6, q-values §20.10).
import type { Binding } from '../store/store.ts';

/** A Contact without a q-value ranks as q=1.0 (the highest), RFC 3261 §20.10 leaves the default to us. */
export function qOf(b: Binding): number {
  return b.q ?? 1;
}

/** Highest q first; among equal q the most recently refreshed binding first. Returns a new array. */
export function orderBindings(bindings: readonly Binding[]): Binding[] {
  return [...bindings].sort((a, b) => qOf(b) - qOf(a) || b.updatedAt - a.updatedAt);
}
