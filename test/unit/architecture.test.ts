// DESIGN.md's layers, checked on the source: no import cycles, each layer imports only from layers below, and the
// rules on who may touch drivers, commander and process.env.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../src', import.meta.url));

/** Rank of each top-level folder (or root file); an import must go to a strictly lower rank, except within `base`. */
const RANK: Record<string, number> = {
  errors: 0, replies: 0, clock: 0, config: 0, log: 0,
  // flow.ts: RFC 5626's flow, the one shape of "where a request came from" that store/ and transport/ share
  flow: 0,
  // formats/: wire formats the server's capabilities and the terminal share (PIDF, the missed-call notice)
  sip: 1, media: 1, store: 1, formats: 1,
  transport: 2, transaction: 3, dialog: 4,
  registrar: 5, proxy: 5, offline: 5, presence: 5, calls: 5, trunks: 5, 'media-server': 5, push: 5,
  // admin-http.ts is a composition-root piece that server.ts imports, so it sits just below server.ts
  routing: 6, 'admin-http': 6.5, server: 7, terminal: 7, cli: 8,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const files = sources(ROOT);
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const imports = new Map(files.map((f) => [f, [...text.get(f)!.matchAll(/^import\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1])]));
const local = (f: string) => imports.get(f)!.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(f), s));
const layerOf = (f: string) => {
  const r = relative(ROOT, f);
  return r.includes('/') ? r.split('/')[0] : r.replace(/\.ts$/, '');
};

describe('architecture (DESIGN.md layers)', () => {
  it('has no import cycles, type-only imports included', () => {
    const state = new Map<string, number>();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 1);
      stack.push(f);
      for (const d of local(f)) {
        if (state.get(d) === 1) cycles.push(stack.slice(stack.indexOf(d)).concat(d).map((x) => relative(ROOT, x)).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });

  it('imports only from lower layers; capabilities never import each other', () => {
    const bad: string[] = [];
    for (const f of files) {
      const a = layerOf(f);
      assert.ok(a in RANK, `unknown layer ${a} (${relative(ROOT, f)}): add it to DESIGN.md and this test`);
      for (const d of local(f)) {
        const b = layerOf(d);
        if (a === b) continue;
        const ok = RANK[b] < RANK[a] || (RANK[a] === 0 && RANK[b] === 0);
        if (!ok) bad.push(`${relative(ROOT, f)} -> ${relative(ROOT, d)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('lets only store/<backend>/ import a database driver, only cli/ import commander, only config/ read process.env', () => {
    const bad: string[] = [];
    for (const f of files) {
      const r = relative(ROOT, f);
      const specs = imports.get(f)!;
      if (specs.some((s) => s === 'pg' || s === 'mssql' || s === 'node:sqlite') && !/^store\/[^/]+\//.test(r)) bad.push(`${r} imports a driver`);
      if (specs.includes('commander') && !r.startsWith('cli/')) bad.push(`${r} imports commander`);
      if (/process\.env/.test(text.get(f)!) && !r.startsWith('config/')) bad.push(`${r} reads process.env`);
    }
    assert.deepEqual(bad, []);
  });

  it('gives log lines their mod through child loggers only, so no line carries the key twice', () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const line of text.get(f)!.split('\n')) {
        if (/\.(trace|debug|info|warn|error|fatal)\(\{[^}]*\bmod:/.test(line)) bad.push(`${relative(ROOT, f)}: ${line.trim()}`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
