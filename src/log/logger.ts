// One root pino logger; each layer takes a child ({ mod: 'proxy' }). Secrets are redacted.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths that must never reach a log (Authorization values, passwords). */
const REDACT = [
  'password', '*.password', 'authorization', '*.authorization', 'proxyAuthorization', '*.proxyAuthorization'
];

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino({ level, base: { name: 'tvphone' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
