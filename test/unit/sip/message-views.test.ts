import assert from 'node:assert/strict';
import { SipRequest } from '../../../src/sip/message.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { createResponse } from '../../../src/sip/response.ts';

function invite(): SipRequest {
  return parseMessage(Buffer.from(
    'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP a.example.com:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP b.example.com;branch=z9hG4bK0\r\n' +
    'Max-Forwards: 70\r\n' +
    'From: "Alice" <sip:alice@example.com>;tag=ft1\r\n' +
    'To: <sip:bob@example.com>\r\n' +
    'Call-ID: c1@example.com\r\n' +
    'CSeq: 7 INVITE\r\n' +
    'Content-Length: 0\r\n\r\n',
  )) as SipRequest;
}

describe('sip/message: cached views of the top Via, From, To and CSeq', () => {
  it('reads the top Via (the first value of the first Via line), From/To tags and CSeq', () => {
    const m = invite();
    assert.equal(m.topVia().host, 'a.example.com');
    assert.equal(m.topVia().branch, 'z9hG4bK1');
    assert.equal(m.fromTag, 'ft1');
    assert.equal(m.toTag, null);
    assert.equal(m.from().displayName, 'Alice');
    assert.equal(m.to().uri, 'sip:bob@example.com');
    assert.deepEqual(m.cseq(), { seq: 7, method: 'INVITE' });
  });

  it('parses each view once: a second read returns the same object', () => {
    const m = invite();
    assert.equal(m.topVia(), m.topVia());
    assert.equal(m.from(), m.from());
    assert.equal(m.cseq(), m.cseq());
  });

  it('is never stale after prependHeader, removeFirstValue, setHeader, addHeader or removeHeader', () => {
    const m = invite();
    assert.equal(m.topVia().branch, 'z9hG4bK1');
    m.prependHeader('Via', 'SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp');
    assert.equal(m.topVia().branch, 'z9hG4bKp');
    m.removeFirstValue('via');
    assert.equal(m.topVia().branch, 'z9hG4bK1');
    m.removeFirstValue('via');
    assert.equal(m.topVia().branch, 'z9hG4bK0');
    m.setHeader('Via', 'SIP/2.0/TLS c.example.com;branch=z9hG4bKc');
    assert.equal(m.topVia().transport, 'TLS');
    m.removeHeader('via');
    assert.throws(() => m.topVia(), SipParseError);
    m.addHeader('v', 'SIP/2.0/UDP d.example.com;branch=z9hG4bKd');
    assert.equal(m.topVia().host, 'd.example.com');

    assert.equal(m.toTag, null);
    m.setHeader('To', '<sip:bob@example.com>;tag=tt9');
    assert.equal(m.toTag, 'tt9');
    m.removeHeader('t');
    assert.equal(m.toTag, null);
    m.addHeader('To', '<sip:carol@example.com>;tag=tt1');
    assert.equal(m.toTag, 'tt1');

    assert.equal(m.fromTag, 'ft1');
    m.setHeader('f', '<sip:alice@example.com>;tag=ft2');
    assert.equal(m.fromTag, 'ft2');

    assert.equal(m.cseq().seq, 7);
    m.setHeader('CSeq', '8 INVITE');
    assert.equal(m.cseq().seq, 8);
  });

  it('is never stale when the headers are replaced as a whole or a field is replaced by replaceTopVia', () => {
    const m = invite();
    assert.equal(m.topVia().host, 'a.example.com');
    assert.equal(m.replaceTopVia('SIP/2.0/UDP a.example.com:5060;branch=z9hG4bK1;received=192.0.2.1'), true);
    assert.equal(m.topVia().received, '192.0.2.1');
    assert.equal(m.headerValues('via').length, 2, 'the second value of the line is kept');
    m.headers = m.headers.filter((h) => h.key !== 'via');
    assert.throws(() => m.topVia(), { reason: 'Missing Via header' });
    assert.equal(m.replaceTopVia('SIP/2.0/UDP x'), false);
  });

  it('keeps a malformed header an error of its view, and tags of an unreadable From/To null', () => {
    const m = new SipRequest('OPTIONS', 'sip:a@b', [
      { name: 'Via', key: 'via', value: 'garbage' },
      { name: 'From', key: 'from', value: '<sip:a@b;tag=1' },
      { name: 'CSeq', key: 'cseq', value: 'x OPTIONS' },
    ]);
    assert.throws(() => m.topVia(), { reason: 'Bad Via header' });
    assert.throws(() => m.topVia(), { reason: 'Bad Via header' }, 'a cached error is thrown again');
    assert.throws(() => m.from(), { reason: 'Bad From header' });
    assert.equal(m.fromTag, null);
    assert.equal(m.toTag, null);
    assert.throws(() => m.to(), SipParseError);
    assert.throws(() => m.cseq(), { reason: 'Bad CSeq header' });
  });

  it('gives a response its own views (createResponse with a To tag)', () => {
    const m = invite();
    assert.equal(m.toTag, null);
    const res = createResponse(m, 200, undefined, 'new1');
    assert.equal(res.toTag, 'new1');
    assert.equal(res.topVia().branch, 'z9hG4bK1');
    assert.equal(m.toTag, null);
  });
});
