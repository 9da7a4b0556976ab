// Voicemail for an online TV (integration, real sockets on 127.0.0.1): a TV that rings but does not answer within
// voicemail.ringSeconds is CANCELled and the media server takes the call (the caller had its 180); a busy TV (486)
// stays busy unless voicemail.onBusy. user_call keeps one row per call: voicemail once the message is kept, else
// missed (no-answer / busy).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import type { RawClient } from '../../helpers/raw-client.ts';
import type { SipResponse } from '../../../src/sip/message.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { newTag } from '../../../src/sip/ids.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { until } from '../../helpers/until.ts';

const PASSWORDS: Record<string, string> = { 1001: 'pw1', 1002: 'pw2' };
/** the built-in greeting and beep last 1.6 s (media-server/greeting.ts) */
const GREETING_MS = 1600;

describe('voicemail after no answer or busy (voicemail.ringSeconds, voicemail.onBusy)', function () {
  this.timeout(40_000);
  const servers: TestServer[] = [];
  const agents: TvAgent[] = [];
  const clients: RawClient[] = [];
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-vmring-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function server(voicemail: Record<string, unknown>): Promise<TestServer> {
    const s = await startDefaultProfileServer({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0, ...voicemail } });
    servers.push(s);
    await s.addUser('1001', 'pw1');
    await s.addUser('1002', 'pw2');
    return s;
  }

  function agent(srv: TestServer, user: string): TvAgent {
    const a = new TvAgent({
      user, password: PASSWORDS[user], server: `sip:127.0.0.1:${srv.tcp.port}`, transport: 'tcp',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, toneHz: 440,
    });
    agents.push(a);
    return a;
  }

  /** A phone that REGISTERs with digest and answers every request it gets with `status` (486: always busy). */
  async function busyPhone(srv: TestServer, user: string, status: number): Promise<RawClient> {
    const c = await srv.client('udp');
    clients.push(c);
    c.autoAnswer = status;
    const callId = `reg-${newTag()}`;
    const send = (cseq: number, auth?: string): Promise<SipResponse> => {
      c.request({
        method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`, callId, cseq,
        headers: [['Contact', c.contact], ['Expires', '600'], ...(auth ? [['Authorization', auth] as [string, string]] : [])],
      });
      return c.final(callId, 'REGISTER');
    };
    const challenge = await send(1);
    assert.equal(challenge.status, 401);
    const auth = buildAuthorization({
      challenge: parseAuthParams(challenge.header('www-authenticate')!).params, user, password: PASSWORDS[user],
      method: 'REGISTER', uri: 'sip:127.0.0.1', nc: 1, cnonce: newTag(),
    });
    assert.equal((await send(2, auth)).status, 200);
    return c;
  }

  const callRows = async (srv: TestServer, callId: string) => (await srv.server.store.listCalls({ userId: '1001' })).filter((c) => c.callId === callId);

  it('CANCELs a TV that rings past ringSeconds, and the media server answers the caller and keeps its message', async () => {
    const srv = await server({ ringSeconds: 2 });
    const tv = agent(srv, '1002');
    await tv.start();
    const caller = agent(srv, '1001');
    await caller.start();

    const incoming = waitFor(tv, 'call-incoming');
    const tvEnded = waitFor(tv, 'call-ended', () => true, 10_000);
    const ringing = waitFor(caller, 'call-ringing');
    const answered = waitFor(caller, 'call-answered', () => true, 10_000);
    const t0 = Date.now();
    await caller.dial('1002');
    const { callId } = await incoming;
    assert.equal((await ringing).status, 180, 'the caller hears the TV ring first');
    assert.equal((await tvEnded).reason, 'cancelled', 'the ring time CANCELs the TV');
    await answered;
    const waited = Date.now() - t0;
    assert.ok(waited >= 1900 && waited < 5000, `answered by the media server after ${waited} ms`);

    await sleep(GREETING_MS + 1500);
    const ended = waitFor(caller, 'call-ended', () => true, 10_000);
    await caller.hangup();
    await ended;
    await until(async () => (await srv.server.store.listVoicemails({ toUser: '1002' })).length === 1, 5000, 'voice message kept');
    await until(async () => (await callRows(srv, callId))[0]?.endedAt != null, 3000, 'call record closed');
    const rows = await callRows(srv, callId);
    assert.equal(rows.length, 1, 'one user_call row for the call');
    assert.equal(rows[0].outcome, 'voicemail');
    const [vm] = await srv.server.store.listVoicemails({ toUser: '1002' });
    assert.equal(vm.callRecordId, rows[0].id);
  });

  it('gives a busy TV\'s caller 486 by default; with onBusy the media server answers, and a caller gone at the greeting is a missed call (busy)', async () => {
    const plain = await server({ ringSeconds: 30 });
    await busyPhone(plain, '1002', 486);
    const a = agent(plain, '1001');
    await a.start();
    const busy = waitFor(a, 'call-ended', () => true, 10_000);
    await a.dial('1002');
    const e = await busy;
    assert.equal(e.reason, 'busy');
    assert.equal(e.status, 486);
    await until(async () => (await callRows(plain, e.callId))[0]?.outcome === 'busy', 3000, 'user_call busy');

    const vmOnBusy = await server({ onBusy: true });
    await busyPhone(vmOnBusy, '1002', 486);
    const b = agent(vmOnBusy, '1001');
    await b.start();
    const answered = waitFor(b, 'call-answered', () => true, 10_000);
    await b.dial('1002');
    const { callId } = await answered;
    await sleep(300);
    const ended = waitFor(b, 'call-ended', () => true, 10_000);
    await b.hangup(); // during the greeting: no message
    await ended;
    await until(async () => (await callRows(vmOnBusy, callId))[0]?.endedAt != null, 3000, 'call record closed');
    const rows = await callRows(vmOnBusy, callId);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].outcome, 'busy', 'a missed call, busy');
    assert.deepEqual(await vmOnBusy.server.store.listVoicemails({ toUser: '1002' }), []);
  });
});
