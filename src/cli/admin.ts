// Admin commands: users, presence, calls, messages, registrations, db migrate. Each opens the store named by
// --db, TVPHONE_DB or the --profile's store.url; only those that make users (and db migrate) create a SQLite file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { TvphoneError } from '../errors.ts';
import { DEFAULT_PROFILE } from '../config/profile.ts';
import { checkStoreUrl, openStore, migrate } from '../store/open.ts';
import type { Store, Credentials, CallRecord, StoredMessage, Binding } from '../store/store.ts';
import { ha1 } from '../sip/digest.ts';
import { adminTarget, dbOption, parseLimit, profileOption, type TargetOpts } from './options.ts';
import { checkPassword, readPassword, type PasswordOpts } from './password.ts';
import { progressBar } from './progress.ts';
import { USER_RE } from './user-name.ts';

export interface DbOpts extends TargetOpts {
  json?: boolean;
}

/** Opens the store for one command; `create` only for the commands that make users (a read never makes a database). */
export async function withStore<T>(opts: DbOpts, create: boolean, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(adminTarget(opts).url, { create });
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

export function iso(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerAdminCommands(program: Command): void {
  const realmHelp = `digest realm the HA1 is computed for (default: the profile auth.realm, ${DEFAULT_PROFILE.auth.realm} in the default profile)`;
  const users = program.command('users').description('manage users and their digest credentials (stored as HA1 hashes)');

  users.command('add <user>').description('add a user (creates the SQLite database if it is missing)')
    .addOption(dbOption()).addOption(profileOption()).option('--password <pw>', 'password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of standard input').option('--realm <realm>', realmHelp)
    .option('--weak-ok', 'take a password shorter than 8 characters or of digits only')
    .action(async (user: string, opts: DbOpts & PasswordOpts) => {
      checkUser(user);
      const { url, realm } = adminTarget(opts);
      checkStoreUrl(url); // a bad URL fails before the prompt
      const pw = await readPassword(opts, `password for ${user}: `);
      checkPassword(pw, opts, `user ${user}`);
      await withStore(opts, true, async (store) => {
        if (await store.userExists(user)) throw new TvphoneError('ERR_USER_EXISTS', `user ${user} exists already (use users passwd)`);
        await store.addUser(credentialsFor(user, realm, pw), Date.now());
      });
      console.log(`added ${user} (realm ${realm})`);
    });

  users.command('passwd <user>').description("change a user's password")
    .addOption(dbOption()).addOption(profileOption()).option('--password <pw>', 'new password')
    .option('--password-stdin', 'read it from the first line of standard input').option('--realm <realm>', realmHelp)
    .option('--weak-ok', 'take a password shorter than 8 characters or of digits only')
    .action(async (user: string, opts: DbOpts & PasswordOpts) => {
      const { url, realm } = adminTarget(opts);
      checkStoreUrl(url);
      const pw = await readPassword(opts, `new password for ${user}: `);
      checkPassword(pw, opts, `user ${user}`);
      const ok = await withStore(opts, false, (store) => store.setCredentials(credentialsFor(user, realm, pw)));
      if (!ok) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
      console.log(`password of ${user} changed (realm ${realm})`);
    });

  users.command('remove <user>').description('remove a user').addOption(dbOption()).addOption(profileOption())
    .action(async (user: string, opts: DbOpts) => {
      const ok = await withStore(opts, false, (store) => store.removeUser(user));
      if (!ok) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
      console.log(`removed ${user}`);
    });

  users.command('list').description('list users').addOption(dbOption()).addOption(profileOption()).option('--json', 'one JSON array')
    .action(async (opts: DbOpts) => {
      const list = await withStore(opts, false, (store) => store.listUsers());
      if (opts.json) return void console.log(JSON.stringify(list.map((u) => ({ user: u.userId, realm: u.realm, created: iso(u.createdAt) }))));
      process.stdout.write(table([['USER', 'REALM', 'CREATED'], ...list.map((u) => [u.userId, u.realm, iso(u.createdAt)])]));
    });

  users.command('import <file>').description('add or replace users from a CSV file of user,password rows (creates the SQLite database if it is missing)')
    .addOption(dbOption()).addOption(profileOption()).option('--realm <realm>', realmHelp)
    .option('--weak-ok', 'take passwords shorter than 8 characters or of digits only')
    .action(async (file: string, opts: DbOpts & Pick<PasswordOpts, 'weakOk'>) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new TvphoneError('ERR_CSV', `${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
      }
      // csv-parse only for this command, not for every start of the CLI (issue 18: the server's memory)
      const { parseUsersCsv } = await import('./users-csv.ts');
      const { rows, repeated } = parseUsersCsv(text, file);
      for (const r of repeated) console.error(`tvphone: ${file}: user ${r.user} is on lines ${r.lines.join(', ')}: the last one is kept`);
      // every row is checked before any is written: a refused file changes nothing
      for (const r of rows) checkPassword(r.password, opts, `${file}:${r.line}: user ${r.user}`);
      const { realm } = adminTarget(opts);
      const batch = 1000;
      let done = 0;
      const bar = progressBar(rows.length, 'users');
      try {
        await withStore(opts, true, async (store) => {
          for (let i = 0; i < rows.length; i += batch) {
            const creds = rows.slice(i, i + batch).map((r) => credentialsFor(r.user, realm, r.password));
            done += await store.importUsers(creds, Date.now());
            bar.update(done);
          }
        });
      } finally {
        bar.end();
      }
      console.log(`imported ${done} users (realm ${realm})`);
    });

  program.command('presence [user]').description('online state of users (user_property): online/offline, address, since when')
    .addOption(dbOption()).addOption(profileOption()).option('--json', 'one JSON array')
    .action(async (user: string | undefined, opts: DbOpts) => {
      const rows = await withStore(opts, false, async (store) => {
        if (user === undefined) return store.listPresence();
        const p = await store.getPresence(user);
        if (!p && !(await store.userExists(user))) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
        return p ? [p] : [];
      });
      const out = rows.map((p) => ({ user: p.userId, state: p.netstate === 1 ? 'online' : 'offline', ip: p.ip, since: iso(p.since) }));
      if (opts.json) return void console.log(JSON.stringify(out));
      process.stdout.write(table([['USER', 'STATE', 'ADDRESS', 'SINCE'], ...out.map((p) => [p.user, p.state, p.ip ?? '', p.since])]));
    });

  program.command('registrations [user]').description('bindings of the registered users (as kamctl ul show): contact, flow, user agent, expiry, instance, path')
    .addOption(dbOption()).addOption(profileOption()).option('--json', 'one JSON array, one object per binding')
    .action(async (user: string | undefined, opts: DbOpts) => {
      const now = Date.now();
      const bindings = await withStore(opts, false, async (store) => {
        if (user === undefined) return store.listBindings(now);
        const list = await store.getBindings(user, now);
        if (list.length === 0 && !(await store.userExists(user))) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
        return list;
      });
      if (opts.json) return void console.log(JSON.stringify(bindings.map((b) => bindingJson(b, now))));
      process.stdout.write(bindingsText(bindings, now));
    });

  program.command('nodes').description('the tvphone nodes on this database: heartbeat, alive or dead (node.leaseSeconds), bindings and connections each holds')
    .addOption(dbOption()).addOption(profileOption()).option('--json', 'one JSON array, one object per node')
    .action(async (opts: DbOpts) => {
      const now = Date.now();
      const leaseMs = adminTarget(opts).leaseSeconds * 1000;
      const nodes = await withStore(opts, false, (store) => store.listNodes(now));
      const out = nodes.map((n) => ({
        node: n.node, sipUri: n.sipUri, state: n.heartbeatAt > now - leaseMs ? 'alive' : 'dead', started: iso(n.startedAt), heartbeat: iso(n.heartbeatAt),
        bindings: n.bindings, connections: n.connections,
      }));
      if (opts.json) return void console.log(JSON.stringify(out));
      process.stdout.write(table([['NODE', 'SIP URI', 'STATE', 'STARTED', 'HEARTBEAT', 'BINDINGS', 'CONNECTIONS'],
        ...out.map((n) => [n.node, n.sipUri ?? '', n.state, n.started, n.heartbeat, String(n.bindings), String(n.connections)])]));
    });

  program.command('calls').description('call attempts (user_call): caller, callee, time, outcome, duration')
    .addOption(dbOption()).addOption(profileOption()).option('--user <user>', 'calls from or to this user')
    .option('--missed', 'only calls the user missed (with --user)')
    .option('--trunk <name>', 'only calls out through this trunk')
    .option('--limit <n>', 'the newest n, listed oldest first', '1000').option('--json', 'one JSON array, oldest first')
    .action(async (opts: DbOpts & { user?: string; missed?: boolean; trunk?: string; limit: string }) => {
      if (opts.missed && !opts.user) throw new TvphoneError('ERR_USAGE', '--missed needs --user');
      const limit = parseLimit(opts.limit);
      const trunk = opts.trunk === undefined ? {} : { trunk: opts.trunk };
      const calls = await withStore(opts, false, (store) =>
        store.listCalls(opts.missed ? { missedBy: opts.user, limit, ...trunk } : { userId: opts.user, limit, ...trunk }));
      const out = calls.map(callJson);
      if (opts.json) return void console.log(JSON.stringify(out));
      // the trunk columns only when a call went out through one (local-only deployments see what they always saw)
      const trunks = out.some((c) => c.trunk !== null);
      process.stdout.write(table([['DATE', 'CALLER', 'CALLEE', 'OUTCOME', 'STATUS', 'DURATION', 'NOTIFIED', ...(trunks ? ['TRUNK', 'SENT AS'] : [])],
        ...out.map((c) => [c.date, c.caller, c.callee, c.outcome, c.status === null ? '' : String(c.status),
          c.durationMs === null ? '' : `${(c.durationMs / 1000).toFixed(1)}s`, c.notified ?? '', ...(trunks ? [c.trunk ?? '', c.sentNumber ?? ''] : [])])]));
    });

  program.command('messages').description('stored messages: pending for offline users and delivered history')
    .addOption(dbOption()).addOption(profileOption()).option('--user <user>', 'messages to this user').option('--pending', 'only those not yet delivered')
    .option('--limit <n>', 'the newest n, listed oldest first', '1000').option('--json', 'one JSON array, oldest first (bodies as base64)')
    .action(async (opts: DbOpts & { user?: string; pending?: boolean; limit: string }) => {
      const limit = parseLimit(opts.limit);
      const msgs = await withStore(opts, false, (store) => store.listMessages({ toUser: opts.user, state: opts.pending ? 'pending' : undefined, limit }));
      if (opts.json) return void console.log(JSON.stringify(msgs.map((m) => ({ ...messageJson(m), body: Buffer.from(m.body).toString('base64') }))));
      process.stdout.write(table([['ID', 'TO', 'FROM', 'TYPE', 'BYTES', 'RECEIVED', 'STATE', 'DELIVERED'],
        ...msgs.map((m) => { const j = messageJson(m); return [String(j.id), j.to, j.from, j.contentType, String(j.bytes), j.received, j.state, j.delivered ?? '']; })]));
    });

  const db = program.command('db').description('database schema');
  db.command('migrate').description('apply the schema migrations this version knows, creating a missing SQLite database')
    .addOption(dbOption()).addOption(profileOption())
    .action(async (opts: DbOpts) => {
      const version = await migrate(adminTarget(opts).url);
      console.log(`schema version ${version}`);
    });
}

function bindingJson(b: Binding, now: number) {
  return {
    user: b.userId, contact: b.contact, q: b.q, expires: iso(b.expiresAt), expiresIn: Math.max(0, Math.round((b.expiresAt - now) / 1000)),
    transport: b.flow.transport, source: { ip: b.flow.address, port: b.flow.port }, connectionId: b.flow.connectionId, userAgent: b.userAgent,
    instance: b.instance, regId: b.regId, path: b.path, callId: b.callId, cseq: b.cseq, updated: iso(b.updatedAt),
  };
}

/** One block per AoR, one indented block per Contact, as `kamctl ul show` prints them. */
function bindingsText(bindings: Binding[], now: number): string {
  let out = '';
  let user: string | null = null;
  for (const b of bindings) {
    const j = bindingJson(b, now);
    if (b.userId !== user) {
      user = b.userId;
      out += `${out ? '\n' : ''}AoR: ${user}\n`;
    }
    const host = j.source.ip.includes(':') ? `[${j.source.ip}]` : j.source.ip;
    out += `  Contact: ${j.contact}${j.q === null ? '' : ` q=${j.q}`}\n`;
    out += `    Expires: ${j.expiresIn}s (${j.expires})\n`;
    out += `    Flow: ${j.transport} ${host}:${j.source.port}${j.connectionId === null ? '' : ` connection ${j.connectionId}`}\n`;
    if (j.userAgent !== null) out += `    User-Agent: ${j.userAgent}\n`;
    if (j.instance !== null || j.regId !== null) out += `    Instance: ${j.instance ?? '-'}${j.regId === null ? '' : ` reg-id ${j.regId}`}\n`;
    if (j.path.length) out += `    Path: ${j.path.join(', ')}\n`;
    out += `    Call-ID: ${j.callId} CSeq ${j.cseq}, updated ${j.updated}\n`;
  }
  return out;
}

function callJson(c: CallRecord) {
  return {
    id: c.id, date: iso(c.callDate), caller: c.userId, callee: c.otherUserId, callId: c.callId, outcome: c.outcome,
    status: c.status, answered: c.answeredAt === null ? null : iso(c.answeredAt), ended: c.endedAt === null ? null : iso(c.endedAt),
    durationMs: c.durationMs, notified: c.notifiedAt === null ? null : iso(c.notifiedAt),
    trunk: c.trunk, dialledNumber: c.dialledNumber, sentNumber: c.sentNumber,
  };
}

function messageJson(m: StoredMessage) {
  return {
    id: m.id, to: m.toUser, from: m.fromUri, contentType: m.contentType, bytes: m.body.byteLength, received: iso(m.receivedAt),
    expires: iso(m.expiresAt), state: m.state, attempts: m.attempts, delivered: m.deliveredAt === null ? null : iso(m.deliveredAt),
  };
}
