// Composition root of the command line: only this folder imports commander and prints to the console.
// The command names, options and --json shapes are a contract operators script against: keep them stable.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { TvphoneError } from '../errors.ts';
import { registerAdminCommands } from './admin.ts';
import { registerCompletionCommand } from './completion.ts';
import { registerGreetingCommand } from './greeting.ts';
import { registerServeCommand } from './serve.ts';
import { registerTrunksCommand } from './trunks.ts';
import { registerTvCommand } from './tv.ts';
import { registerVoicemailCommand } from './voicemail.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('tvphone')
    .description('SIP registrar and stateful proxy that keeps calls and messages for offline network TVs, and the TV agent')
    .version(pkg.version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerServeCommand(program);
  registerAdminCommands(program);
  registerGreetingCommand(program.commands.find((c) => c.name() === 'users')!);
  registerTrunksCommand(program);
  registerVoicemailCommand(program);
  registerTvCommand(program);
  registerCompletionCommand(program);
  const each = (c: Command) => {
    // a usage error: the command's usage line, where to find its options, then the error itself as the last line
    c.exitOverride().configureOutput({
      outputError: (str, write) => write(`Usage: ${commandPath(c)} ${c.usage()}\n(${commandPath(c)} --help lists the options)\n`
        + `tvphone: ${str.replace(/^error: /, '')}`),
    });
    c.commands.forEach(each);
  };
  each(program);
  return program;
}

function commandPath(c: Command): string {
  const names: string[] = [];
  for (let p: Command | null = c; p; p = p.parent) names.unshift(p.name());
  return names.join(' ');
}

/** `tvphone users list | head -1`: a reader that stops early is no error (exit 0, no stack trace). */
function quietOnEpipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  quietOnEpipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof TvphoneError) {
      console.error(`tvphone: ${err.message}`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'ERR_UNKNOWN_BUILTIN_MODULE' && String((err as Error).message).includes('node:sqlite')) {
      // node:sqlite is built in from Node 22.13 (and 23.4) without a flag; the compiled CLI itself runs on older Nodes
      console.error(`tvphone: the SQLite store needs Node.js >= 22.13 (node:sqlite), this is ${process.version}: use a newer Node or a postgres:// or mssql:// --db`);
      return 1;
    }
    console.error('tvphone: internal error:', err);
    return 70;
  }
}
