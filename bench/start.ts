// `npm run bench:start` (issue 18): start-up of `tvphone serve` on a database holding 1,000,000 users, each with
// credentials, a user_property row and one binding. The tables are made by the project's migrations and filled with
// bulk SQL in one transaction; then the server starts on them, and we measure the time to its "tvphone serving" log
// line, its RSS then (and its peak, VmHWM), and one REGISTER and one MESSAGE (each with its digest challenge) right
// after. A share of the bindings (BENCH_START_TCP_PCT) is on TCP connections of the node that starts: its earlier run's
// TVs, which the start sets offline. SQLite always; PostgreSQL too with BENCH_PG_URL or TVPHONE_TEST_PG_URL.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { migrate } from '../src/store/open.ts';
import { buildAuthorization } from '../src/sip/digest.ts';
import { parseAuthParams } from '../src/sip/headers.ts';
import type { SipResponse } from '../src/sip/message.ts';
import { RawClient } from '../test/helpers/raw-client.ts';
import { createBenchDatabase } from './lib/pg.ts';
import { rssKb, stopAllOnSignal } from './lib/proc.ts';
import { startTvphone } from './lib/tvphone.ts';

const USERS = Number(process.env['BENCH_START_USERS'] ?? 1_000_000);
const TCP_PCT = Number(process.env['BENCH_START_TCP_PCT'] ?? 10);
const REALM = 'tvphone';
const PASSWORD = 'pw';
const NODE = 'bench-start'; // node.id of the server that starts
const TARGET_MS = 10_000;

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Every user u<i>: users, credentials (HA1 of PASSWORD), user_property online, one binding that has not expired. */
function fillSqlite(file: string, now: number): void {
  const db = new DatabaseSync(file);
  db.function('ha1md5', { deterministic: true }, (u) => md5(`${String(u)}:${REALM}:${PASSWORD}`));
  db.function('ha1sha256', { deterministic: true }, (u) => sha256(`${String(u)}:${REALM}:${PASSWORD}`));
  const iso = (ms: number) => new Date(ms).toISOString();
  const series = `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${USERS})`;
  const tcp = `(i % 100) < ${TCP_PCT}`;
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN');
  db.exec(`${series} INSERT INTO users (user_id, realm, created_at) SELECT 'u' || i, '${REALM}', '${iso(now)}' FROM s`);
  db.exec(`INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256) SELECT user_id, realm, ha1md5(user_id), ha1sha256(user_id) FROM users`);
  db.exec(`INSERT INTO user_property (User_id, User_ip, User_netstate, Netstate_since) SELECT user_id, '10.0.0.1', 1, '${iso(now)}' FROM users`);
  db.exec(`${series} INSERT INTO bindings (user_id, contact, expires_at, q, call_id, cseq, path, instance, reg_id, transport, source_ip,
      source_port, connection_id, user_agent, updated_at, node_id)
    SELECT 'u' || i, 'sip:u' || i || '@10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256) || ':5060', '${iso(now + 86_400_000)}',
      NULL, 'bench-' || i, 1, '[]', NULL, NULL, CASE WHEN ${tcp} THEN 'tcp' ELSE 'udp' END, '10.0.0.1', 5060 + i % 1000,
      CASE WHEN ${tcp} THEN CAST(i AS TEXT) ELSE NULL END, 'bench', '${iso(now)}', CASE WHEN ${tcp} THEN '${NODE}' ELSE NULL END FROM s`);
  db.exec('COMMIT');
  db.close();
}

