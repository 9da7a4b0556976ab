// RFC 4475 torture messages (fixtures written by test/fixtures/rfc4475/generate.ts).
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parseMessage } from '../../../src/sip/parser.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';
import { parseCSeq, parseContacts, parseNameAddr, parseVia, maxForwards, topVia, parseContentType, expiresOf } from '../../../src/sip/headers.ts';
import { parseSipUri, uriEquals } from '../../../src/sip/uri.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import type { SipRequest } from '../../../src/sip/message.ts';

const load = (name: string) => readFileSync(new URL(`../../fixtures/rfc4475/${name}.dat`, import.meta.url));
const req = (name: string) => parseMessage(load(name)) as SipRequest;
function rejects(name: string, reason: RegExp, answerable: boolean): SipParseError {
  try {
    parseMessage(load(name));
  } catch (e) {
    assert.ok(e instanceof SipParseError, `${name}: ${String(e)}`);
    assert.match(e.message, reason);
    assert.equal(e.request !== undefined, answerable, `${name}: request attached`);
    return e;
  }
  assert.fail(`${name} was accepted`);
}

describe('RFC 4475 §3.1.1 valid messages', () => {
  it('§3.1.1.1 wsinv: folding, escaped quotes, compact forms, LWS everywhere, leading zeros', () => {
    const m = req('wsinv');
    assert.equal(m.method, 'INVITE');
    assert.equal(m.uri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
    assert.equal(parseSipUri(m.uri).params.get('unknownparam'), null);
    const to = parseNameAddr(m.header('to')!);
    assert.equal(to.uri, 'sip:vivekg@chair-dnrc.example.com');
    assert.equal(to.params.get('tag'), '1918181833n');
    const from = parseNameAddr(m.header('from')!);
    assert.equal(from.displayName, 'J Rosenberg \\"');
    assert.equal(from.params.get('tag'), '98asjd8');
    assert.equal(maxForwards(m), 68);
    assert.equal(m.callId, 'wsinv.ndaksdj@192.0.2.1');
    assert.deepEqual(parseCSeq(m.header('cseq')!), { seq: 9, method: 'INVITE' });
    const vias = m.headerValues('via').map(parseVia);
    assert.deepEqual(vias.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'], ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239']]);
    assert.equal(m.header('subject'), '');
    assert.equal(m.header('NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(m.header('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    assert.equal(parseContentType(m.header('content-type')!).mediaType, 'application/sdp');
    assert.equal(parseNameAddr(m.header('route')!).uri, 'sip:services.example.com;lr;unknownwith=value;unknown-no-value');
    const contacts = parseContacts(m);
    assert.notEqual(contacts, '*');
    const c = (contacts as Exclude<typeof contacts, '*'>)[0];
    assert.equal(c.displayName, 'Quoted string ""');
    assert.equal(c.params.get('newparam'), 'newvalue');
    assert.equal(c.params.get('secondparam'), null);
    assert.equal(c.params.get('q'), '0.33');
    assert.equal(m.body.length, 150);
    // a proxy forwarding it untouched sends the same bytes
    assert.deepEqual(serializeMessage(m), load('wsinv'));
  });

  it('§3.1.1.3 esc01: %HEX escapes in userparts and URI parameters are kept as written', () => {
    const m = req('esc01');
    const ru = parseSipUri(m.uri);
    assert.equal(ru.user, 'sips%3Auser%40example.com');
    assert.equal(ru.host, 'example.net');
    assert.ok(uriEquals(parseNameAddr(m.header('to')!).uri, 'sip:user@example.com'));
    assert.equal(parseSipUri(parseNameAddr(m.header('from')!).uri).user, 'I%20have%20spaces');
    assert.equal(m.callId, 'esc01.239409asdfakjkn23onasd0-3234');
    assert.equal(m.header('content-type'), 'application/sdp');
    const cu = parseSipUri(parseNameAddr(m.header('contact')!).uri);
    assert.equal(cu.params.get('%6c%72'), null);
    assert.equal(cu.params.get('n%61me'), 'v%61lue%25%34%31');
  });

  it('§3.1.1.4 escnull: %00 in userparts; two distinct contacts', () => {
    const m = req('escnull');
    assert.equal(parseSipUri(parseNameAddr(m.header('to')!).uri).user, 'null-%00-null');
    const contacts = parseContacts(m) as { uri: string }[];
    assert.deepEqual(contacts.map((c) => parseSipUri(c.uri).user), ['%00', '%00%00']);
    assert.equal(m.header('content-length'), '0');
  });

  it('§3.1.1.5 esc02: % is no escape in method, display name, header name', () => {
    const m = req('esc02');
    assert.equal(m.method, 'RE%47IST%45R');
    assert.equal(parseNameAddr(m.header('to')!).displayName, '%Z%45');
    assert.equal(topVia(m).branch, 'z9hG4bK209%fzsnel234');
    assert.equal((parseContacts(m) as unknown[]).length, 2);
    assert.equal(m.header('C%6Fntact'), '<sip:alias2@host2.example.com>');
  });

  it('§3.1.1.6 lwsdisp: no LWS between display name and < is accepted', () => {
    const m = req('lwsdisp');
    const from = parseNameAddr(m.header('from')!);
    assert.equal(from.displayName, 'caller');
    assert.equal(from.params.get('tag'), '323');
  });
});

describe('RFC 4475 §3.1.2 invalid messages', () => {
  it('§3.1.2.1 badinv01: empty Via parameters and elements are rejected (Via unreadable: no 400 possible)', () => {
    rejects('badinv01', /Bad Via header/, false);
  });
  it('§3.1.2.2 clerr: Content-Length larger than the message is rejected, answerable with 400', () => {
    rejects('clerr', /Content-Length/, true);
  });
  it('§3.1.2.3 ncl: a negative Content-Length is rejected', () => {
    rejects('ncl', /Bad Content-Length header/, true);
  });
  it('§3.1.2.4 scalar02: CSeq beyond 2**32-1 is rejected with 400', () => {
    rejects('scalar02', /Bad CSeq header/, true);
  });
  it('§3.1.2.5 scalarlg: a response with an overlarge CSeq is rejected (to be discarded)', () => {
    rejects('scalarlg', /Bad CSeq header/, false);
  });
  it('§3.1.2.6 quotbal: an unterminated quoted string in To is rejected with 400', () => {
    const e = rejects('quotbal', /Bad To header/, true);
    assert.equal(e.reason, 'Bad To header');
  });
  it('§3.1.2.7 ltgtruri: a Request-URI in <> is rejected', () => {
    rejects('ltgtruri', /Bad Request-URI/, false);
  });
  it('§3.1.2.8 lwsruri: LWS inside the Request-URI is rejected', () => {
    rejects('lwsruri', /Bad Request-Line/, false);
  });
  it('§3.1.2.9 lwsstart: several SP between Request-Line elements are rejected', () => {
    rejects('lwsstart', /Bad Request-Line/, false);
  });
  it('§3.1.2.10 trws: trailing SP on the Request-Line is rejected (the RFC allows either; we are strict)', () => {
    rejects('trws', /Bad Request-Line/, false);
  });
  it('§3.1.2.11 escruri: accepted (the RFC allows ignoring escaped headers); the URI shows them', () => {
    // tolerant: a proxy may ignore the headers of a Request-URI; routing decides what to do with them
    const m = req('escruri');
    assert.equal(parseSipUri(m.uri).headers.get('Route'), '%3Csip:example.com%3E');
  });
  it('§3.1.2.12 baddate: accepted (the RFC lets an element ignore a bad Date)', () => {
    // tolerant: Date is not interpreted by tvphone
    assert.equal(req('baddate').header('date'), 'Fri, 01 Jan 2010 16:00:00 EST');
  });
  it('§3.1.2.13 regbadct: framing accepted; the Contact without <> is rejected when read', () => {
    // tolerant at the parser (the registrar reads Contact and answers 400 with the reason)
    assert.throws(() => parseContacts(req('regbadct')), (e) => e instanceof SipParseError && /Bad Contact header/.test(e.message));
  });
  it('§3.1.2.14 badaspec: accepted (tolerant: spaces inside <> are trimmed)', () => {
    // the RFC: an element may accept it; the URI inside the brackets reads cleanly
    assert.equal(parseNameAddr(req('badaspec').header('to')!).uri, 'sip:t.watson@example.org');
  });
  it('§3.1.2.15 baddn: framing accepted; a display name with "," is rejected when read', () => {
    // the unquoted comma also splits the field into two values, which proves it malformed
    assert.throws(() => parseNameAddr(req('baddn').header('from')!), SipParseError);
  });
  it('§3.1.2.16 badvers: SIP/7.0 is rejected with 505', () => {
    assert.equal(rejects('badvers', /Version Not Supported/, false).status, 505);
  });
  it('§3.1.2.17 mismatch01: CSeq method differing from the request method is rejected with 400', () => {
    rejects('mismatch01', /does not match/, true);
  });
  it('§3.1.2.18 mismatch02: same for an unknown method', () => {
    rejects('mismatch02', /does not match/, true);
  });
  it('§3.1.2.19 bigcode: a status code of more than 3 digits is rejected', () => {
    rejects('bigcode', /Bad Status-Code/, false);
  });
});

describe('expiry of overlarge scalars', () => {
  it('treats an overlarge Expires as malformed (3600, RFC 3261 §20.19) and Max-Forwards 300 as absent', () => {
    const text = load('scalar02').toString('latin1').replace('36893488147419103232', '1');
    const m = parseMessage(Buffer.from(text, 'latin1'));
    assert.equal(expiresOf(m), 3600);
    assert.equal(maxForwards(m), null);
  });
});
