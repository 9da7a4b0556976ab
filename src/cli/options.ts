// Options shared by several commands.
import { Option } from 'commander';

/** `--db URL` as every command takes it. */
export function dbOption(): Option {
  return new Option('--db <url>', 'database: sqlite:PATH, postgres://…, mssql://… (default: TVPHONE_DB, else sqlite:./data/tvphone.db)');
}
