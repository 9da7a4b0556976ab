// URI parsing and RFC 3261 §19.1.4 comparison.
import { strict as assert } from 'node:assert';
import { formatUri, parseUri, parseSipUri, uriEquals } from '../../../src/sip/uri.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';

describe('URIs (RFC 3261 §19.1)', () => {
  it('parses user, password, host, port, params and headers', () => {
    const u = parseSipUri('sips:alice:secretword@Atlanta.COM:5061;transport=TCP;lr?subject=project%20x&priority=urgent');
    assert.deepEqual([u.scheme, u.user, u.password, u.host, u.port], ['sips', 'alice', 'secretword', 'atlanta.com', 5061]);
    assert.equal(u.params.get('transport'), 'TCP');
    assert.equal(u.params.get('lr'), null);
    assert.equal(u.headers.get('priority'), 'urgent');
    assert.equal(formatUri(u), 'sips:alice:secretword@atlanta.com:5061;transport=TCP;lr?subject=project%20x&priority=urgent');
  });
  it('keeps IPv6 references in brackets and reads tel: URIs', () => {
    const u = parseSipUri('sip:bob@[2001:DB8::9:1]:5070');
    assert.equal(u.host, '[2001:db8::9:1]');
    assert.equal(u.port, 5070);
    const t = parseUri('tel:+1-201-555-0123;phone-context=example.com');
    assert.equal(t.scheme, 'tel');
  });
  it('rejects bad URIs with SipParseError (416 for unknown schemes)', () => {
    for (const bad of ['sip:', 'sip:alice@', 'sip:a b@c', 'sip:host:99999', 'nouri']) assert.throws(() => parseUri(bad), SipParseError, bad);
    assert.throws(() => parseUri('http://x'), (e) => e instanceof SipParseError && e.status === 416);
  });

  // RFC 3261 §19.1.4, the lists of equivalent and non-equivalent URIs
  const equal = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
  ];
  const notEqual = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'],
  ];
  for (const [a, b] of equal) it(`${a} equals ${b}`, () => { assert.ok(uriEquals(a, b)); assert.ok(uriEquals(b, a)); });
  for (const [a, b] of notEqual) it(`${a} differs from ${b}`, () => { assert.ok(!uriEquals(a, b)); assert.ok(!uriEquals(b, a)); });
});

describe('URIs: read-only, and without parameters they allocate no maps (issue 17)', () => {
  it('shares one empty map among URIs without parameters or headers; a URI with them has its own', () => {
    const a = parseSipUri('sip:tv1@tv.example.com');
    const b = parseSipUri('sip:tv2@tv.example.com:5070');
    assert.equal(a.params, b.params);
    assert.equal(a.headers, b.params);
    assert.equal(a.params.size, 0);
    const c = parseSipUri('sip:tv3@tv.example.com;transport=tcp?subject=x');
    assert.notEqual(c.params, a.params);
    assert.deepEqual([...c.params], [['transport', 'tcp']]);
    assert.deepEqual([...c.headers], [['subject', 'x']]);
    assert.equal(a.params.size, 0, 'the shared map is still empty');
    assert.equal(parseUri('tel:+4930123').params, a.params);
  });
});
