import assert from 'node:assert/strict';
import { validateProfile, type TrunkConfig } from '../../../src/config/profile.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import type { SipRequest } from '../../../src/sip/message.ts';
import { carrierTarget, TrunkCalls } from '../../../src/trunks/trunk-calls.ts';

function trunk(extra: Record<string, unknown>): TrunkConfig {
  return validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
    trunks: [{ name: 'c', host: '198.51.100.1', username: 'acct', password: 'pw', fromDomain: 'carrier.example', ...extra }],
  }, 'test.json').trunks[0]!;
}

const SDP = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 4000 RTP/AVP 0 8 9 101',
  'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', ''].join('\r\n');

function invite(extra: string[] = [], body = ''): SipRequest {
  const text = ['INVITE sip:0301234@example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx', 'Max-Forwards: 70',
    'From: "Alice" <sip:alice@example.com>;tag=a1', 'To: <sip:0301234@example.com>', 'Call-ID: c1', 'CSeq: 1 INVITE',
    ...extra, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('trunks/trunk-calls: a call\'s leg through one trunk', () => {
  it('sends to the carrier with the number at its host, and keeps the From tag under every caller-ID policy', () => {
    const leg = new TrunkCalls(trunk({})).leg('+49301234', { user: '1001', display: 'Living room' })!;
    assert.equal(leg.uri, 'sip:+49301234@198.51.100.1');
    assert.deepEqual(leg.destination, { transport: 'udp', address: '198.51.100.1', port: 5060 });
    const req = invite(['P-Asserted-Identity: <sip:boss@example.com>']);
    leg.prepare(req);
    assert.equal(req.header('from'), '"Living room" <sip:1001@carrier.example>;tag=a1');
    assert.equal(req.header('p-asserted-identity'), undefined, 'RFC 3325 §9.1: what the caller asserted is removed');
  });

  it('a tls next hop named by host name keeps the name as the TLS server name (RFC 5922 §7.3): the host, else the outbound proxy', () => {
    const listeners = [{ transport: 'tls', host: '127.0.0.1', port: 5061, cert: 'c.pem', key: 'k.pem' }];
    const tlsTrunk = (extra: Record<string, unknown>): TrunkConfig => validateProfile({ listeners, trunks: [{ name: 'c', transport: 'tls', ...extra }] }, 'test.json').trunks[0]!;
    assert.deepEqual(carrierTarget(tlsTrunk({ host: 'sip.carrier.example' }), '192.0.2.7'), { transport: 'tls', address: '192.0.2.7', port: 5061, serverName: 'sip.carrier.example' });
    assert.deepEqual(carrierTarget(tlsTrunk({ host: 'sip.carrier.example', outboundProxy: 'sbc.carrier.example:5062' }), '192.0.2.8'), { transport: 'tls', address: '192.0.2.8', port: 5062, serverName: 'sbc.carrier.example' });
    assert.deepEqual(carrierTarget(tlsTrunk({ host: '192.0.2.7' }), '192.0.2.7'), { transport: 'tls', address: '192.0.2.7', port: 5061 }, 'an address is checked as itself');
    assert.deepEqual(carrierTarget(trunk({ host: 'sip.carrier.example' }), '192.0.2.7'), { transport: 'udp', address: '192.0.2.7', port: 5060 }, 'no name without TLS');
    const calls = new TrunkCalls(tlsTrunk({ host: 'sip.carrier.example' }));
    calls.resolved('192.0.2.7');
    assert.deepEqual(calls.leg('1', { user: '1001' })!.destination, { transport: 'tls', address: '192.0.2.7', port: 5061, serverName: 'sip.carrier.example' });
  });

  it('pai: From is the account, P-Asserted-Identity the caller; privacy (or a caller\'s Privacy: id): anonymous From (RFC 3323)', () => {
    const pai = invite();
    new TrunkCalls(trunk({ callerId: 'pai' })).leg('1', { user: '1001' })!.prepare(pai);
    assert.equal(pai.header('from'), '<sip:acct@carrier.example>;tag=a1');
    assert.equal(pai.header('p-asserted-identity'), '<sip:1001@carrier.example>');
    const asked = invite(['Privacy: id']);
    new TrunkCalls(trunk({})).leg('1', { user: '1001' })!.prepare(asked);
    assert.equal(asked.header('from'), '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=a1');
    assert.equal(asked.header('p-asserted-identity'), '<sip:1001@carrier.example>');
    assert.equal(asked.header('privacy'), 'id');
  });

  it('keeps only the trunk\'s codecs in its order, and telephone-event, static payload types included', () => {
    const calls = new TrunkCalls(trunk({ codecs: ['PCMA', 'PCMU'] }));
    const req = invite([], SDP);
    calls.leg('1', { user: 'a' })!.prepare(req);
    const text = Buffer.from(req.body).toString();
    assert.match(text, /m=audio 4000 RTP\/AVP 8 0 101\r\n/);
    assert.match(text, /a=rtpmap:101 telephone-event\/8000/);
    assert.equal(calls.acceptsOffer(Buffer.from(SDP), 'application/sdp'), true);
    assert.equal(new TrunkCalls(trunk({ codecs: ['G729'] })).acceptsOffer(Buffer.from(SDP), 'application/sdp'), false);
    assert.equal(new TrunkCalls(trunk({ codecs: ['G729'] })).acceptsOffer(new Uint8Array(), undefined), true, 'no offer: the carrier offers');
  });

  it('counts calls against maxCalls; release is once per acquire', () => {
    const calls = new TrunkCalls(trunk({ maxCalls: 1 }));
    const a = calls.leg('1', { user: 'a' })!;
    const b = calls.leg('2', { user: 'a' })!;
    assert.equal(a.acquire(), true);
    assert.equal(b.acquire(), false);
    a.release();
    a.release();
    assert.equal(calls.active, 0);
    assert.equal(b.acquire(), true);
  });

  it('knows the carrier by an allowed CIDR, or by its own address and SIP port; maps DIDs (exact, pattern with $1)', () => {
    const calls = new TrunkCalls(trunk({ allow: ['203.0.113.0/24'], dids: [{ number: '+4930100', user: 'bob' }, { pattern: '\\+4930(2\\d\\d)', user: 'tv$1' }] }));
    assert.equal(calls.isFrom('203.0.113.99', 1), true);
    assert.equal(calls.isFrom('::ffff:203.0.113.99', 1), true);
    assert.equal(calls.isFrom('198.51.100.1', 5060), true);
    assert.equal(calls.isFrom('198.51.100.1', 5070), false);
    assert.equal(calls.isFrom('192.0.2.1', 5060), false);
    assert.equal(calls.userOfDid('+4930100'), 'bob');
    assert.equal(calls.userOfDid('+4930234'), 'tv234');
    assert.equal(calls.userOfDid('+4930999'), null);
  });
});
