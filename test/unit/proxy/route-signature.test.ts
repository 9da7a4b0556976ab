// Only dialogs we record-routed are relayed in dialog: our Record-Route is signed (HMAC of Call-ID + caller's tag).
import assert from 'node:assert/strict';
import { RouteSigner } from '../../../src/proxy/route-signature.ts';
import { Proxy } from '../../../src/proxy/proxy.ts';
import { CALLER, fromCaller, invite, isLocal, only, parse, setup, type Harness } from './helpers.ts';

const KEY = new Uint8Array(32).fill(7);

describe('proxy: signed Record-Route (no open relay through in-dialog routing)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
    // the same harness, with a proxy that signs
    h.proxy = new Proxy({ transactions: h.layer, replies: { retryAfterSeconds: 5 }, isLocal, routeSigner: new RouteSigner(KEY) });
  });
  afterEach(() => h.layer.close());

  const inDialog = (route: string, o: { callId?: string; fromTag?: string; toTag?: string } = {}) => parse([
    'BYE sip:bob@10.0.0.5:5070 SIP/2.0', `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bKx1;rport`,
    `From: "Alice" <sip:alice@example.com>;tag=${o.fromTag ?? 'alicetag'}`, `To: <sip:bob@example.com>;tag=${o.toTag ?? 'bobtag'}`,
    `Route: ${route}`, 'Max-Forwards: 70', `Call-ID: ${o.callId ?? 'call-1@192.0.2.1'}`, 'CSeq: 2 BYE', 'Content-Length: 0', '', ''].join('\r\n'));

  it('signs the Record-Route it adds with the dialog, and follows a Route that carries it, from either side', () => {
    fromCaller(h, invite());
    const fwd = only(h.sentTo('192.0.2.10', 'INVITE'));
    const rr = fwd.header('record-route') ?? '';
    assert.match(rr, /^<sip:127\.0\.0\.1:5060;transport=udp;lr;tvs=[A-Za-z0-9_-]{22}>$/);
    assert.equal(h.proxy.preprocessRoute(inDialog(rr)).routedByUs, true, 'the caller\'s BYE');
    // the callee's BYE: its From tag is the callee's, the caller's tag is in To
    assert.equal(h.proxy.preprocessRoute(inDialog(rr, { fromTag: 'bobtag', toTag: 'alicetag' })).routedByUs, true);
  });

  it('does not take a hand-made Route naming us, nor our signature for another dialog, as routed by us', () => {
    fromCaller(h, invite());
    const rr = only(h.sentTo('192.0.2.10', 'INVITE')).header('record-route') ?? '';
    assert.equal(h.proxy.preprocessRoute(inDialog('<sip:127.0.0.1:5060;lr>')).routedByUs, false);
    assert.equal(h.proxy.preprocessRoute(inDialog(rr, { callId: 'another@192.0.2.66' })).routedByUs, false);
    assert.equal(h.proxy.preprocessRoute(inDialog(rr, { fromTag: 'x', toTag: 'y' })).routedByUs, false);
    assert.equal(h.proxy.preprocessRoute(inDialog(rr.replace(/tvs=.../, 'tvs=AAA'))).routedByUs, false);
  });

  it('signs differently under another key (a key is needed: at least 16 bytes)', () => {
    const a = new RouteSigner(KEY).sign('c', 't');
    const b = new RouteSigner(new Uint8Array(32).fill(8)).sign('c', 't');
    assert.notEqual(a, b);
    assert.throws(() => new RouteSigner(new Uint8Array(8)), RangeError);
  });
});
