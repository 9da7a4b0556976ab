// Property tests: round trip, and nothing but SipParseError whatever the bytes.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { parseMessage } from '../../../src/sip/parser.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import { SipParseError } from '../../../src/sip/parse-error.ts';

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
