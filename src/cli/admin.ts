// Admin commands: users, presence, calls, messages, db migrate. Each opens the store by --db URL.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TvphoneError } from '../errors.ts';
import { resolveDatabaseUrl } from '../config/env.ts';
import { DEFAULT_PROFILE } from '../config/profile.ts';
import { openStore, migrate } from '../store/open.ts';
import type { Store, Credentials, CallRecord, StoredMessage } from '../store/store.ts';
import { ha1 } from '../sip/digest.ts';
import { dbOption } from './options.ts';

interface DbOpts {
  db?: string;
  realm?: string;
  json?: boolean;
}

const USER_RE = /^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$/; // RFC 3261 §25.1 user (unreserved and user-unreserved), no escapes

async function withStore<T>(opts: DbOpts, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(resolveDatabaseUrl(opts.db));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function checkUser(user: string): string {
  if (!USER_RE.test(user)) throw new TvphoneError('ERR_USER', `user "${user}": use 1 to 64 letters, digits or - _ . ! ~ * ' ( ) & = + $ , ; ? /`);
  return user;
}

export function credentialsFor(userId: string, realm: string, password: string): Credentials {
  return { userId, realm, ha1Md5: ha1('MD5', userId, realm, password), ha1Sha256: ha1('SHA-256', userId, realm, password) };
}

async function readPassword(opts: { password?: string; passwordStdin?: boolean }, prompt: string): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin) throw new TvphoneError('ERR_USAGE', 'give --password or --password-stdin, not both');
  if (opts.password !== undefined) return opts.password;
  if (opts.passwordStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (!pw) throw new TvphoneError('ERR_USAGE', 'no password on standard input');
    return pw;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const pw = await new Promise<string>((resolve) => rl.question(prompt, resolve));
    if (!pw) throw new TvphoneError('ERR_USAGE', 'empty password');
    return pw;
  } finally {
    rl.close();
  }
}

function iso(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** Parses `user,password` lines (a header line `user,password` is skipped); names the line of a bad row. */
export function parseUsersCsv(text: string, file: string): Array<{ user: string; password: string }> {
  const out: Array<{ user: string; password: string }> = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const comma = line.indexOf(',');
    if (comma < 0) throw new TvphoneError('ERR_CSV', `${file}:${i + 1}: expected user,password`);
    const user = line.slice(0, comma).trim();
    const password = line.slice(comma + 1);
    if (i === 0 && user.toLowerCase() === 'user') return;
    if (!USER_RE.test(user)) throw new TvphoneError('ERR_CSV', `${file}:${i + 1}: bad user name "${user}"`);
    if (!password) throw new TvphoneError('ERR_CSV', `${file}:${i + 1}: empty password for ${user}`);
    out.push({ user, password });
  });
  return out;
}

