// The installed package: what `npm pack` ships (package.json "files"), compiled by tsconfig.build.json, run as
// an operator runs it — from another directory, with no src/ and so no TypeScript for Node to strip.
// The package is assembled once per test process by test/helpers/built-package.ts.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { builtPackage } from '../../helpers/built-package.ts';

/** a Node without type stripping, when this machine has one (Debian's Node 20): the compiled CLI must run there too */
const OLD_NODE = '/usr/bin/node';

interface Run { code: number; stdout: string; stderr: string }

function run(node: string, bin: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(node, [bin, ...args], { cwd, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the packed tvphone package (compiled JavaScript)', function () {
  this.timeout(30000);
  let tmp: string;
  let pkg: string;
  let bin: string;
  let work: string;
  let packed: string[];

  before(function () {
    this.timeout(180_000); // tsc builds the package: seconds on an idle machine, much more on a busy one
    const built = builtPackage();
    tmp = mkdtempSync(join(tmpdir(), 'tvphone-pkg-run-'));
    pkg = built.dir;
    work = join(tmp, 'elsewhere');
    mkdirSync(work);
    packed = [...built.packed];
    bin = built.bin;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the bin, the migrations and the default profile, and no TypeScript sources', () => {
    for (const f of ['bin/tvphone', 'package.json', 'sip-profiles/default.json', 'sql/sqlite/001_init.sql', 'sql/postgres/001_init.sql',
      'sql/mssql/001_init.sql', 'contrib/tvphone.service', 'contrib/60-tvphone.conf']) assert.ok(packed.includes(f), `${f} is packed`);
    assert.deepEqual(packed.filter((p) => p.endsWith('.ts') || p.startsWith('src/') || p.startsWith('test/')), []);
    assert.ok(existsSync(join(pkg, 'dist/cli/main.js')));
    // the server's SQLite worker thread, loaded by URL (not an import the compiler rewrites): its .js must be there
    assert.ok(existsSync(join(pkg, 'dist/store/sqlite/sqlite-worker.js')));
  });

  it('prints its version and help, from another directory', async () => {
    const v = await run(process.execPath, bin, ['--version'], work);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await run(process.execPath, bin, ['--help'], work);
    for (const cmd of ['serve', 'users', 'presence', 'calls', 'messages', 'db', 'tv', 'completion']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
  });

  it('runs as an executable: its #! line starts node (from PATH) with the V8 flag it carries', async () => {
    assert.match(readFileSync(bin, 'utf8').split('\n', 1)[0], /^#!\/usr\/bin\/env -S node --max-semi-space-size=\d+$/);
    const r = await new Promise<Run>((resolve) => {
      execFile(bin, ['--version'], { cwd: work, timeout: 15000, env: { ...process.env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('adds and lists users in a fresh SQLite file (finds sql/ from any directory)', async () => {
    const db = `sqlite:${join(tmp, 'u.db')}`;
    const add = await run(process.execPath, bin, ['users', 'add', '1001', '--password', 'pw', '--weak-ok', '--db', db], work);
    assert.equal(add.code, 0, add.stderr);
    const list = await run(process.execPath, bin, ['users', 'list', '--json', '--db', db], work);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ user: string }>).map((u) => u.user), ['1001']);
  });

  // serving needs the SQLite worker thread from dist/ (the server's key is read through it before "tvphone serving")
  it('serves with the default profile (found next to the package) and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--listen', 'udp:127.0.0.1:0', '--listen', 'tcp:127.0.0.1:0',
      '--db', `sqlite:${join(tmp, 's.db')}`], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TVPHONE_LOG: 'info' } });
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    try {
      for await (const line of createInterface({ input: child.stdout })) {
        if (line.includes('"tvphone serving"')) {
          assert.match(line, /"auth":"digest"/); // the default profile's, not a built-in fallback
          break;
        }
      }
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('prints bash and zsh completion scripts that know the subcommands, and bash completes with them', async () => {
    const b = await run(process.execPath, bin, ['completion', 'bash'], work);
    assert.equal(b.code, 0, b.stderr);
    for (const w of ['complete -F _tvphone tvphone', 'serve', 'users', 'import', '--password-stdin', 'tcp udp tls']) assert.ok(b.stdout.includes(w), w);
    const z = await run(process.execPath, bin, ['completion', 'zsh'], work);
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stdout, /^#compdef tvphone\n/);
    assert.ok(z.stdout.includes("'migrate:apply the schema migrations this version knows, creating a missing SQLite database'"));
    assert.equal((await run(process.execPath, bin, ['completion', 'fish'], work)).code, 1);

    const script = `${b.stdout}\nCOMP_WORDS=(tvphone users a); COMP_CWORD=2; _tvphone; echo "\${COMPREPLY[*]}"
COMP_WORDS=(tvphone tv --transport ''); COMP_CWORD=3; _tvphone; echo "\${COMPREPLY[*]}"\n`;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8', timeout: 5000 });
    assert.equal(out, 'add\ntcp udp tls\n');
  });

  it(`runs under a Node without type stripping (${OLD_NODE}), SQLite aside before Node 22.13`, async function () {
    if (!existsSync(OLD_NODE)) return this.skip();
    const [major, minor] = execFileSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
    const v = await run(OLD_NODE, bin, ['--version'], work);
    assert.equal(v.code, 0, v.stderr);
    assert.equal((await run(OLD_NODE, bin, ['completion', 'bash'], work)).code, 0);
    const list = await run(OLD_NODE, bin, ['users', 'list', '--db', `sqlite:${join(tmp, 'old.db')}`], work);
    if (major > 22 || (major === 22 && minor >= 13)) assert.equal(list.code, 0, list.stderr);
    else {
      assert.equal(list.code, 1);
      assert.match(list.stderr, /SQLite store needs Node\.js >= 22\.13/);
    }
  });
});
