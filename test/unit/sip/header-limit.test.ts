import assert from 'node:assert/strict';
import { MAX_HEADER_FIELDS, parseMessage } from '../../../src/sip/parser.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';
import { EMPTY } from '../../../src/sip/message.ts';

function options(extra: number): Buffer {
  const lines = ['OPTIONS sip:127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-lim', 'Max-Forwards: 70', 'From: <sip:a@127.0.0.1>;tag=1',
    'To: <sip:127.0.0.1>', 'Call-ID: lim@127.0.0.1', 'CSeq: 1 OPTIONS', 'Content-Length: 0'];
  for (let i = 0; i < extra; i++) lines.push(`X-Filler-${i}: v`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

describe('sip/parser: the number of header fields is bounded', () => {
  it(`parses a message of ${MAX_HEADER_FIELDS} header fields`, () => {
    assert.equal(parseMessage(options(MAX_HEADER_FIELDS - 7)).headers.length, MAX_HEADER_FIELDS);
  });

  it('refuses one more with a 400 that can be answered (its top Via was read), without reading the rest', () => {
    for (const extra of [MAX_HEADER_FIELDS - 6, 10_000]) {
      assert.throws(() => parseMessage(options(extra)), (e: unknown) =>
        e instanceof SipParseError && e.status === 400 && e.reason === 'Too Many Header Fields' && e.request !== undefined);
    }
  });
});

describe('sip/parser: what a parsed message keeps of its datagram', () => {
  it('an empty body is the shared EMPTY, not a view of the datagram (a message held for Timer J keeps no datagram)', () => {
    const datagram = options(0);
    const m = parseMessage(datagram);
    assert.equal(m.body, EMPTY);
    assert.notEqual(m.body.buffer, datagram.buffer);
    const noLength = parseMessage(Buffer.from(datagram.toString('latin1').replace('Content-Length: 0\r\n', '')));
    assert.equal(noLength.body, EMPTY, 'no Content-Length and nothing after the head (RFC 3261 §18.3)');
  });
});
