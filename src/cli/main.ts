// Composition root of the command line: only this folder imports commander and prints to the console.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('tvphone')
    .description('SIP registrar and stateful proxy that keeps calls and messages for offline network TVs, and the TV agent')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  return program;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`tvphone: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
