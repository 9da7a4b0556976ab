// `npm run bench:sim`: 1,000,000 TVs (or --tvs) over N nodes on one PostgreSQL, from figures measured on one node.
// Reads the JSON lines of `npm run bench` (--from FILE, repeatable; later files win) and/or takes the figures as
// flags; prints, for each registration refresh interval, the REGISTER/s, the nodes needed (and which limit sets
// them: CPU, connections per node, memory), the database writes/s and CPU, and where PostgreSQL becomes the limit.
// The arithmetic is bench/lib/cluster-model.ts. It measures nothing itself.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { plan, shortestRefreshForDb, maxTvsForDb, type NodeFigures, type Population } from './lib/cluster-model.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string', multiple: true, default: [] },
    tvs: { type: 'string', default: '1000000' },
    'refresh-s': { type: 'string', multiple: true, default: [] },
    'calls-per-s': { type: 'string' }, 'msgs-per-s': { type: 'string' },
    utilisation: { type: 'string', default: '0.8' },
    'max-conn-per-node': { type: 'string', default: '100000' },
    'node-ram-mb': { type: 'string', default: '4096' },
    'db-cores': { type: 'string', default: '2' },
    'writes-per-reg': { type: 'string' }, 'writes-per-msg': { type: 'string' }, 'writes-per-call': { type: 'string' },
    'reg-per-s': { type: 'string' }, 'call-per-s': { type: 'string' }, 'msg-per-s': { type: 'string' },
    'idle-cpu-pct': { type: 'string' }, 'idle-connections': { type: 'string' }, 'idle-refresh-per-s': { type: 'string' },
    'rss-per-conn-b': { type: 'string' }, 'rss-idle-kb': { type: 'string' },
    'db-us-per-reg': { type: 'string' }, 'db-us-per-msg': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  process.stdout.write(`usage: node bench/cluster-sim.ts [--from bench-output.jsonl ...] [--tvs N] [--refresh-s S ...]
  [--calls-per-s R] [--msgs-per-s R] [--utilisation 0.8] [--max-conn-per-node 100000] [--node-ram-mb 4096] [--db-cores 2]
  [--writes-per-reg N] [--writes-per-msg N] [--writes-per-call N] (rows written per operation; default: measured, else 1)
  measured figures (override --from): --reg-per-s --call-per-s --msg-per-s --idle-cpu-pct --idle-connections
  --idle-refresh-per-s --rss-per-conn-b --rss-idle-kb --db-us-per-reg --db-us-per-msg\n`);
  process.exit(0);
}

