// The only place that reads process.env.

/** Database URL from TVPHONE_DB, if set. */
export function envDatabaseUrl(): string | undefined {
  const v = process.env.TVPHONE_DB;
  return v && v.length ? v : undefined;
}

/** Log level from TVPHONE_LOG (trace, debug, info, warn, error, silent); default info. */
export function envLogLevel(): string {
  return process.env.TVPHONE_LOG || 'info';
}

export const DEFAULT_DB_URL = 'sqlite:./data/tvphone.db';

/** --db flag, else TVPHONE_DB, else the profile's store, else the embedded default. */
export function resolveDatabaseUrl(flag: string | undefined, profileUrl?: string): string {
  return flag ?? envDatabaseUrl() ?? profileUrl ?? DEFAULT_DB_URL;
}

/** A trunk's secret from the environment variable its passwordEnv names; undefined when unset or empty. */
export function envSecret(name: string): string | undefined {
  const v = process.env[name];
  return v && v.length ? v : undefined;
}

/** Where ffplay can show a window (--show-video): an X11 or Wayland display, or an SDL video driver named by hand (kmsdrm, dummy). */
export function envHasDisplay(): boolean {
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY || process.env.SDL_VIDEODRIVER);
}
