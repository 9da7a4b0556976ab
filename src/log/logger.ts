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

/**
 * For a terminal: the same log lines as text (local ISO time, level names, colours), written synchronously by
 * pino-pretty in this process. Services (stdout not a terminal) keep JSON lines.
 */
export async function createTerminalLogger(level = 'info'): Promise<Logger> {
  const { default: pretty } = await import('pino-pretty');
  return createLogger(level, pretty({ colorize: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l o', ignore: 'pid,hostname,name', sync: true }));
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
