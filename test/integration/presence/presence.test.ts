// Presence (RFC 3856 over RFC 6665) over real sockets: a registered watcher SUBSCRIBEs, gets 200 and a NOTIFY
// with a PIDF body, then one NOTIFY per change of the presentity's User_netstate (REGISTER, loss of its TCP
// connection, REGISTER again); Expires: 0 ends the subscription with a final NOTIFY; an unknown event is 489.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { overallBasic, parsePidf, PIDF_CONTENT_TYPE } from '../../../src/formats/pidf.ts';
import { parseAuthParams, parseCSeq, parseNameAddr, tagOf } from '../../../src/sip/headers.ts';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { newTag } from '../../../src/sip/ids.ts';

describe('presence: SUBSCRIBE / NOTIFY over UDP and TCP (RFC 3856)', function () {
  this.timeout(20_000);
  let ts: TestServer;
  const client = (transport: 'udp' | 'tcp' = 'udp'): Promise<RawClient> => ts.client(transport);

  const register = (c: RawClient, user: string, expires = 3600): Promise<SipResponse> => c.register(user, expires);

  interface Dialog { callId: string; fromTag: string; toTag: string | null; cseq: number }

  function subscribe(c: RawClient, watcher: string, presentity: string, o: { event?: string; expires?: number; dialog?: Dialog; uri?: string; headers?: Array<[string, string]> } = {}): { dialog: Dialog; res: Promise<SipResponse> } {
    const dialog = o.dialog ?? { callId: `sub-${newTag()}`, fromTag: newTag(), toTag: null, cseq: 0 };
    dialog.cseq++;
    c.request({
      method: 'SUBSCRIBE', uri: o.uri ?? `sip:${presentity}@127.0.0.1`, from: `<sip:${watcher}@127.0.0.1>`, fromTag: dialog.fromTag,
      to: `<sip:${presentity}@127.0.0.1>${dialog.toTag ? `;tag=${dialog.toTag}` : ''}`, callId: dialog.callId, cseq: dialog.cseq,
      headers: [['Contact', c.contact], ['Event', o.event ?? 'presence'], ['Accept', PIDF_CONTENT_TYPE], ['Expires', String(o.expires ?? 600)], ...(o.headers ?? [])],
    });
    return { dialog, res: c.final(dialog.callId, 'SUBSCRIBE') };
  }

  /** CSeq numbers of the NOTIFYs each dialog already gave a test: a retransmission (Timer E on a loaded machine) is not a next one */
  const seenNotifies = new Map<string, Set<number>>();
  async function nextNotify(c: RawClient, callId: string, timeoutMs = 5000): Promise<SipRequest> {
    const seen = seenNotifies.get(callId) ?? new Set<number>();
    seenNotifies.set(callId, seen);
    const n = await c.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY' && m.callId === callId && !seen.has(m.cseq().seq), timeoutMs) as SipRequest;
    seen.add(n.cseq().seq);
    return n;
  }

  function basicOf(n: SipRequest): string {
    assert.equal(n.header('content-type'), PIDF_CONTENT_TYPE);
    return overallBasic(parsePidf(n.body));
  }

  afterEach(async () => {
    await ts?.close();
  });

  it('answers a SUBSCRIBE with 200 and sends a NOTIFY with a PIDF body (closed for an offline presentity)', async () => {
    ts = await startTestServer({ auth: 'none' });
    const watcher = await client();
    assert.equal((await register(watcher, '3001')).status, 200);
    const { dialog, res } = subscribe(watcher, '3001', '3002');
    const ok = await res;
    assert.equal(ok.status, 200);
    assert.ok(tagOf(ok.header('to')!), 'the 200 has a To tag (it creates the dialog)');
    assert.ok(Number(ok.header('expires')) > 0);
    const n = await nextNotify(watcher, dialog.callId);
    assert.equal(n.header('event'), 'presence');
    assert.match(n.header('subscription-state')!, /^active/);
    assert.equal(tagOf(n.header('from')!), tagOf(ok.header('to')!), 'the NOTIFY is in the dialog the 200 created');
    assert.equal(tagOf(n.header('to')!), dialog.fromTag);
    assert.match(parsePidf(n.body).entity, /^sip:3002@/);
    assert.equal(basicOf(n), 'closed');
  });

  it('notifies open → closed → open as the presentity registers, loses its TCP connection and registers again', async () => {
    ts = await startTestServer({ auth: 'none' });
    const watcher = await client();
    assert.equal((await register(watcher, '3001')).status, 200);
    const { dialog, res } = subscribe(watcher, '3001', '3003');
    assert.equal((await res).status, 200);
    const initial = await nextNotify(watcher, dialog.callId);
    assert.equal(basicOf(initial), 'closed');

    const tv1 = await client('tcp');
    assert.equal((await register(tv1, '3003')).status, 200);
    const n1 = await nextNotify(watcher, dialog.callId);
    assert.equal(basicOf(n1), 'open');

    await tv1.close();
    const n2 = await nextNotify(watcher, dialog.callId);
    assert.equal(basicOf(n2), 'closed');

    const tv2 = await client('tcp');
    assert.equal((await register(tv2, '3003')).status, 200);
    const n3 = await nextNotify(watcher, dialog.callId);
    assert.equal(basicOf(n3), 'open');

    const seqs = [initial, n1, n2, n3].map((n) => parseCSeq(n.header('cseq')!).seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'CSeq grows within the dialog');
    assert.equal(new Set(seqs).size, 4);
    await sleep(200);
    assert.equal(watcher.received.filter((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY').length, 0, 'one NOTIFY per change');
  });

  it('ends the subscription on Expires: 0 with a final NOTIFY (Subscription-State: terminated)', async () => {
    ts = await startTestServer({ auth: 'none' });
    const watcher = await client();
    await register(watcher, '3001');
    const presentity = await client();
    await register(presentity, '3004');
    const { dialog, res } = subscribe(watcher, '3001', '3004');
    const ok = await res;
    assert.equal(ok.status, 200);
    dialog.toTag = tagOf(ok.header('to')!);
    assert.equal(basicOf(await nextNotify(watcher, dialog.callId)), 'open');

    const end = subscribe(watcher, '3001', '3004', { dialog, expires: 0 });
    const endRes = await end.res;
    assert.equal(endRes.status, 200);
    assert.equal(endRes.header('expires'), '0');
    // RFC 6665 §4.2.2: the final NOTIFY says terminated (a NOTIFY already under way, a state change that crossed the
    // un-SUBSCRIBE on a loaded store, may come first)
    const last = await watcher.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY' && m.callId === dialog.callId
      && /^terminated/.test(m.header('subscription-state') ?? ''), 5000) as SipRequest;
    assert.match(last.header('subscription-state')!, /^terminated/);
    assert.equal(basicOf(last), 'open', 'the final NOTIFY still carries the state');
    assert.deepEqual(await ts.server.store.subscriptionsFor('3004', Date.now()), []);

    // no more NOTIFYs after the end: the presentity going offline is not reported (one that crossed the un-SUBSCRIBE,
    // or a retransmission, has a CSeq no higher than the final one)
    assert.equal((await register(presentity, '3004', 0)).status, 200);
    await sleep(300);
    const finalSeq = parseCSeq(last.header('cseq')!).seq;
    assert.equal(watcher.received.filter((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY' && parseCSeq(m.header('cseq')!).seq > finalSeq).length, 0);
  });

  it('refreshes and ends an authenticated subscription with in-dialog SUBSCRIBEs sent to the Contact of the 200 (RFC 6665 §4.1.2.1, §4.4.1)', async () => {
    ts = await startTestServer({ auth: 'digest' });
    await ts.addUser('3001', 'pw-3001');
    await ts.addUser('3006', 'pw-3006');
    const watcher = await client();
    const first = subscribe(watcher, '3001', '3006');
    const challenge = await first.res;
    assert.equal(challenge.status, 407);
    const authorization = buildAuthorization({
      challenge: parseAuthParams(challenge.header('proxy-authenticate')!).params, user: '3001', password: 'pw-3001',
      method: 'SUBSCRIBE', uri: 'sip:3006@127.0.0.1', nc: 1, cnonce: newTag(),
    });
    const { dialog, res } = subscribe(watcher, '3001', '3006', { dialog: first.dialog, headers: [['Proxy-Authorization', authorization]] });
    const ok = await res;
    assert.equal(ok.status, 200);
    dialog.toTag = tagOf(ok.header('to')!);
    const target = parseNameAddr(ok.header('contact')!).uri;
    assert.equal(basicOf(await nextNotify(watcher, dialog.callId)), 'closed');

    const refresh = subscribe(watcher, '3001', '3006', { dialog, uri: target, expires: 300 });
    const refreshed = await refresh.res;
    assert.equal(refreshed.status, 200, 'the refresh is in the dialog the 200 created');
    assert.equal(refreshed.header('expires'), '300');
    assert.match((await nextNotify(watcher, dialog.callId)).header('subscription-state')!, /^active/);

    const end = subscribe(watcher, '3001', '3006', { dialog, uri: target, expires: 0 });
    assert.equal((await end.res).status, 200);
    assert.match((await nextNotify(watcher, dialog.callId)).header('subscription-state')!, /^terminated/);
    assert.deepEqual(await ts.server.store.subscriptionsFor('3006', Date.now()), []);
  });

  it('answers Event: foo with 489 Bad Event and Allow-Events: presence (RFC 6665 §4.2.1.1)', async () => {
    ts = await startTestServer({ auth: 'none' });
    const watcher = await client();
    await register(watcher, '3001');
    const { dialog, res } = subscribe(watcher, '3001', '3005', { event: 'foo' });
    const r = await res;
    assert.equal(r.status, 489);
    assert.match(r.header('allow-events') ?? '', /presence/);
    await sleep(200);
    assert.equal(watcher.received.filter((m) => m.isRequest() && m.callId === dialog.callId).length, 0, 'no NOTIFY follows');
  });
});
