// Failover between two trunks with sipp (SIPp 3.6) processes as the carriers (issue 12): tvphone with the shipped
// default profile's auth and two udp trunks in one route; a sipp UAC authenticated as a local user dials a national
// number. The first carrier answers 503 (trunk-503-uas.xml), so the call completes on the second (call-uas.xml:
// 180/200, the ACK and BYE through tvphone). Then the first carrier does not answer OPTIONS (a UDP socket that reads
// and never answers) and is down by its ping: the INVITE goes straight to the second. Each sipp keeps a message log
// (-trace_msg), which is what the assertions read; user_call names the trunk that answered.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { pollUntil, until } from '../helpers/until.ts';
import { installed, killAll, LOOPBACK } from './lib/proc.ts';
import { assertSippOk, sipp, startSipp, type SippRun } from './lib/sipp.ts';
import { needPeers } from '../helpers/peers.ts';

const PW = 'pw-trunk-caller';
const DIALLED = '0301234567';
const SENT = '+49301234567';

/** The requests a sipp received, from its -trace_msg log: method and the top Via's branch. */
function received(log: string): { method: string; branch: string }[] {
  return [...log.matchAll(/message received[^\n]*\n\s*([A-Z]+) sip:[^\n]*\n(?:[^\n]+\n)*?Via:[^\n]*branch=([^;,\s]+)/g)]
    .map((m) => ({ method: m[1]!, branch: m[2]! }));
}

describe('interop: trunk failover with sipp as the carriers (503 → the next trunk; down by ping → skipped)', function () {
  this.timeout(40_000);
  let ts: TestServer | null = null;
  let work: string;
  let silent: dgram.Socket | null = null;

  before(function () {
    needPeers(this, installed('sipp'), 'sipp');
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-trunk-sipp-'));
  });

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    if (silent !== null) await new Promise<void>((r) => silent!.close(() => r()));
    silent = null;
    rmSync(work, { recursive: true, force: true });
  });

  /** a sipp carrier (UAS) with its message log */
  async function carrier(name: string, scenario: string): Promise<SippRun & { messages: () => string }> {
    const file = join(work, `${name}.messages.log`);
    const run = await startSipp({ workDir: work, scenario, target: null, timeoutS: 10, args: ['-trace_msg', '-message_file', file] });
    return { ...run, messages: () => (existsSync(file) ? readFileSync(file, 'latin1') : '') };
  }

  /** tvphone with the default profile, trunks a (priority 1) and b (priority 2) in the route of national numbers */
  async function server(a: Record<string, unknown>, b: Record<string, unknown>): Promise<TestServer> {
    ts = await startDefaultProfileServer({
      trunks: [
        { name: 'carrier-a', host: LOOPBACK, transport: 'udp', priority: 1, ...a },
        { name: 'carrier-b', host: LOOPBACK, transport: 'udp', priority: 2, ...b },
      ],
      routes: [{ prefix: '0', trunks: ['carrier-a', 'carrier-b'], e164: { countryCode: '49' } }],
    });
    await ts.addUser('caller', PW);
    return ts;
  }

  /** the sipp UAC: INVITE → 407 → INVITE with credentials of user caller → 200 → ACK → BYE */
  function dial(): ReturnType<typeof sipp> {
    return sipp({ workDir: work, scenario: 'call-uac-auth.xml', target: `${LOOPBACK}:${ts!.udp.port}`, timeoutS: 10,
      args: ['-s', DIALLED, '-au', 'caller', '-ap', PW, '-d', '200'] });
  }

  async function callRecord(): Promise<{ trunk: string | null; outcome: string; sentNumber: string | null }> {
    const [call] = await pollUntil(() => ts!.server.store.listCalls({ userId: 'caller' }), (c) => c.length === 1 && c[0]!.endedAt !== null, 3000);
    assert.ok(call, 'one call recorded');
    return { trunk: call.trunk ?? null, outcome: call.outcome, sentNumber: call.sentNumber ?? null };
  }

  it('the first carrier answers 503: the call completes on the second (180/200, ACK, BYE); the first saw one INVITE; user_call names the second trunk', async () => {
    const a = await carrier('a', 'trunk-503-uas.xml');
    const b = await carrier('b', 'call-uas.xml');
    await server({ port: a.port, ping: 0 }, { port: b.port, ping: 0 });
    assertSippOk(await dial());
    assertSippOk(await b.result);
    assertSippOk(await a.result);
    const atA = received(a.messages());
    const atB = received(b.messages());
    assert.equal(new Set(atA.filter((r) => r.method === 'INVITE').map((r) => r.branch)).size, 1, `one INVITE at the first carrier:\n${a.messages()}`);
    assert.ok(atA.some((r) => r.method === 'ACK'), 'the 503 was ACKed');
    assert.deepEqual([...new Set(atB.map((r) => r.method))], ['INVITE', 'ACK', 'BYE'], `the call at the second carrier:\n${b.messages()}`);
    assert.match(b.messages(), new RegExp(`INVITE sip:\\${SENT}@${LOOPBACK.replace(/\./g, '\\.')}:${b.port} SIP/2\\.0`), 'the E.164 number at the second carrier');
    assert.deepEqual(await callRecord(), { trunk: 'carrier-b', outcome: 'answered', sentNumber: SENT });
  });

  it('the first carrier does not answer OPTIONS: down by its ping, it is skipped and the first INVITE goes to the second', async () => {
    silent = dgram.createSocket('udp4');
    const atA: string[] = [];
    silent.on('message', (buf) => atA.push(buf.toString('latin1').split('\r\n', 1)[0]!));
    silent.bind(0, LOOPBACK);
    await once(silent, 'listening');
    const b = await carrier('b', 'call-uas.xml');
    await server({ port: silent.address().port, ping: 5 }, { port: b.port, ping: 0 });
    await until(() => ts!.server.trunks.status()[0]!.ping === 'down', 10_000, 'carrier-a down by its ping');
    const started = Date.now();
    assertSippOk(await dial());
    const took = Date.now() - started;
    assertSippOk(await b.result);
    assert.ok(atA.length > 0 && atA.every((l) => l.startsWith('OPTIONS ')), `the first carrier got only OPTIONS: ${JSON.stringify(atA)}`);
    assert.equal(received(b.messages()).filter((r) => r.method === 'INVITE').length, 1, 'one INVITE at the second carrier');
    assert.ok(took < 3000, `no wait for the first carrier (the call took ${took} ms)`);
    assert.deepEqual(await callRecord(), { trunk: 'carrier-b', outcome: 'answered', sentNumber: SENT });
  });
});
