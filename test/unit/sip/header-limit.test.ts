import assert from 'node:assert/strict';
import { MAX_HEADER_FIELDS, parseMessage } from '../../../src/sip/parser.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';

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
