// Property tests: round trip, and nothing but SipParseError whatever the bytes.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { parseMessage } from '../../../src/sip/parser.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';
import { nameAddrSyntaxError, parseNameAddr } from '../../../src/sip/headers.ts';

const dir = new URL('../../fixtures/rfc4475/', import.meta.url);
const samples = readdirSync(dir).filter((f) => f.endsWith('.dat')).map((f) => readFileSync(new URL(f, dir)));
const valid = samples.filter((b) => { try { parseMessage(b); return true; } catch { return false; } });

function onlySipParseError(data: Uint8Array): void {
  try {
    parseMessage(data);
  } catch (e) {
    assert.ok(e instanceof SipParseError, `threw ${String(e)}`);
  }
}

describe('parser properties', () => {
  it('parse(serialize(m)) equals m and serializing again gives the same bytes', () => {
    for (const b of valid) {
      const m = parseMessage(b);
      const once = serializeMessage(m);
      const again = parseMessage(once);
      assert.deepEqual(again.headers.map((h) => [h.key, h.value]), m.headers.map((h) => [h.key, h.value]));
      assert.deepEqual(Buffer.from(again.body), Buffer.from(m.body));
      assert.deepEqual(serializeMessage(again), once);
    }
  });

  it('mutated and truncated real messages raise nothing but SipParseError', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: valid.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.option(fc.nat()),
      (i, edits, cut) => {
        const b = Buffer.from(valid[i]);
        for (const [at, byte] of edits) b[at % b.length] = byte;
        onlySipParseError(cut === null ? b : b.subarray(0, cut % (b.length + 1)));
      }), { numRuns: 3000 });
  });

  it('the parser\'s allocation-free name-addr check agrees with parseNameAddr, reason and all', () => {
    const piece = fc.constantFrom('"', '\\', '<', '>', ';', '=', ',', '?', ':', ' ', '\t', '\u00a0', '\u2028', 'é', 'sip', 'tel',
      'alice', '@', 'tv.example.com', 'tag', 'x-y', '"A \\"B\\""', 'Alice TV', '<sip:bob@h>', ';tag=1', ';lr', ';q=0.5', '5060');
    const value = fc.oneof(fc.array(piece, { maxLength: 12 }).map((a) => a.join('')), fc.string({ maxLength: 40 }));
    fc.assert(fc.property(value, (v) => {
      let expected: string | null = null;
      try { parseNameAddr(v); } catch (e) { assert.ok(e instanceof SipParseError, String(e)); expected = e.detail; }
      assert.equal(nameAddrSyntaxError(v), expected, JSON.stringify(v));
      // read in place inside a header block, as the parser does: the same answer, nothing read beyond the value
      const block = `From: ${v}\r\nTo: <sip:x@h>;tag=">"\r\n`;
      assert.equal(nameAddrSyntaxError(block, 6, 6 + v.length), expected, JSON.stringify(v));
    }), { numRuns: 3000 });
    for (const v of ['"Alice TV" <sip:alice@tv.example.com>;tag=9f', '<sip:bob@h>', 'sip:carol@h;tag=a', 'Bob <sip:b@h>;x="q;\\"r"'])
      assert.equal(nameAddrSyntaxError(v), null, v);
    for (const v of ['', '<sip:a@h', '"unterminated <sip:a@h>', 'sip:a@h?x', '<nocolon>', '<sip:a@h>;', '<sip:a@h>;p=', '<sip:a@h> x'])
      assert.notEqual(nameAddrSyntaxError(v), null, v);
  });

  it('random bytes raise nothing but SipParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlySipParseError(b)), { numRuns: 2000 });
  });

  it('keeps a UTF-8 display name and a binary body intact', () => {
    const body = Buffer.from([0, 255, 13, 10, 13, 10, 128]);
    const head = 'MESSAGE sip:tv@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "Zoë 电视" <sip:a@example.com>;tag=1\r\nTo: <sip:tv@example.com>\r\nCall-ID: u\r\nCSeq: 1 MESSAGE\r\nContent-Type: application/octet-stream\r\nContent-Length: 7\r\n\r\n';
    const m = parseMessage(Buffer.concat([Buffer.from(head, 'utf8'), body]));
    assert.equal(m.header('from'), '"Zoë 电视" <sip:a@example.com>;tag=1');
    assert.deepEqual(Buffer.from(m.body), body);
    assert.deepEqual(serializeMessage(m), Buffer.concat([Buffer.from(head, 'utf8'), body]));
  });
});
