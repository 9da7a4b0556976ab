// The process's open-file limit against what the profile lets peers hold open: every TCP/TLS/WS connection is a
// file descriptor, and a server that runs out of them stops accepting TVs (issue 16, connection exhaustion).
import { readFileSync } from 'node:fs';

/** the soft "Max open files" of /proc/self/limits (Linux); null when it cannot be read or is unlimited */
export function openFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** descriptors kept apart from peers' connections: listeners, the store, logs, outbound flows (trunks), RTP of voicemail */
export const FD_RESERVE = 256;

/** A warning when maxConnections (and the reserve) does not fit in the limit; null when it fits or the limit is unknown. */
export function fdLimitWarning(maxConnections: number, limit: number | null): string | null {
  if (limit === null || maxConnections + FD_RESERVE <= limit) return null;
  return `transport.maxConnections is ${maxConnections} but this process may open only ${limit} files: serving at most ` +
    `${Math.max(1, limit - FD_RESERVE)} connections; raise the limit (systemd LimitNOFILE=, ulimit -n) to at least ` +
    `${maxConnections + FD_RESERVE}, or lower maxConnections to ${Math.max(1, limit - FD_RESERVE)}`;
}

/**
 * The connections the transport may hold: maxConnections, cut to what the open-file limit leaves after the reserve
 * (a server out of descriptors stops accepting TVs and cannot open its database: the cap must hold before that).
 */
export function effectiveMaxConnections(maxConnections: number, limit: number | null): number {
  return limit === null ? maxConnections : Math.max(1, Math.min(maxConnections, limit - FD_RESERVE));
}