export function registerAdminCommands(program: Command): void {
  const realmHelp = `digest realm the HA1 is computed for (default ${DEFAULT_PROFILE.auth.realm}, as in the default profile)`;
  const users = program.command('users').description('manage users and their digest credentials (stored as HA1 hashes)');

  users.command('add <user>').description('add a user')
    .addOption(dbOption()).option('--password <pw>', 'password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input').option('--realm <realm>', realmHelp)
    .action(async (user: string, opts: DbOpts & { password?: string; passwordStdin?: boolean }) => {
      checkUser(user);
      const pw = await readPassword(opts, `password for ${user}: `);
      await withStore(opts, async (store) => {
        if (await store.userExists(user)) throw new TvphoneError('ERR_USER_EXISTS', `user ${user} exists already (use users passwd)`);
        await store.addUser(credentialsFor(user, opts.realm ?? DEFAULT_PROFILE.auth.realm, pw), Date.now());
      });
      console.log(`added ${user}`);
    });

  users.command('passwd <user>').description("change a user's password")
    .addOption(dbOption()).option('--password <pw>', 'new password').option('--password-stdin', 'read it from standard input')
    .option('--realm <realm>', realmHelp)
    .action(async (user: string, opts: DbOpts & { password?: string; passwordStdin?: boolean }) => {
      const pw = await readPassword(opts, `new password for ${user}: `);
      const ok = await withStore(opts, (store) => store.setCredentials(credentialsFor(user, opts.realm ?? DEFAULT_PROFILE.auth.realm, pw)));
      if (!ok) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
      console.log(`password of ${user} changed`);
    });

  users.command('remove <user>').description('remove a user').addOption(dbOption())
    .action(async (user: string, opts: DbOpts) => {
      const ok = await withStore(opts, (store) => store.removeUser(user));
      if (!ok) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
      console.log(`removed ${user}`);
    });

  users.command('list').description('list users').addOption(dbOption()).option('--json', 'one JSON array')
    .action(async (opts: DbOpts) => {
      const list = await withStore(opts, (store) => store.listUsers());
      if (opts.json) return void console.log(JSON.stringify(list.map((u) => ({ user: u.userId, realm: u.realm, created: iso(u.createdAt) }))));
      process.stdout.write(table([['USER', 'REALM', 'CREATED'], ...list.map((u) => [u.userId, u.realm, iso(u.createdAt)])]));
    });

  users.command('import <file>').description('add or replace users from a CSV file of user,password lines')
    .addOption(dbOption()).option('--realm <realm>', realmHelp)
    .action(async (file: string, opts: DbOpts) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new TvphoneError('ERR_CSV', `${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
      }
      const rows = parseUsersCsv(text, file);
      const realm = opts.realm ?? DEFAULT_PROFILE.auth.realm;
      const tty = process.stderr.isTTY;
      const batch = 1000;
      let done = 0;
      await withStore(opts, async (store) => {
        for (let i = 0; i < rows.length; i += batch) {
          const creds = rows.slice(i, i + batch).map((r) => credentialsFor(r.user, realm, r.password));
          done += await store.importUsers(creds, Date.now());
          if (tty) {
            const pct = Math.round((100 * (i + creds.length)) / rows.length);
            const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
            process.stderr.write(`\r[${bar}] ${pct}% ${i + creds.length}/${rows.length}`);
          }
        }
      });
      if (tty) process.stderr.write('\n');
      console.log(`imported ${done} users`);
    });

  program.command('presence [user]').description('online state of users (user_property): online/offline, address, since when')
    .addOption(dbOption()).option('--json', 'one JSON array')
    .action(async (user: string | undefined, opts: DbOpts) => {
      const rows = await withStore(opts, async (store) => {
        if (user === undefined) return store.listPresence();
        const p = await store.getPresence(user);
        if (!p && !(await store.userExists(user))) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
        return p ? [p] : [];
      });
      const out = rows.map((p) => ({ user: p.userId, state: p.netstate === 1 ? 'online' : 'offline', ip: p.ip, since: iso(p.since) }));
      if (opts.json) return void console.log(JSON.stringify(out));
      process.stdout.write(table([['USER', 'STATE', 'ADDRESS', 'SINCE'], ...out.map((p) => [p.user, p.state, p.ip ?? '', p.since])]));
    });

  program.command('calls').description('call attempts (user_call): caller, callee, time, outcome, duration')
    .addOption(dbOption()).option('--user <user>', 'calls from or to this user').option('--missed', 'only calls the user missed (with --user)')
    .option('--limit <n>', 'at most this many, newest first', '1000').option('--json', 'one JSON array')
    .action(async (opts: DbOpts & { user?: string; missed?: boolean; limit: string }) => {
      if (opts.missed && !opts.user) throw new TvphoneError('ERR_USAGE', '--missed needs --user');
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new TvphoneError('ERR_USAGE', '--limit takes a positive whole number');
      const calls = await withStore(opts, (store) =>
        store.listCalls(opts.missed ? { missedBy: opts.user, limit } : { userId: opts.user, limit }));
      const out = calls.map(callJson);
      if (opts.json) return void console.log(JSON.stringify(out));
      process.stdout.write(table([['DATE', 'CALLER', 'CALLEE', 'OUTCOME', 'STATUS', 'DURATION', 'NOTIFIED'],
        ...out.map((c) => [c.date, c.caller, c.callee, c.outcome, c.status === null ? '' : String(c.status),
          c.durationMs === null ? '' : `${(c.durationMs / 1000).toFixed(1)}s`, c.notified ?? ''])]));
    });

  program.command('messages').description('stored messages: pending for offline users and delivered history')
    .addOption(dbOption()).option('--user <user>', 'messages to this user').option('--pending', 'only those not yet delivered')
    .option('--limit <n>', 'at most this many', '1000').option('--json', 'one JSON array (bodies as base64)')
    .action(async (opts: DbOpts & { user?: string; pending?: boolean; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new TvphoneError('ERR_USAGE', '--limit takes a positive whole number');
      const msgs = await withStore(opts, (store) => store.listMessages({ toUser: opts.user, state: opts.pending ? 'pending' : undefined, limit }));
      if (opts.json) return void console.log(JSON.stringify(msgs.map((m) => ({ ...messageJson(m), body: Buffer.from(m.body).toString('base64') }))));
      process.stdout.write(table([['ID', 'TO', 'FROM', 'TYPE', 'BYTES', 'RECEIVED', 'STATE', 'DELIVERED'],
        ...msgs.map((m) => { const j = messageJson(m); return [String(j.id), j.to, j.from, j.contentType, String(j.bytes), j.received, j.state, j.delivered ?? '']; })]));
    });

  const db = program.command('db').description('database schema');
  db.command('migrate').description('apply the schema migrations this version knows').addOption(dbOption())
    .action(async (opts: DbOpts) => {
      const version = await migrate(resolveDatabaseUrl(opts.db));
      console.log(`schema version ${version}`);
    });
}

function callJson(c: CallRecord) {
  return {
    id: c.id, date: iso(c.callDate), caller: c.userId, callee: c.otherUserId, callId: c.callId, outcome: c.outcome,
    status: c.status, answered: c.answeredAt === null ? null : iso(c.answeredAt), ended: c.endedAt === null ? null : iso(c.endedAt),
    durationMs: c.durationMs, notified: c.notifiedAt === null ? null : iso(c.notifiedAt),
  };
}

function messageJson(m: StoredMessage) {
  return {
    id: m.id, to: m.toUser, from: m.fromUri, contentType: m.contentType, bytes: m.body.byteLength, received: iso(m.receivedAt),
    expires: iso(m.expiresAt), state: m.state, attempts: m.attempts, delivered: m.deliveredAt === null ? null : iso(m.deliveredAt),
  };
}
