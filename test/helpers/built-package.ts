// The tvphone that operators install: the files `npm pack` ships (package.json "files"), with dist/ compiled by
// tsconfig.build.json, assembled once per test process in a temp dir (no build in the checkout, no registry) and
// run from there, so the CLI tests run what users run. TVPHONE_TEST_BIN=checkout runs bin/tvphone of the checkout
// instead (src/ by type stripping: quicker while editing; CI never sets it).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BuiltPackage {
  /** the installed package's directory */
  readonly dir: string;
  /** its bin/tvphone */
  readonly bin: string;
  /** the paths npm pack ships, dist/ aside (dist/ is compiled here) */
  readonly packed: readonly string[];
}

let built: BuiltPackage | undefined;

/** Builds the package on first use (tsc: seconds when idle, a minute on a busy machine); removed at exit. */
export function builtPackage(): BuiltPackage {
  if (built) return built;
  const tmp = mkdtempSync(join(tmpdir(), 'tvphone-pkg-'));
  process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const dir = join(tmp, 'tvphone');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const packed = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path).filter((p) => !p.startsWith('dist/'));
  for (const p of packed) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    cpSync(join(ROOT, p), join(dir, p));
  }
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')],
    { cwd: ROOT, stdio: 'inherit', timeout: 170_000 });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // what npm install puts there, dev tools aside
  built = { dir, bin: join(dir, 'bin/tvphone'), packed };
  return built;
}

/** The tvphone command the CLI tests run: the built package's (or the checkout's, with TVPHONE_TEST_BIN=checkout). */
export function tvphoneBin(): string {
  if (process.env['TVPHONE_TEST_BIN'] === 'checkout') return join(ROOT, 'bin/tvphone');
  return builtPackage().bin;
}