async function fillPostgres(url: string, now: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const ts = `to_timestamp(${now} / 1000.0)`;
    const tcp = `(i % 100) < ${TCP_PCT}`;
    await c.query('BEGIN');
    await c.query(`INSERT INTO users (user_id, realm, created_at) SELECT 'u' || i, '${REALM}', ${ts} FROM generate_series(1, ${USERS}) i`);
    await c.query(`INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256)
      SELECT user_id, realm, md5(user_id || ':${REALM}:${PASSWORD}'), encode(sha256(convert_to(user_id || ':${REALM}:${PASSWORD}', 'UTF8')), 'hex') FROM users`);
    await c.query(`INSERT INTO user_property (User_id, User_ip, User_netstate, Netstate_since) SELECT user_id, '10.0.0.1', 1, ${ts} FROM users`);
    await c.query(`INSERT INTO bindings (user_id, contact, expires_at, q, call_id, cseq, path, instance, reg_id, transport, source_ip,
        source_port, connection_id, user_agent, updated_at, node_id)
      SELECT 'u' || i, 'sip:u' || i || '@10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256) || ':5060',
        to_timestamp(${now + 86_400_000} / 1000.0), NULL, 'bench-' || i, 1, '[]', NULL, NULL, CASE WHEN ${tcp} THEN 'tcp' ELSE 'udp' END,
        '10.0.0.1', 5060 + i % 1000, CASE WHEN ${tcp} THEN i::text ELSE NULL END, 'bench', ${ts}, CASE WHEN ${tcp} THEN '${NODE}' ELSE NULL END
      FROM generate_series(1, ${USERS}) i`);
    await c.query('COMMIT');
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

/** Sends a request, answers its 401/407 once (RFC 3261 §22.2) and resolves with the final status and the time taken. */
async function timed(client: RawClient, spec: Parameters<RawClient['request']>[0], user: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const first = client.request(spec);
  let res: SipResponse = await client.final(first.callId, spec.method, 15_000);
  if (res.status === 401 || res.status === 407) {
    const header = res.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    const challenge = parseAuthParams(res.fields(header)[0].value).params;
    const auth = buildAuthorization({ challenge, user, password: PASSWORD, method: spec.method, uri: spec.uri, nc: 1, cnonce: randomBytes(8).toString('hex') });
    const again = client.request({ ...spec, callId: first.callId, cseq: 2, headers: [...(spec.headers ?? []), [res.status === 401 ? 'Authorization' : 'Proxy-Authorization', auth]] });
    res = await client.final(again.callId, spec.method, 15_000);
  }
  return { status: res.status, ms: Math.round(performance.now() - t0) };
}

async function run(backend: 'sqlite' | 'postgres', url: string): Promise<Record<string, unknown>> {
  const now = Date.now();
  await migrate(url);
  let t = performance.now();
  if (backend === 'sqlite') fillSqlite(url.slice('sqlite:'.length), now);
  else await fillPostgres(url, now);
  const fillS = Math.round(performance.now() - t) / 1000;
  log(`${backend}: ${USERS} users and bindings (${TCP_PCT} % on TCP connections of the starting node) in ${fillS} s`);

  const spawnedAt = Date.now();
  const server = await startTvphone({ url }, { tcp: true, auth: 'digest', readyTimeoutMs: 120_000, profile: { node: { id: NODE } }, name: `tvphone ${backend}`, env: { TVPHONE_LOG: 'info' } });
  try {
    const readyMs = Date.now() - spawnedAt;
    const rss = rssKb([server.pid]);
    const lines = readFileSync(server.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const serving = lines.find((l) => l['msg'] === 'tvphone serving');
    const servingMs = serving === undefined ? null : Number(serving['time']) - spawnedAt;
    const client = await RawClient.open('udp', server.port);
    try {
      const user = 'u7';
      const reg = await timed(client, {
        method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`,
        headers: [['Contact', client.contact], ['Expires', '600']],
      }, user);
      // to a user whose binding was on a connection of the node's earlier run: offline now, so the MESSAGE is kept (202)
      const msg = await timed(client, {
        method: 'MESSAGE', uri: 'sip:u1@127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: '<sip:u1@127.0.0.1>', body: 'hello', contentType: 'text/plain',
      }, user);
      const peak = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
      const dropped = lines.find((l) => l['msg'] === 'bindings of connections removed');
      return {
        bench: 'start', backend, users: USERS, bindings: USERS, tcp_pct: TCP_PCT, fill_s: fillS,
        serving_ms: servingMs, answering_ms: readyMs, within_target: servingMs !== null && servingMs < TARGET_MS,
        rss_mb_at_ready: Math.round(rss / 1024), peak_rss_mb: peak ? Math.round(Number(peak[1]) / 1024) : null,
        connection_bindings_removed: dropped?.['users'] ?? 0,
        register: reg, message: msg,
      };
    } finally {
      await client.close();
    }
  } finally {
    await server.stop();
  }
}

stopAllOnSignal();
const results: Array<Record<string, unknown>> = [];
const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-start-'));
try {
  results.push(await run('sqlite', `sqlite:${join(dir, 'tvphone.db')}`));
} finally {
  if (process.env['BENCH_KEEP'] === '1') log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
const pgUrl = process.env['BENCH_PG_URL'] ?? process.env['TVPHONE_TEST_PG_URL'];
if (pgUrl) {
  const db = await createBenchDatabase(pgUrl);
  try {
    results.push(await run('postgres', db.url));
  } finally {
    await db.drop();
  }
} else {
  log('postgres: skipped (set BENCH_PG_URL or TVPHONE_TEST_PG_URL)');
}
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