// the bench's JSON lines: the rows this model needs, by part and server
type Row = Record<string, unknown>;
const rows: Row[] = a.from.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row));
const find = (part: string, server: RegExp): Row | undefined =>
  rows.filter((r) => r['part'] === part && server.test(String(r['server'] ?? '')) && r['max_sustainable_rate'] !== null).pop();
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const regRow = find('cluster reg', /1 node/) ?? find('reg', /^tvphone postgres$/);
const msgRow = find('msg', /^tvphone postgres$/);
const callRow = find('cluster call', /1 node/) ?? find('call', /^tvphone/);
const connRows = rows.filter((r) => r['part'] === 'connections' && r['role'] === 'tvphone');
const scaled = (r: Row): boolean => (num(r['traffic_of']) ?? 0) > (num(r['n']) ?? Infinity);
// memory from a run whose connections each carry one TV's traffic; CPU from the run with the most TVs' traffic (the
// connections part's second run, where the fd limit kept N below the asked number, carries the asked TVs' traffic)
const conn = connRows.filter((r) => !scaled(r)).pop() ?? connRows[connRows.length - 1];
const connCpu = connRows.filter(scaled).pop() ?? conn;
const sources: string[] = [];
function figure(flag: string | undefined, row: Row | undefined, key: string, what: string): number | null {
  if (flag !== undefined) { sources.push(`${what}: ${flag} (flag)`); return Number(flag); }
  const v = num(row?.[key]);
  if (v !== null) sources.push(`${what}: ${v} (${String(row!['part'])} on ${String(row!['server'])})`);
  return v;
}
const need = (v: number | null, what: string, flag: string): number => {
  if (v === null) {
    process.stderr.write(`cluster-sim: no figure for ${what}: pass --from with npm run bench output that has it, or ${flag}\n`);
    process.exit(2);
  }
  return v;
};
const f: NodeFigures = {
  regPerS: need(figure(a['reg-per-s'], regRow, 'max_sustainable_rate', 'REGISTER/s per node (PostgreSQL)'), 'REGISTER/s', '--reg-per-s'),
  callPerS: need(figure(a['call-per-s'], callRow, 'max_sustainable_rate', 'calls/s per node'), 'calls/s', '--call-per-s'),
  msgPerS: need(figure(a['msg-per-s'], msgRow, 'max_sustainable_rate', 'MESSAGE/s per node (PostgreSQL)'), 'MESSAGE/s', '--msg-per-s'),
  idleCpuPctOfCore: need(figure(a['idle-cpu-pct'], connCpu, 'cpu_pct_of_core', 'idle TCP CPU % of a core'), 'idle CPU', '--idle-cpu-pct'),
  idleConnections: need(figure(a['idle-connections'], connCpu, connCpu && scaled(connCpu) ? 'traffic_of' : 'registered', 'TVs whose keep-alives and refreshes that CPU carried'), 'idle connections', '--idle-connections'),
  idleRefreshPerS: figure(a['idle-refresh-per-s'], connCpu, 'refreshes_per_s', 'refreshes/s in the idle window') ?? 0,
  rssPerConnectionB: need(figure(a['rss-per-conn-b'], conn, 'rss_per_connection_b', 'RSS per connection, B'), 'RSS per connection', '--rss-per-conn-b'),
  rssIdleKb: need(figure(a['rss-idle-kb'], conn, 'rss_idle_kb', 'idle server RSS, kB'), 'idle RSS', '--rss-idle-kb'),
  dbUsPerReg: figure(a['db-us-per-reg'], bestOf(regRow), 'db_cpu_us_per_op', 'PostgreSQL CPU per REGISTER, µs'),
  dbUsPerMsg: figure(a['db-us-per-msg'], bestOf(msgRow), 'db_cpu_us_per_op', 'PostgreSQL CPU per MESSAGE, µs'),
};
/** a result row with its best run's figures (the per-operation database figures are in best_run) */
function bestOf(row: Row | undefined): Row | undefined { return row ? { ...(row['best_run'] as Row | null ?? {}), ...row } : undefined; }
function assumed(what: string, v: number): number { sources.push(`rows written per ${what}: ${v} (assumed: not measured)`); return v; }
const tvs = Number(a.tvs);
// default busy-hour traffic: 0.2 calls and 1 message per TV per hour
const callsPerS = Number(a['calls-per-s'] ?? (tvs * 0.2) / 3600);
const msgsPerS = Number(a['msgs-per-s'] ?? tvs / 3600);
const refreshes = (a['refresh-s'].length ? a['refresh-s'] : ['60', '300', '600', '1800', '3600']).map(Number);
const base: Omit<Population, 'refreshS'> = {
  tvs, callsPerS, msgsPerS, utilisation: Number(a.utilisation), maxConnectionsPerNode: Number(a['max-conn-per-node']),
  nodeRamMb: Number(a['node-ram-mb']), dbCores: Number(a['db-cores']),
  // rows written per operation: measured on PostgreSQL (pg_stat_database) where the bench has them, else assumed
  writesPerReg: figure(a['writes-per-reg'], bestOf(regRow), 'db_rows_written_per_op', 'rows written per REGISTER') ?? assumed('REGISTER', 1),
  writesPerMsg: figure(a['writes-per-msg'], bestOf(msgRow), 'db_rows_written_per_op', 'rows written per MESSAGE (stored; its delete on delivery is not in it)') ?? assumed('MESSAGE', 1),
  writesPerCall: figure(a['writes-per-call'], bestOf(callRow), 'db_rows_written_per_op', 'rows written per call') ?? assumed('call', 1),
};
const plans = refreshes.map((refreshS) => ({ refreshS, ...plan(f, { ...base, refreshS }), maxTvsForDb: maxTvsForDb(f, { ...base, refreshS }) }));
const shortest = shortestRefreshForDb(f, { ...base, refreshS: 0 });
if (a.json) {
  process.stdout.write(`${JSON.stringify({ figures: f, population: base, plans, shortestRefreshForDbS: shortest })}\n`);
  process.exit(0);
}
const r0 = (v: number | null): string => (v === null ? '-' : Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '∞');
const r2 = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
const out = [
  `cluster-sim: ${tvs.toLocaleString('en')} TVs, ${r0(callsPerS)} calls/s, ${r0(msgsPerS)} MESSAGE/s, nodes planned at ${base.utilisation * 100} %,`,
  `  ≤ ${base.maxConnectionsPerNode.toLocaleString('en')} connections and ${base.nodeRamMb} MB per node, PostgreSQL on ${base.dbCores} cores`,
  'measured figures:', ...sources.map((s) => `  ${s}`),
  '',
  '| refresh s | REGISTER/s | node loads | nodes (cpu / conn / mem) | limit | DB writes/s | DB cores | DB the limit? | TVs the DB carries |',
  '|---|---|---|---|---|---|---|---|---|',
  ...plans.map((p) => `| ${p.refreshS} | ${r0(p.regPerS)} | ${r2(p.nodeLoads)} | ${p.nodes} (${p.nodesByCpu} / ${p.nodesByConnections} / ${r0(p.nodesByMemory)}) | ${p.limit} | ${r0(p.dbWritesPerS)} | ${r2(p.dbCores)} | ${p.dbIsLimit === null ? '-' : p.dbIsLimit ? 'yes' : 'no'} | ${r0(p.maxTvsForDb)} |`),
  '',
  shortest === null
    ? 'PostgreSQL CPU per operation not measured (run npm run bench with TVPHONE_TEST_PG_URL): no database limit computed'
    : `PostgreSQL (${base.dbCores} cores at ${base.utilisation * 100} %) becomes the limit below a refresh interval of ${r0(shortest)} s for ${tvs.toLocaleString('en')} TVs`,
  'node loads = one node\'s capacity the load needs (keep-alive CPU + Σ rate / sustainable rate); DB writes/s = rows written per operation × rate;',
  'measured on one 2-core machine with sipp and PostgreSQL on it: a planning estimate, not a capacity guarantee.',
];
process.stdout.write(`${out.join('\n')}\n`);
