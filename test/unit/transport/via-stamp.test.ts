import assert from 'node:assert/strict';
import { SipRequest, headerKey } from '../../../src/sip/message.ts';
import { stampTopVia } from '../../../src/transport/via-stamp.ts';

function req(...vias: string[]): SipRequest {
  return new SipRequest('OPTIONS', 'sip:a@b', [
    ...vias.map((v) => ({ name: 'Via', key: headerKey('Via'), value: v })),
    { name: 'Call-ID', key: 'call-id', value: 'x' },
  ]);
}

describe('transport/via-stamp', () => {
  it('adds received when the sent-by host differs from the source address (RFC 3261 §18.2.1)', () => {
    const r = req('SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776');
    assert.equal(stampTopVia(r, '192.0.2.4', 5060), true);
    assert.equal(r.header('via'), 'SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776;received=192.0.2.4');
  });

  it('leaves the Via alone when sent-by equals the source address and there is no rport', () => {
    const r = req('SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776');
    stampTopVia(r, '192.0.2.4', 5060);
    assert.equal(r.header('via'), 'SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776');
  });

  it('fills a value-less rport with the source port and adds received even when equal (RFC 3581 §4)', () => {
    const r = req('SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff');
    stampTopVia(r, '10.1.1.1', 9988);
    assert.equal(r.header('via'), 'SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKkjshdyff;received=10.1.1.1;rport=9988');
  });

  it('stamps only the first value of a comma-joined Via line', () => {
    const r = req('SIP/2.0/UDP a.example;rport;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2');
    stampTopVia(r, '192.0.2.9', 7000);
    assert.equal(r.header('via'), 'SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.9;rport=7000, SIP/2.0/UDP b.example;branch=z9hG4bK2');
    assert.equal(r.headerValues('via').length, 2);
  });

  it('compares an IPv6 sent-by without brackets', () => {
    const r = req('SIP/2.0/TCP [::1]:5060;branch=z9hG4bK1');
    stampTopVia(r, '::1', 40000);
    assert.equal(r.header('via'), 'SIP/2.0/TCP [::1]:5060;branch=z9hG4bK1');
  });

  it('replaces a received the client put there itself', () => {
    const r = req('SIP/2.0/UDP h;received=1.2.3.4;branch=z9hG4bK1');
    stampTopVia(r, '5.6.7.8', 1);
    assert.equal(r.header('via'), 'SIP/2.0/UDP h;branch=z9hG4bK1;received=5.6.7.8');
  });

  it('tolerates whitespace in the sent-protocol', () => {
    const r = req('SIP / 2.0 / UDP   host.example ; rport ; branch=z9hG4bK1');
    stampTopVia(r, '5.6.7.8', 99);
    assert.equal(r.header('via'), 'SIP / 2.0 / UDP   host.example;branch=z9hG4bK1;received=5.6.7.8;rport=99');
  });

  it('reports a request without a readable Via', () => {
    assert.equal(stampTopVia(req(), '1.2.3.4', 1), false);
    assert.equal(stampTopVia(req('garbage'), '1.2.3.4', 1), false);
  });
});
